"""The study's grid: which teachers and students a config asks for, and their path-safe names.

Teachers are ``{modality}-{arch}`` (``gaf-wrn16-3``). A student's experiment is one spec string:

- ``ce`` — the student trained with cross-entropy only (the baseline);
- ``kd1_gaf-wrn16-3_lam0.7`` — one GAF teacher;
- ``kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7`` — GAF + signal teacher, alpha = GAF share;
- ``kdn_gaf-wrn16-3@0.2+sig-wrn16-3@0.3+sig-wrn28-1@0.5_lam0.7`` — K teachers with weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError

TEACHER = r"(?:gaf|sig)-wrn\d+-\d+"
NUMBER = r"\d+(?:\.\d+)?"
SPEC_PATTERN = (rf"ce|kd1_{TEACHER}_lam{NUMBER}|kd2_{TEACHER}\+{TEACHER}_alpha{NUMBER}_lam{NUMBER}"
                rf"|kdn_{TEACHER}@{NUMBER}(?:\+{TEACHER}@{NUMBER})*_lam{NUMBER}")


def fmt(x: float) -> str:
    return format(float(x), "g")


@dataclass(frozen=True)
class Experiment:
    """A student experiment: kind, teachers (``modality:arch``), their weights, alpha and lam."""

    kind: str  # student | kd1 | kd2 | kdn
    teachers: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    lam: float | None = None
    alpha: float | None = None

    @property
    def spec(self) -> str:
        names = [t.replace(":", "-") for t in self.teachers]
        if self.kind == "student":
            return "ce"
        if self.kind == "kd1":
            return f"kd1_{names[0]}_lam{fmt(self.lam)}"
        if self.kind == "kd2":
            return f"kd2_{names[0]}+{names[1]}_alpha{fmt(self.alpha)}_lam{fmt(self.lam)}"
        parts = "+".join(f"{n}@{fmt(w)}" for n, w in zip(names, self.weights))
        return f"kdn_{parts}_lam{fmt(self.lam)}"

    @classmethod
    def parse(cls, spec: str) -> "Experiment":
        if not re.fullmatch(SPEC_PATTERN, spec):
            raise ConfigError(f"{spec!r} is not a student experiment name (ce, kd1_…, kd2_…, kdn_…)")
        if spec == "ce":
            return cls("student")
        kind, body = spec.split("_", 1)
        lam = float(body.rsplit("_lam", 1)[1])
        body = body.rsplit("_lam", 1)[0]
        if kind == "kd1":
            return cls("kd1", (_teacher(body),), (1.0,), lam)
        if kind == "kd2":
            pair, alpha = body.split("_alpha")
            gaf, sig = pair.split("+")
            alpha = float(alpha)
            return cls("kd2", (_teacher(gaf), _teacher(sig)), (alpha, 1 - alpha), lam, alpha)
        teachers, weights = zip(*(part.split("@") for part in body.split("+")))
        return cls("kdn", tuple(_teacher(t) for t in teachers), tuple(float(w) for w in weights), lam)


def _teacher(name: str) -> str:
    modality, arch = name.split("-", 1)
    return f"{modality}:{arch}"


def teacher_runs(config: dict) -> list[tuple[str, str, int]]:
    """(modality, arch, seed) of every teacher."""
    t = config["teachers"]
    return [(m, a, s) for m in t["modalities"] for a in t["archs"] for s in t["seeds"]]


def experiments(config: dict) -> list[Experiment]:
    """Every student experiment of the grid, in the notes' order."""
    s = config["students"]
    grid = [Experiment("student")] if s.get("baseline", True) else []
    kd1 = s.get("kd1", {})
    grid += [Experiment("kd1", (f"gaf:{a}",), (1.0,), lam) for a in kd1.get("teacher_archs", [])
             for lam in kd1.get("lams", [])]
    kd2 = s.get("kd2", {})
    grid += [Experiment("kd2", (f"gaf:{g}", f"sig:{v}"), (alpha, 1 - alpha), kd2.get("lam", 0.7), alpha)
             for g, v in kd2.get("pairs", []) for alpha in kd2.get("alphas", [])]
    grid += [Experiment("kdn", tuple(k["teachers"]), tuple(k["weights"]), k.get("lam", 0.7))
             for k in s.get("kdn", [])]
    return grid


def teacher_seed(config: dict, student_seed: int) -> int:
    fixed = config["students"].get("teacher_seed", "same")
    return student_seed if fixed == "same" else int(fixed)
