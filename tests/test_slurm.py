"""The pipeline through a real SLURM (CI starts one with tests/slurm/cluster.sh; skipped elsewhere)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from test_workflow import ROOT, TINY

pytestmark = pytest.mark.skipif(not os.environ.get("GAFKD_SLURM"),
                                reason="needs a SLURM cluster: bash tests/slurm/cluster.sh start; GAFKD_SLURM=1")

CI_OVERRIDES = [
    "--slurm-status-command", "squeue",  # no slurmdbd in CI: sacct would hang
    "--slurm-init-seconds-before-status-checks", "1",
    "--slurm-no-account",
    "--latency-wait", "5",
    "--jobs", "4",
]


def test_dry_runs_of_the_profiles(tmp_path):
    for profile in ("slurm", "default"):
        run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                              "--profile", str(ROOT / "profiles" / profile), "--configfile",
                              str(ROOT / "demo.yaml"), "--directory", str(tmp_path), "-n", *(
                                  CI_OVERRIDES if profile == "slurm" else [])],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


def test_tiny_dag_through_slurm(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({**TINY, "report": {"html": False}}))
    run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                          "--profile", str(ROOT / "profiles" / "slurm"), "--configfile", str(config),
                          "--directory", str(tmp_path), *CI_OVERRIDES],
                         capture_output=True, text=True, timeout=1200)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert (tmp_path / "results" / "tables.md").exists()
    assert len(pd.read_csv(tmp_path / "results" / "runs.csv")) == 12
    # every training job was a SLURM job with a GPU request, and saw the GPU SLURM gave it
    submitted = re.findall(r"SLURM jobid (\d+)", log)
    assert len(submitted) >= 20
    gpu_jobs = 0
    for job in set(submitted):
        info = subprocess.run(["scontrol", "show", "job", job, "--oneliner"], capture_output=True, text=True).stdout
        if "Partition=gpu" in info:
            gpu_jobs += 1
            assert "gres/gpu" in info, info
    assert gpu_jobs == 4 + 4 + 8  # train_teacher, teacher_logits, distill
    for metrics in (tmp_path / "results").rglob("metrics.json"):
        assert json.loads(metrics.read_text())["cuda_visible_devices"] == "0", metrics
