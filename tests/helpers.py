"""What several test modules share: the workflow's command and the tiny configs it runs, the tiny dataset and its
runs, and a made-up runs.csv for the report tests. Fixtures over these live in conftest.py."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--workflow-profile", "none"]

TINY = {
    "results": "results",
    "datasets": {"tiny": {
        "source": {"format": "synthetic", "subjects": 4, "seconds_per_activity": 11, "seed": 3, "write_as": "mat"},
        "classes": "gene14", "window": 500, "split": {"method": "subject", "train": 0.5, "test": 0.5}}},
    "images": {"image_size": 16},
    "training": {"epochs": 2, "batch_size": 16, "lr_milestones": [1, 2, 2]},
    "teachers": {"modalities": ["gaf", "pi", "sig"], "archs": ["wrn16-1"], "seeds": [0, 1]},
    "students": {"seeds": [0, 1], "kd1": {"representations": ["gaf", "pi"], "teacher_archs": ["wrn16-1"], "lams": [0.7]},
                 "kd2": {"pairs": [["wrn16-1", "wrn16-1"]], "alphas": [0.3]},
                 "kdn": [{"teachers": ["gaf:wrn16-1", "sig:wrn16-1"], "weights": [0.5, 0.5], "lam": 0.5}]},
}

# TINY less the PI teacher and its students: for the tests about training and executors, not images
GAF_AND_SIGNAL = {**TINY, "teachers": {**TINY["teachers"], "modalities": ["gaf", "sig"]},
                  "students": {**TINY["students"], "kd1": {**TINY["students"]["kd1"], "representations": ["gaf"]}}}


def snakemake(workdir, *args, config=None):
    """The workflow in ``workdir`` (``config``: written there as cfg.yaml and given with --configfile)."""
    if config is not None:
        (Path(workdir) / "cfg.yaml").write_text(yaml.safe_dump(config))
        args = ("--configfile", str(Path(workdir) / "cfg.yaml"), *args)
    return subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True,
                          timeout=900)


# --- runs on the tiny dataset (conftest.tiny) -----------------------------------------------------------------

TRAINING = {"epochs": 3, "batch_size": 16, "lr": 0.05, "lr_steps": [0.01, 0.001, 0.0001],
            "lr_milestones": [1, 2, 3], "momentum": 0.9, "weight_decay": 1e-4, "deterministic": True,
            "device": "cpu"}


def make_tiny(root: Path) -> Path:
    """windows.h5 and gaf.h5 (16×16 GASF) of 4 synthetic subjects in ``root``."""
    from gafkd.data.build import build_windows
    from gafkd.data.synthetic import write_synthetic
    from gafkd.images.build import build_images

    source = write_synthetic(root / "source", subjects=4, seconds_per_activity=11, seed=2, write_as="parquet")
    settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                "stride": 500, "split": {"method": "subject", "train": 0.5, "test": 0.5, "seed": 0}}
    build_windows(source, settings, "tiny", root / "windows.h5")
    build_images(root / "windows.h5", root / "gaf.h5", {"image_size": 16, "method": "summation"})
    return root


def run_files(folder: Path) -> dict:
    """A run's three output files in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {k: str(folder / f) for k, f in (("metrics", "metrics.json"), ("history", "history.csv"),
                                            ("weights", "weights.pt"))}


def tiny_teacher(tiny, folder, modality="gaf", seed=0, training=TRAINING, arch="wrn16-1") -> dict:
    """A teacher trained on the tiny dataset: its run files."""
    from gafkd.training.runs import train_teacher

    out = run_files(folder)
    train_teacher(tiny / "windows.h5", tiny / "gaf.h5", out, dataset="tiny", modality=modality, arch=arch,
                  seed=seed, training=training)
    return out


def pack_member(tmp_path, name, seed, experiment=None, logits=(), modality="sig"):
    """A pack member of the tiny dataset: a teacher, or a student of ``experiment`` learning from ``logits``."""
    from gafkd.names import Experiment
    from gafkd.training.spec import RunSpec

    folder = tmp_path / name
    outputs = {k: str(folder / f) for k, f in (("metrics", "metrics.json"), ("history", "history.csv"),
                                                ("weights", "weights.pt"))}
    return RunSpec("tiny", modality, "wrn16-1", seed, outputs, experiment and Experiment.parse(experiment),
                   tuple(str(p) for p in logits))


# --- a made-up runs.csv for the report tests ---------------------------------------------------------------

def report_config() -> dict:
    """config.yaml with its defaults, GENEActiv datasets only (PAMAP2's folds are the fold tests')."""
    from gafkd.config import with_defaults

    config = with_defaults(yaml.safe_load((ROOT / "config.yaml").read_text()))
    config["datasets"] = {name: d for name, d in config["datasets"].items() if name.startswith("gene")}
    return config


CONFIG = report_config()


def fake_runs(config=CONFIG, datasets=("gene14_w500",), seed=0):
    """A runs.csv frame with one row per run of the grid and made-up accuracies."""
    from gafkd.grid import experiments, teacher_runs
    from gafkd.kinds import KINDS, TEACHER, weights_text

    rng = np.random.default_rng(seed)
    rows = []
    student = f"sig:{config['students']['arch']}"
    for dataset in datasets:
        for modality, arch, s in teacher_runs(config):
            rows.append(dict(dataset=dataset, kind=TEACHER, teachers=f"{modality}:{arch}", student="", alpha=np.nan,
                             lam=np.nan, seed=s, weights="", variant=""))
        for e in experiments(config):
            for s in config["students"]["seeds"]:
                rows.append(dict(dataset=dataset, kind=e.kind, teachers="+".join(e.teachers), student=student,
                                 alpha=np.nan if e.alpha is None else e.alpha,
                                 lam=np.nan if e.lam is None else e.lam, seed=s, variant=e.variant,
                                 weights=weights_text(e.weights) if KINDS[e.kind].weighted else ""))
    runs = pd.DataFrame(rows)
    runs["best_test_acc"] = np.round(rng.uniform(55, 75, len(runs)), 4)
    runs["final_test_acc"] = runs["best_test_acc"] - 1
    runs["code_version"], runs["device"] = "test", "cpu"
    runs["status"], runs["diverged_at"], runs["trained_as"] = "ok", "", ""
    runs["test_acc_at_best_val"] = np.nan  # no validation split (as the group's protocol)
    runs["run_dir"] = [f"results/run{i}" for i in range(len(runs))]
    return runs


def main_table_rows(text, dataset="gene14_w500"):
    section = text.split(f"## {dataset}")[1].split("###")[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "Experiment" not in line]
