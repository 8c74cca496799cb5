"""``gafkd status``: what would run, stage by stage, and why — as Snakemake itself decides.

The workflow is the only description of the job graph: this runs Snakemake's dry run (``snakemake -n``,
the public command line) and reads its jobs and reasons. It adds only what Snakemake cannot say,
computed by the same functions the rules use:

- for a job whose params changed, *which* settings changed: each result records the settings it was
  made under (``settings`` in metrics.json, windows.h5, the images' {representation}.h5, logits.h5), compared key by key with
  the settings the config implies now;
- the results a training job counts: the members of its pack (:mod:`gafkd.plan.packing`);
- member files that pack manifests list but that are gone: they are not Snakemake outputs (the
  manifest is), so Snakemake does not remake them on its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from ..config import dataset_settings
from ..grid import image_settings
from ..io import read_json
from ..plan.packing import STAGE_FILES

STAGES = ("synthesize", "window", "fold_windows", "images", "train_teacher", "teacher_logits", "distill",
          "collect_runs", "summarize_runs", "tables", "plots", "image_examples")
UPSTREAM_ONLY = "Input files updated by another job"  # Snakemake's reason when an input job runs


class StatusError(Exception):
    """Snakemake's dry run failed (its message says why)."""


@dataclass
class Job:
    """One job of Snakemake's dry run: its rule (the stage), wildcards, output and reason."""

    stage: str
    wildcards: dict
    output: str
    reason: str
    results: int = 1
    changed: list[str] = field(default_factory=list)  # settings that changed, where a result says

    @property
    def on_its_own_account(self) -> bool:
        """True when no job it reads from runs (else it follows from that job's cause)."""
        return UPSTREAM_ONLY not in self.reason


@dataclass
class Status:
    jobs: list[Job]
    dormant: list[str]  # missing member files listed by a pack manifest

    @property
    def up_to_date(self) -> bool:
        return not self.jobs

    @property
    def causes(self) -> list[str]:
        """Why anything runs: each job that runs on its own account, with its reason and changed settings."""
        lines = []
        for job in self.jobs:
            if job.on_its_own_account:
                what = " ".join(f"{k}={v}" for k, v in job.wildcards.items())
                lines.append(f"{job.stage}{' ' + what if what else ''}: {job.reason}")
                lines += [f"    {change}" for change in job.changed]
        return lines

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per stage with running jobs: (jobs, results they make)."""
        counts = {}
        for stage in (*STAGES, *dict.fromkeys(j.stage for j in self.jobs if j.stage not in STAGES)):
            running = [j for j in self.jobs if j.stage == stage]
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


def dry_run(config_paths, directory: Path, snakefile=None, profile=None) -> str:
    """Snakemake's dry run of the workflow in ``directory`` with these config files (its output)."""
    snakefile = Path(snakefile or Path(directory) / "Snakefile").resolve()
    if not snakefile.exists():
        raise StatusError(f"{snakefile}: no Snakefile here (run gafkd status in the workflow's folder, or "
                          "give --snakefile)")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(directory),
               "--workflow-profile", str(profile) if profile else "none", "-n",
               "--configfile", *[str(Path(p).resolve()) for p in config_paths]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise StatusError((run.stderr or run.stdout).strip()[-2000:])
    return run.stdout + run.stderr


def parse_jobs(text: str) -> list[Job]:
    """The jobs of a dry run's listing (``rule X:`` blocks), less the target rule ``all``."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text)[1:]:
        lines = block.splitlines()
        stage = re.match(r"(?:local)?rule (\w+):", lines[0])[1]
        fields = dict(line.strip().split(": ", 1) for line in lines[1:] if re.match(r"    \w+: ", line))
        if stage == "all":
            continue
        wildcards = dict(pair.split("=", 1) for pair in fields.get("wildcards", "").split(", ") if "=" in pair)
        jobs.append(Job(stage, wildcards, fields.get("output", ""), fields.get("reason", "")))
    return jobs


def check_results(study, config_paths, directory: Path, snakefile=None, profile=None) -> Status:
    """The :class:`Status` of the results in ``directory`` of ``study`` (:class:`gafkd.plan.study.Study`, the
    workflow's own plan of ``config_paths``): Snakemake's jobs, with what it cannot say."""
    directory = Path(directory)
    jobs = parse_jobs(dry_run(config_paths, directory, snakefile, profile))
    results = str(directory / study.results)
    packs = {key: pack for role in study.packs.values() for key, pack in role.items()}
    for job in jobs:
        pack = packs.get((job.wildcards.get("dataset"), job.wildcards.get("pack")))
        if pack is not None:
            job.results = pack.width
        if "Params have changed" in job.reason:
            job.changed = _changed_settings(job, study, directory, results, pack)
    return Status(jobs, _dormant(directory, results))


def _stored_settings(path: Path) -> dict | None:
    """The settings a result records (metrics.json or an HDF5 file's attribute)."""
    try:
        if path.suffix == ".json":
            return read_json(path).get("settings")
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("settings")
        return json.loads(value) if isinstance(value, str) else None
    except (OSError, ValueError, KeyError):
        return None


def _changed_settings(job: Job, study, directory: Path, results: str, pack) -> list[str]:
    """``key: stored → now`` for each setting that differs between a result and the config (first member)."""
    from ..provenance import settings_digest

    config = study.config
    dataset = job.wildcards.get("dataset")
    if job.stage == "window":
        pairs = [(Path(results, dataset, "windows.h5"), dataset_settings(config, dataset))]
    elif job.stage == "images":
        name = job.wildcards["representation"]
        pairs = [(Path(results, dataset, f"{name}.h5"), image_settings(config, dataset, name))]
    elif job.stage in ("train_teacher", "distill") and pack is not None:
        windows = settings_digest(dataset_settings(config, dataset))
        member = pack.members[0]
        metrics = directory / member.outputs["metrics"]
        stored = _stored_settings(metrics) or {}
        expected = member.settings(windows, study.training[dataset], stored.get("teacher_logits", ()))
        pairs = [(metrics, expected)]
    else:
        return []
    lines = []
    for path, expected in pairs:
        stored = _stored_settings(path)
        if stored is None:
            continue
        lines += [f"{path}: {key}: {old!r} → {new!r}" for key, old, new in _differences(stored, expected)]
    return lines


def _differences(stored, expected, prefix: str = ""):
    """(dotted key, stored, expected) for every leaf that differs."""
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in sorted(set(stored) | set(expected)):
            yield from _differences(stored.get(key), expected.get(key), f"{prefix}{key}.")
    elif json.dumps(stored, sort_keys=True, default=str) != json.dumps(expected, sort_keys=True, default=str):
        yield prefix.rstrip("."), stored, expected


def _dormant(directory: Path, results: str) -> list[str]:
    """Member files a pack manifest lists that are gone (Snakemake sees only the manifest)."""
    lines = []
    for stage, name in STAGE_FILES.items():
        for manifest in sorted(Path(results).glob(f"*/packs/*/{name}")):
            try:
                listed = read_json(manifest)
            except Exception:  # noqa: BLE001 — an unreadable manifest is Snakemake's to rerun
                continue
            paths = ([m["metrics"] for m in listed.get("members", [])] if stage != "teacher_logits"
                     else list(listed.get("teacher_test_acc", {})))
            lines += [f"missing  {p} (listed by {manifest})" for p in paths if not (directory / p).exists()]
    return lines
