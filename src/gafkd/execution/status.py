"""``gafkd status``: is every result present and made under the current configuration?

Each result records the digest of the settings that produced it; this recomputes the digests the
current config implies and lists every missing or stale file. Snakemake reruns stale jobs by itself
(changed params are a rerun trigger); this answers the question without touching anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py

from ..config import dataset_settings, with_defaults
from ..grid import experiments, teacher_runs, teacher_seed
from ..provenance import settings_digest


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


def check_results(config: dict, directory: Path) -> list[str]:
    from ..training.spec import RunSpec
    from .packing import logits_path, student_dir, teacher_dir

    config = with_defaults(config)
    results = directory / config["results"]
    problems = []

    def check(path: Path, expected: str | None, found: str | None) -> bool:
        if found is None:
            problems.append(f"missing  {path}")
            return False
        if expected is not None and found != expected:
            problems.append(f"stale    {path} (made under settings {found}, the config implies {expected})")
            return False
        return True

    for dataset in config["datasets"]:
        windows = results / dataset / "windows.h5"
        windows_digest = settings_digest(dataset_settings(config, dataset))
        if not check(windows, windows_digest, _h5_digest(windows)):
            continue
        check(results / dataset / "gaf.h5", settings_digest(config["gaf"]), _h5_digest(results / dataset / "gaf.h5"))
        logits_digests = {}  # only for teachers that are up to date
        for modality, arch, seed in teacher_runs(config):
            folder = Path(teacher_dir(results, dataset, modality, arch, seed))
            expected = settings_digest(RunSpec(dataset, modality, arch, seed, {}).settings(windows_digest,
                                                                                           config["training"]))
            if check(folder / "metrics.json", expected, _json_digest(folder / "metrics.json")):
                logits = Path(logits_path(results, dataset, f"{modality}:{arch}", seed))
                expected_logits = settings_digest({"teacher_digest": expected,
                                                   "weights": config["training"]["teacher_weights"]})
                if check(logits, expected_logits, _h5_digest(logits)):
                    logits_digests[f"{modality}:{arch}", seed] = expected_logits
        for experiment in experiments(config):
            for seed in config["students"]["seeds"]:
                metrics = Path(student_dir(results, dataset, config["students"]["arch"], experiment.spec, seed),
                               "metrics.json")
                found = _json_digest(metrics)
                keys = [(t, teacher_seed(config, seed)) for t in experiment.teachers]
                if found is not None and any(k not in logits_digests for k in keys):
                    problems.append(f"stale    {metrics} (a teacher it learnt from is missing or out of date)")
                    continue
                student = RunSpec(dataset, "sig", config["students"]["arch"], seed, {}, experiment,
                                  temperature=config["students"]["temperature"])
                expected = settings_digest(student.settings(windows_digest, config["training"],
                                                            [logits_digests[k] for k in keys]))
                check(metrics, expected, found)
    return problems
