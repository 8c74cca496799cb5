"""`gafkd status` says what would rerun, per stage, as Snakemake itself would (its dry run is the oracle)."""

import copy
import re
from collections import Counter

import pytest
import yaml

from gafkd.cli import main
from gafkd.execution.status import check_results
from test_workflow import TINY, snakemake


def dry_run_jobs(workdir, config) -> dict:
    """Jobs per stage in Snakemake's own dry run (its "Job stats" table), less the target rule."""
    run = snakemake(workdir, "-n", "--cores", "2", config=config)
    assert run.returncode == 0, run.stdout + run.stderr
    if "Nothing to be done" in run.stdout + run.stderr:
        return {}
    table = (run.stdout + run.stderr).split("Job stats:")[1].split("\n\n")[0]
    counts = Counter()
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if match and match[1] not in ("all", "total"):
            counts[match[1].split("__", 1)[0]] += int(match[2])
    return dict(counts)


def status_jobs(config, workdir) -> dict:
    return {stage: jobs for stage, (jobs, _) in check_results(copy.deepcopy(config), workdir).counts().items()}


@pytest.mark.slow
def test_status_counts_what_snakemake_would_run(tmp_path, capsys):
    config = {**TINY, "report": {"html": False}}
    fresh = status_jobs(config, tmp_path)
    assert fresh == dry_run_jobs(tmp_path, config)
    assert check_results(copy.deepcopy(config), tmp_path).causes == [
        f"missing  {tmp_path}/results/tiny/source"]  # one cause; everything else follows from it
    assert snakemake(tmp_path, "--cores", "2", config=config).returncode == 0
    assert check_results(copy.deepcopy(config), tmp_path).up_to_date and dry_run_jobs(tmp_path, config) == {}

    changed = copy.deepcopy(config)
    changed["training"]["weight_decay"] = 0.001  # every run, none of the data
    status = check_results(copy.deepcopy(changed), tmp_path)
    assert status_jobs(changed, tmp_path) == dry_run_jobs(tmp_path, changed)
    counts = status.counts()
    assert counts["train_teacher"][1] == 4 and counts["distill"][1] == 6  # the baseline is a teacher run
    assert "window" not in status_jobs(changed, tmp_path)
    assert len(status.causes) == 4 and all(line.startswith("stale") for line in status.causes)

    logits = tmp_path / "results" / "tiny" / "teachers" / "gaf-wrn16-1" / "seed0" / "logits.h5"
    logits.unlink()  # an intermediate file: Snakemake remakes it only for a student that has to run
    assert check_results(copy.deepcopy(config), tmp_path).up_to_date and dry_run_jobs(tmp_path, config) == {}
    student = tmp_path / "results" / "tiny" / "students" / "wrn16-1" / "kd1_gaf-wrn16-1_lam0.7" / "seed0"
    (student / "metrics.json").unlink()  # so is a run's result once runs.csv is made
    status = check_results(copy.deepcopy(config), tmp_path)
    assert status.up_to_date and dry_run_jobs(tmp_path, config) == {}
    assert status.dormant == [f"missing  {logits}", f"missing  {student}/metrics.json"]
    assert main(["status", "--config", str(tmp_path / "cfg.yaml"), "--directory", str(tmp_path)]) == 1
    assert "--forcerun collect_runs" in capsys.readouterr().out
    (tmp_path / "results" / "tables.md").unlink()  # a final result: remade, from runs.csv as it is
    status = check_results(copy.deepcopy(config), tmp_path)
    assert status_jobs(config, tmp_path) == dry_run_jobs(tmp_path, config) == {"tables": 1}
    assert status.causes == [f"missing  {tmp_path}/results/tables.md"]

    threads = copy.deepcopy(changed)
    threads["training"]["threads"] = 2  # how fast, not what: the same runs as `changed`
    assert status_jobs(threads, tmp_path) == status_jobs(changed, tmp_path)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(changed))
    assert main(["status", "--config", str(tmp_path / "cfg.yaml"), "--directory", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^train_teacher\s+\d+\s+4$", out, re.M) and re.search(r"^total\s+\d+\s+\d+$", out, re.M)
