"""The pipeline through a real SLURM (CI starts one with tests/slurm/cluster.sh; skipped elsewhere)."""

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from helpers import GAF_AND_SIGNAL, ROOT

needs_slurm = pytest.mark.skipif(not os.environ.get("GAFKD_SLURM"),
                                 reason="needs a SLURM cluster: bash tests/slurm/cluster.sh start; GAFKD_SLURM=1")

CI_OVERRIDES = [
    "--slurm-status-command", "squeue",  # no slurmdbd in CI: sacct would hang
    "--slurm-init-seconds-before-status-checks", "1",
    "--slurm-no-account",
    "--latency-wait", "5",
    "--jobs", "4",
]


def snakemake(workdir, *args, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory",
                           str(workdir), *args], capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def _plugin(name):
    from importlib.util import find_spec

    return pytest.mark.skipif(find_spec(f"snakemake_executor_plugin_{name}") is None,
                              reason=f"needs snakemake-executor-plugin-{name.replace('_', '-')}: "
                                     'pip install -e ".[cluster]"')


@pytest.mark.parametrize("profile", [
    pytest.param(["--profile", "profiles/slurm"], marks=_plugin("slurm")),
    pytest.param(["--workflow-profile", "profiles/slurm"], marks=_plugin("slurm")),
    pytest.param(["--workflow-profile", "profiles/cluster-generic"], marks=_plugin("cluster_generic")),
    ["--profile", "profiles/default"]])
def test_dry_runs_of_the_profiles(tmp_path, profile):
    configs = ["--configfile", str(ROOT / "config.yaml"), str(ROOT / "demo.yaml")]
    run = snakemake(tmp_path, *[str(ROOT / p) if p.startswith("profiles") else p for p in profile], *configs, "-n",
                    *(CI_OVERRIDES if "slurm" in profile[1] else []))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "distill" in run.stdout


@needs_slurm
@_plugin("slurm")
def test_tiny_dag_through_slurm(tmp_path):
    config = tmp_path / "cfg.yaml"
    # packs as on a GPU machine: both teacher seeds in one pack, all 8 students in one
    config.write_text(yaml.safe_dump({**GAF_AND_SIGNAL, "report": {"html": False}, "packing": {"teachers": 2, "students": 8}}))
    # one student diverges (fault injection, inherited by the SLURM jobs): a result, not a failed job
    run = snakemake(tmp_path, "--workflow-profile", str(ROOT / "profiles" / "slurm"), "--configfile", str(config),
                    *CI_OVERRIDES, timeout=1200, env={"GAFKD_FAULT": "diverge:kd1_gaf-wrn16-1_lam0.7/seed1:1"})
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert "| diverged" in " ".join((tmp_path / "results" / "tables.md").read_text().split())
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert len(runs) == 12 and list(runs["status"]).count("diverged") == 1
    # every training job was a SLURM job with a GPU request, and saw the GPU SLURM gave it
    submitted = set(re.findall(r"SLURM jobid (\d+)", log))
    # synthesize, window, images (gaf.h5); 2 teacher packs (gaf, sig: 2 seeds each), their logits, 1 student pack (report: local)
    assert len(submitted) == 3 + 2 + 2 + 1
    stages = {}
    for job in submitted:
        info = subprocess.run(["scontrol", "show", "job", job, "--oneliner"], capture_output=True, text=True).stdout
        stage = re.search(r"Comment=rule_(\S+)", info)[1].split("_wildcards")[0]  # one rule per stage
        stages[stage] = stages.get(stage, 0) + 1
        gpu_request = re.search(r"gres[:/]gpu[:=]1", info) is not None
        assert gpu_request == (stage in ("train_teacher", "teacher_logits", "distill")), info
    assert stages == {"synthesize": 1, "window": 1, "images": 1, "train_teacher": 2, "teacher_logits": 2, "distill": 1}
    for metrics in (tmp_path / "results").rglob("metrics.json"):
        assert json.loads(metrics.read_text())["cuda_visible_devices"] == "0", metrics
