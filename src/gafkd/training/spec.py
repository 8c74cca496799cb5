"""What a training run is (:class:`RunSpec`), which settings make up its identity, and packs of runs.

A run's identity is the settings digest in its ``metrics.json``: everything that shapes its numbers (data,
model, seed, loss, the training settings'
:meth:`~gafkd.training.settings.TrainingSettings.identity`) and nothing that only shapes how fast it runs. A :class:`Pack` is a list of runs of one dataset, modality and architecture
(and so one schedule) that train together as one fused model (:mod:`gafkd.models.fused`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..kinds import TEACHER
from ..names import Experiment
from ..provenance import settings_digest
from .settings import TrainingSettings


@dataclass(frozen=True)
class RunSpec:
    """One run: a teacher (``experiment`` None) or a student of ``experiment``, and its three output files."""

    dataset: str
    modality: str
    arch: str
    seed: int
    outputs: dict = field(hash=False, compare=False)  # metrics, history, weights
    experiment: Experiment | None = None
    teacher_logits: tuple[str, ...] = ()  # students: cached logits, one per teacher of the experiment
    temperature: float = 4.0
    # annealed students: (the student-alone run's weights.pt, which of its checkpoints) they start from
    init_from: tuple[str, str] | None = None
    # students whose losses need teacher features (SPKD, the projector): per teacher (its weights.pt, which
    # checkpoint, its images file or "" for signals), run live for what a cache cannot hold
    live_teachers: tuple[tuple[str, str, str], ...] = ()
    # students: the KD form's loss entry (students.kd_loss) and whether the variant's authors' recipe weighs the
    # loss (students.recipes); at their defaults left out of the identity, which predates them
    kd: str = "kd"
    authors_recipe: bool = False

    @property
    def is_teacher(self) -> bool:
        return self.experiment is None

    @property
    def run_dir(self) -> Path:
        return Path(self.outputs["metrics"]).parent

    @property
    def labels(self) -> dict:
        """The columns of runs.csv that say what this run is."""
        if self.is_teacher:
            return {"kind": TEACHER, "teachers": f"{self.modality}:{self.arch}", "student": "", "alpha": None,
                    "lam": None}
        e = self.experiment
        return {"kind": e.kind, "teachers": "+".join(e.teachers), "student": f"{self.modality}:{self.arch}",
                "alpha": e.alpha, "lam": e.lam}

    @property
    def stage(self) -> str:
        """The training stage this run belongs to (a per-stage precision picks by it)."""
        return "teachers" if self.is_teacher else "students"

    def settings(self, windows_digest: str, training: TrainingSettings, logits_digests=()) -> dict:
        """The settings whose digest is this run's identity (with its stage's precision)."""
        common = {"dataset": self.dataset, "windows_digest": windows_digest, "modality": self.modality,
                  "arch": self.arch, "seed": self.seed, "training": training.for_stage(self.stage).identity()}
        if self.is_teacher:
            return {"role": "teacher", **common}
        e = self.experiment
        return {"role": "student", **common, "experiment": e.spec, "teachers": list(e.teachers),
                "weights": list(e.weights), "lam": e.lam, "temperature": float(self.temperature),
                "teacher_logits": list(logits_digests),
                **({"init_weights": self.init_from[1]} if self.init_from else {}),
                **({"kd_loss": self.kd} if self.kd != "kd" else {}),
                **({"recipe": "authors"} if self.authors_recipe else {})}

    def to_dict(self) -> dict:
        """Plain data (Snakemake params, logs); :meth:`from_dict` reverses it."""
        return {"dataset": self.dataset, "modality": self.modality, "arch": self.arch, "seed": self.seed,
                "outputs": dict(self.outputs), "experiment": None if self.is_teacher else self.experiment.spec,
                "teacher_logits": list(self.teacher_logits), "temperature": self.temperature,
                # only when set: a random-start run's params stay what they were before annealing existed
                **({"init_from": list(self.init_from)} if self.init_from else {}),
                **({"live_teachers": [list(t) for t in self.live_teachers]} if self.live_teachers else {}),
                **({"kd": self.kd} if self.kd != "kd" else {}),
                **({"authors_recipe": True} if self.authors_recipe else {})}

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        experiment = None if d.get("experiment") is None else Experiment.parse(d["experiment"])
        init = d.get("init_from")
        return cls(d["dataset"], d["modality"], d["arch"], int(d["seed"]), dict(d["outputs"]), experiment,
                   tuple(str(p) for p in d.get("teacher_logits", ())), float(d.get("temperature", 4.0)),
                   (str(init[0]), str(init[1])) if init else None,
                   tuple(tuple(str(v) for v in t) for t in d.get("live_teachers", ())),
                   str(d.get("kd", "kd")), bool(d.get("authors_recipe", False)))


@dataclass(frozen=True)
class Pack:
    """Runs trained together; their checkpoint lives in ``folder``."""

    name: str
    members: tuple[RunSpec, ...]
    folder: str

    def __post_init__(self):
        if not self.members:
            raise ConfigError(f"pack {self.name}: no members")
        first = self.members[0]
        for member in self.members:
            if (member.dataset, member.modality, member.arch) != (first.dataset, first.modality, first.arch):
                raise ConfigError(f"pack {self.name}: {member.run_dir} is not a {first.modality}:{first.arch} run on "
                                  f"{first.dataset} like the pack's first member")
        dirs = [str(m.run_dir) for m in self.members]
        if len(set(dirs)) != len(dirs):
            raise ConfigError(f"pack {self.name}: a run folder appears twice")

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": self.folder, "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, d: dict) -> "Pack":
        return cls(d["name"], tuple(RunSpec.from_dict(m) for m in d["members"]), d["folder"])

    @property
    def width(self) -> int:
        return len(self.members)

    def record(self, member_digests) -> dict:
        """What metrics.json says about the pack: its name, width and a digest of its membership."""
        return {"name": self.name, "width": self.width, "members_digest": settings_digest(list(member_digests))}
