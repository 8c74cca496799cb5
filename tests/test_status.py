"""`gafkd status` says what would rerun, per stage, as Snakemake itself decides (its dry run is the source)."""

import re
from collections import Counter

import pytest
import yaml

from gafkd.cli import load_study, main
from gafkd.execution.status import check_results, parse_jobs
from conftest import copy_study
from helpers import ROOT, TINY, snakemake


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
            counts[match[1]] += int(match[2])
    return dict(counts)


def status_of(config, workdir):
    path = workdir / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return check_results(load_study([str(path)]), [str(path)], workdir, snakefile=ROOT / "Snakefile")


def status_jobs(config, workdir) -> dict:
    return {stage: jobs for stage, (jobs, _) in status_of(config, workdir).counts().items()}


def _status_main(workdir, *extra):
    return main(["status", "--config", str(workdir / "cfg.yaml"), "--directory", str(workdir),
                 "--snakefile", str(ROOT / "Snakefile"), *extra])


@pytest.mark.slow
def test_status_counts_what_snakemake_would_run(tmp_path, capsys, tiny_run):
    config = TINY
    fresh = status_of(config, tmp_path)
    assert {s: j for s, (j, _) in fresh.counts().items()} == dry_run_jobs(tmp_path, config)
    assert fresh.counts()["train_teacher"] == (6, 6)  # CPU packing: each teacher alone (gaf, pi, sig × 2 seeds)
    assert fresh.counts()["distill"] == (2, 8)  # 8 students, 4 a pack at most: 2 balanced packs
    assert fresh.counts()["images"][0] == 2  # gaf.h5 and pi.h5
    # one cause; everything else follows from it
    assert fresh.causes == ["synthesize dataset=tiny: Missing output files: results/tiny/source"]
    copy_study(tiny_run, tmp_path)  # the same config, run to the end (the session's shared run)
    assert status_of(config, tmp_path).up_to_date and dry_run_jobs(tmp_path, config) == {}
    assert _status_main(tmp_path) == 0 and "up to date: nothing would run" in capsys.readouterr().out

    changed = {**config, "training": {**config["training"], "weight_decay": 0.001}}  # every run, none of the data
    status = status_of(changed, tmp_path)
    assert {s: j for s, (j, _) in status.counts().items()} == dry_run_jobs(tmp_path, changed)
    assert status.counts()["train_teacher"][1] == 6 and status.counts()["distill"][1] == 8
    assert "window" not in status.counts() and "images" not in status.counts()
    # what Snakemake cannot say: which setting changed, from the settings each result records
    assert any(re.search(r"metrics.json: training.weight_decay: 0.0001 → 0.001$", line) for line in status.causes)
    threads = {**changed, "training": {**changed["training"], "threads": 2}}  # how fast, not what
    assert status_jobs(threads, tmp_path) == status_jobs(changed, tmp_path)
    # an image setting: that representation's images, then the PI teachers and their students only
    spread = {**config, "images": {**config["images"], "pi": {"spread": 0.02}}}
    status = status_of(spread, tmp_path)
    assert status.counts()["images"][0] == 1 and status.counts()["train_teacher"][1] == 2
    assert any(line.endswith("pi.h5: spread: 0.015 → 0.02") for line in status.causes), status.causes

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    student = tmp_path / "results" / "tiny" / "students" / "wrn16-1" / "kd1_gaf-wrn16-1_lam0.7" / "seed0"
    (student / "metrics.json").unlink()  # a member file: not a Snakemake output, so Snakemake leaves it
    status = status_of(config, tmp_path)
    assert status.up_to_date and dry_run_jobs(tmp_path, config) == {}
    assert len(status.dormant) == 1 and "kd1_gaf-wrn16-1_lam0.7/seed0/metrics.json" in status.dormant[0]
    assert "students.json" in status.dormant[0]
    assert _status_main(tmp_path) == 1
    assert "delete the manifest" in capsys.readouterr().out
    (tmp_path / "results" / "tables.md").unlink()  # a final result: remade
    status = status_of(config, tmp_path)
    assert status_jobs(config, tmp_path) == dry_run_jobs(tmp_path, config) == {"tables": 1}
    assert status.causes == ["tables: Missing output files: results/tables.md"]


def test_status_plans_like_the_profile_and_the_demo(tmp_path):
    """The demo config through a profile: the same jobs per stage as Snakemake's dry run, from one description."""
    configs = [str(ROOT / "config.yaml"), str(ROOT / "demo.yaml")]
    status = check_results(load_study(configs), configs, tmp_path, snakefile=ROOT / "Snakefile",
                           profile=ROOT / "profiles" / "default")
    counts = status.counts()
    # teachers (3 seeds a pack): gene7_w500 3 archs × 3 modalities (GAF, PI, signal) and ResNet8 teachers (logits
    # only for the GAF one, the only one a student learns from); gene14_w500 2 archs, gene7_w1000 1 (× 2
    # modalities); students: 16 a pack, gene7_w500's annealed and live-teacher (SPKD, projector) packs apart and
    # its Transformer students (the compatibility table); pamap2: 3 folds × (2 teachers, 1 student pack), its
    # windows read once and its GAF images made once
    assert counts["train_teacher"] == (24, 60) and counts["teacher_logits"] == (22, 54)
    assert counts["distill"][0] == 22 and counts["window"] == (4, 4) and counts["images"] == (5, 5)
    assert counts["fold_windows"] == (3, 3)


def test_parse_jobs_reads_rules_wildcards_and_reasons():
    text = """Building DAG of jobs...
[Tue Dec  1 15:06:42 2026]
rule train_teacher:
    input: results/d/windows.h5
    output: results/d/packs/sig-wrn16-1_seeds0-1/teachers.json
    jobid: 3
    reason: Params have changed since last execution
    wildcards: dataset=d, pack=sig-wrn16-1_seeds0-1
    resources: tmpdir=/tmp, gpu=0

[Tue Dec  1 15:06:42 2026]
localrule all:
    input: results/tables.md
    jobid: 0
"""
    (job,) = parse_jobs(text)
    assert (job.stage, job.wildcards, job.reason) == ("train_teacher", {"dataset": "d", "pack": "sig-wrn16-1_seeds0-1"},
                                                      "Params have changed since last execution")
    assert job.on_its_own_account
