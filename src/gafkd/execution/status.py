"""``gafkd status``: what would run, stage by stage, and why — without touching anything.

Each result records the digest of the settings that produced it; this recomputes the digests the
current config implies and decides, job by job, what Snakemake would run:

- a job whose results were made under other settings runs (Snakemake: its params changed);
- a job runs when a job it reads from runs (its inputs will be new), and so on downstream;
- a job whose results are missing runs when they are a final result (tables, summary, plots) or
  when a job that reads them runs. Snakemake does not remake a deleted intermediate file (a
  teacher's logits, say) while everything made from it is current, and neither does this.

Jobs are counted as ``snakemake -n`` counts them: one per pack for training, logits and
distillation, one per dataset for the source, windows, GAF images and plots, one per table. Not
covered: Snakemake's modification-time trigger (a result edited by hand after its inputs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from ..config import dataset_settings, with_defaults
from ..provenance import settings_digest

STAGES = ("synthesize", "window", "gaf", "train_teacher", "teacher_logits", "distill", "collect_runs",
          "summarize_runs", "tables", "plots")


def _h5_digest(path: Path) -> str | None:
    try:
        with h5py.File(path, "r") as h5:
            return str(h5.attrs.get("settings_digest"))
    except (OSError, ValueError):
        return None


def _json_digest(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["settings_digest"]
    except (OSError, ValueError, KeyError):
        return None


@dataclass(eq=False)  # hashed by identity: one object per job
class Job:
    """One Snakemake job: its stage, how many results it makes, what it reads, and its results' state."""

    stage: str
    key: tuple
    results: int
    inputs: list["Job"] = field(default_factory=list)
    target: bool = False  # a final result (Snakemake's `all` asks for it)
    missing: list[str] = field(default_factory=list)  # cause lines
    stale: list[str] = field(default_factory=list)

    def expect(self, path: Path, expected: str | None, found: str | None) -> None:
        """Record ``path``'s state: missing (``found`` None) or stale (made under other settings)."""
        if found is None:
            self.missing.append(f"missing  {path}")
        elif expected is not None and found != expected:
            self.stale.append(f"stale    {path} (made under settings {found}, the config implies {expected})")


@dataclass
class Status:
    jobs: list[Job]
    runs: set[Job]

    @property
    def up_to_date(self) -> bool:
        return not self.runs

    @property
    def causes(self) -> list[str]:
        """Why anything runs: the state of each running job that runs on its own account (no input runs)."""
        lines = []
        for job in self.jobs:
            if job in self.runs and not any(i in self.runs for i in job.inputs):
                lines += job.stale + job.missing
        return lines

    @property
    def dormant(self) -> list[str]:
        """Missing files that nothing will remake: intermediate results whose every consumer is current."""
        return [line for job in self.jobs if job not in self.runs for line in job.missing]

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per stage with running jobs: (jobs, results they make)."""
        counts = {}
        for stage in STAGES:
            running = [j for j in self.runs if j.stage == stage]
            if running:
                counts[stage] = (len(running), sum(j.results for j in running))
        return counts

    def table(self) -> str:
        rows = [(stage, jobs, results) for stage, (jobs, results) in self.counts().items()]
        rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows)))
        width = max(len(r[0]) for r in rows)
        lines = [f"{'stage'.ljust(width)}  {'jobs':>5}  {'results':>7}"]
        lines += [f"{stage.ljust(width)}  {jobs:>5}  {results:>7}" for stage, jobs, results in rows]
        return "\n".join(lines)


def decide(jobs: list[Job]) -> set[Job]:
    """The jobs Snakemake would run (the least fixed point of the rules in the module docstring)."""
    consumers = {job: [] for job in jobs}
    for job in jobs:
        for source in job.inputs:
            consumers[source].append(job)
    runs: set[Job] = set()
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job in runs:
                continue
            if (job.stale or any(i in runs for i in job.inputs)
                    or (job.missing and (job.target or any(c in runs for c in consumers[job])))):
                runs.add(job)
                changed = True
    return runs


def check_results(config: dict, directory: Path) -> Status:
    """The :class:`Status` of the results in ``directory`` under ``config`` (with its datasets selected)."""
    config = with_defaults(config)
    results = str(directory / config["results"])
    jobs: list[Job] = []
    training: list[Job] = []
    data = {}
    for dataset in config["datasets"]:
        window, gaf = _data_jobs(jobs, config, results, dataset)
        teachers, logits = _teacher_jobs(jobs, config, results, dataset, window, gaf)
        training += teachers + _student_jobs(jobs, config, results, dataset, window, logits)
        data[dataset] = (window, gaf)
    _report_jobs(jobs, config, results, training, data)
    return Status(jobs, decide(jobs))


def _data_jobs(jobs: list[Job], config: dict, results: str, dataset: str) -> tuple[Job, Job]:
    windows = Path(results, dataset, "windows.h5")
    window = Job("window", (dataset,), 1)
    window.expect(windows, settings_digest(dataset_settings(config, dataset)), _h5_digest(windows))
    if config["datasets"][dataset]["source"]["format"] == "synthetic":
        # its params are the source and window settings, both in the windows' digest
        source = Job("synthesize", (dataset,), 1)
        folder = Path(results, dataset, "source")
        source.expect(folder, None, str(folder) if folder.is_dir() else None)
        source.stale = list(window.stale)
        window.inputs.append(source)
        jobs.append(source)
    gaf = Job("gaf", (dataset,), 1, [window])
    gaf.expect(Path(results, dataset, "gaf.h5"), settings_digest(config["gaf"]),
               _h5_digest(Path(results, dataset, "gaf.h5")))
    jobs += [window, gaf]
    return window, gaf


def _teacher_jobs(jobs, config, results, dataset, window: Job, gaf: Job) -> tuple[list[Job], dict]:
    """Each teacher pack's training and logits jobs: the training jobs, and by logits file its job and digest."""
    from .packing import teacher_packs

    windows_digest = settings_digest(dataset_settings(config, dataset))
    trains, logits = [], {}
    for pack in teacher_packs(config, results, dataset):
        data = [window, gaf] if pack.members[0].modality == "gaf" else [window]
        train = Job("train_teacher", (dataset, pack.name), len(pack.members), data)
        predict = Job("teacher_logits", (dataset, pack.name), len(pack.members), [*data, train])
        for member in pack.members:
            metrics = Path(member.outputs["metrics"])
            teacher_digest = settings_digest(member.settings(windows_digest, config["training"]))
            train.expect(metrics, teacher_digest, _json_digest(metrics))
            path = metrics.parent / "logits.h5"
            logits_digest = settings_digest({"teacher_digest": teacher_digest,
                                             "weights": config["training"]["teacher_weights"]})
            predict.expect(path, logits_digest, _h5_digest(path))
            logits[str(path)] = (predict, logits_digest)
        jobs += [train, predict]
        trains.append(train)
    return trains, logits


def _student_jobs(jobs, config, results, dataset, window: Job, logits: dict) -> list[Job]:
    from .packing import student_packs

    windows_digest = settings_digest(dataset_settings(config, dataset))
    distill_jobs = []
    for pack in student_packs(config, results, dataset):
        teachers = {logits[str(Path(p))][0] for m in pack.members for p in m.teacher_logits}
        distill = Job("distill", (dataset, pack.name), len(pack.members), [window, *teachers])
        for member in pack.members:
            expected = member.settings(windows_digest, config["training"],
                                       [logits[str(Path(p))][1] for p in member.teacher_logits])
            metrics = Path(member.outputs["metrics"])
            distill.expect(metrics, settings_digest(expected), _json_digest(metrics))
        distill_jobs.append(distill)
    jobs += distill_jobs
    return distill_jobs


def _report_jobs(jobs, config, results, training: list[Job], data: dict) -> None:
    """runs.csv from every run; summary.csv and tables.md from it; per dataset the plots."""
    def file_job(stage, name, inputs, target):
        job = Job(stage, (name,), 1, inputs, target)
        path = Path(results, name)
        job.expect(path, None, str(path) if path.exists() else None)
        jobs.append(job)
        return job

    collect = file_job("collect_runs", "runs.csv", training, False)
    summary = file_job("summarize_runs", "summary.csv", [collect], True)
    file_job("tables", "tables.md", [collect, summary], True)
    for dataset, (window, gaf) in data.items():
        plots = Job("plots", (dataset,), 1, [collect, window, gaf], target=True)
        folder = Path(results, "plots", dataset)
        plots.expect(folder, None, str(folder) if folder.is_dir() else None)
        jobs.append(plots)
