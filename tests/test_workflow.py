"""The Snakemake workflow: dry runs of the shipped configs, config errors, one tiny end-to-end run."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest
import torch
import yaml

from helpers import GAF_AND_SIGNAL, ROOT, SNAKEMAKE, TINY, snakemake

# As a root sandbox needs, and without the background requests a closed network refuses
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.mark.parametrize("configfiles", [[], ["demo.yaml"]])
def test_dry_run_of_shipped_configs(tmp_path, configfiles):
    args = ["-n", "--configfile", str(ROOT / "config.yaml"), *[str(ROOT / c) for c in configfiles]]
    run = snakemake(tmp_path, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "window" in run.stdout and "images" in run.stdout


def test_config_error_names_the_key(tmp_path):
    bad = {**TINY, "images": {"image_size": 16, "mehtod": "summation"}}
    run = snakemake(tmp_path, "-n", config=bad)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "config: images: Additional properties are not allowed ('mehtod' was unexpected)" in output
    assert "additionalProperties" not in output and len(output.splitlines()) < 15  # no schema dump
    assert not (tmp_path / "results").exists()


def test_malformed_config_yaml_names_its_line(tmp_path):
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text() + "report: {html: false\n")
    run = snakemake(tmp_path, "-n")  # config.yaml of the working directory, as `configfile:` reads it
    output = run.stdout + run.stderr
    assert run.returncode != 0 and "config: config.yaml, line " in output and "not valid YAML" in output
    assert len(output.splitlines()) < 10 and not (tmp_path / "results").exists()


def test_missing_real_data_fails_with_one_clear_sentence(tmp_path):
    real = {**TINY["datasets"]["tiny"], "source": {"format": "mat", "path": "data/x"}}
    config = {**TINY, "datasets": {"real": real, "other": {**real, "source": {"format": "mat", "path": "data/y"}}}}
    assert snakemake(tmp_path, "-n", config=config).returncode == 0
    run = snakemake(tmp_path, "--cores", "1", "--show-failed-logs", config=config)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    # one short message before any job, naming every missing folder (here two datasets)
    assert "datasets.real.source.path: data/x — put the .mat windows" in output
    assert "datasets.other.source.path: data/y" in output and "Error in rule" not in output
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_end_to_end_tiny(tiny_run):
    """Every rule on tiny data: windows, GAF, teachers, logits, students, runs/summary/tables, plots, HTML."""
    tmp_path = tiny_run
    results = tmp_path / "results"
    for name in ("gaf", "pi"):
        with h5py.File(results / "tiny" / "windows.h5") as w, h5py.File(results / "tiny" / f"{name}.h5") as g:
            assert g["images"].shape == (w["signals"].shape[0], 3, 16, 16)
            assert json.loads(g.attrs["settings"]).get("representation", "gaf") == name
    runs = pd.read_csv(results / "runs.csv")
    # 3 teachers (gaf, pi, sig) × 2 seeds + (kd1 gaf, kd1 pi, kd2, kdn) × 2 seeds, and the student alone: the
    # sig teacher's 2 rows again
    assert len(runs) == 3 * 2 + 4 * 2 + 2 and len(runs[runs["trained_as"].notna()]) == 2
    assert set(runs["kind"]) == {"teacher", "baseline", "kd1", "kd2", "kdn"}
    assert len(list(results.rglob("logits.h5"))) == 6
    pi_teacher = json.loads(next((results / "tiny" / "teachers" / "pi-wrn16-1").rglob("metrics.json")).read_text())
    assert pi_teacher["images"]["recipe"] == "sublevel"  # the PI recipe recorded in the result it made
    scaling = pi_teacher["images"]["scaling"]  # and its scaling: the lab's, limits from the training windows
    assert scaling["kind"] == "fixed" and scaling["limits_from"] == "training windows"
    assert scaling["clipped_windows_by_part"]["train"] == 0
    assert not (results / "tiny" / "students" / "wrn16-1" / "baseline").exists()
    tables = (results / "tables.md").read_text()
    assert "| Experiment (alpha = 0.3, 500w, 14cls) | Trial 1 | Trial 2 | Mean" in " ".join(tables.split())
    for plot in ("alpha_sweep", "lambda_sweep", "learning_curves", "gaf_examples", "pi_examples",
                 "confusion_teacher", "confusion_student"):
        assert (results / "plots" / "tiny" / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    assert (results / "report.html").stat().st_size > 10_000
    for log in (results / "logs").rglob("*.log"):
        if log.name != "report.log":
            assert "done in" in log.read_text(), log
    assert not list(results.rglob("checkpoint.pt")) and not list(results.rglob("*.tmp"))
    rerun = snakemake(tmp_path, "--cores", "2", "-n", config=TINY)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    # the same settings merged from a base and an overlay (as config.yaml + demo.yaml): nothing to do
    base = {**TINY, "datasets": {"tiny": {**TINY["datasets"]["tiny"],
                                          "source": {"format": "mat", "path": "data/x", "class_base": "auto"}}}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump({"datasets": {"tiny": {"source": TINY["datasets"]["tiny"]
                                                                                  ["source"]}}}))
    merged = snakemake(tmp_path, "--cores", "2", "-n", "--configfile", str(tmp_path / "base.yaml"),
                       str(tmp_path / "overlay.yaml"))
    assert "Nothing to be done" in merged.stdout + merged.stderr, merged.stdout[-2000:]
    # speed-only settings are not part of a run's identity: changing them reruns nothing
    faster = {**TINY, "training": {**TINY["training"], "threads": 2}}
    same = snakemake(tmp_path, "--cores", "2", "-n", "--rerun-triggers", "params", config=faster)
    assert "Nothing to be done" in same.stdout + same.stderr, same.stdout[-2000:]
    # teacher_weights is read by the logits rule alone: teachers stay, logits and students rerun
    final = {**TINY, "training": {**TINY["training"], "teacher_weights": "final"}}
    dry = snakemake(tmp_path, "-n", "--rerun-triggers", "params", config=final)
    assert "rule teacher_logits:" in dry.stdout and "rule distill:" in dry.stdout
    assert "rule train_teacher:" not in dry.stdout
    # a changed training setting reruns the training jobs and what depends on them, not the data
    changed = {**TINY, "training": {**TINY["training"], "weight_decay": 0.001}}
    dry = snakemake(tmp_path, "-n", "--rerun-triggers", "params", config=changed)
    assert "train_teacher" in dry.stdout and "distill" in dry.stdout and "rule window" not in dry.stdout


def test_results_from_before_the_images_rename_are_adopted(tiny_run, tmp_path):
    """docs/representations.md's two commands: finished results whose scripts are newer (renamed) rerun
    nothing once touched, and a later code change still reruns its jobs."""
    from conftest import copy_study

    study = copy_study(tiny_run, tmp_path / "study")
    workflow = tmp_path / "workflow"  # a copy of the workflow whose scripts are "renamed": newer than the results
    shutil.copytree(ROOT / "workflow", workflow / "workflow")
    shutil.copytree(ROOT / "envs", workflow / "envs")
    shutil.copy(ROOT / "Snakefile", workflow / "Snakefile")
    (workflow / "src").symlink_to(ROOT / "src")
    later = time.time()  # after every result, before the touch
    for script in ("images.py", "train_pack.py", "teacher_logits.py"):  # what the rename edited
        os.utime(workflow / "workflow" / "scripts" / script, (later, later))
    (study / "cfg.yaml").write_text(yaml.safe_dump(TINY))  # the study's own (other tests leave others there)
    copied = [*SNAKEMAKE, "--snakefile", str(workflow / "Snakefile"), "--directory", str(study),
              "--configfile", str(study / "cfg.yaml")]

    def run(*args):
        done = subprocess.run([*copied, *args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout + done.stderr

    assert "rule train_teacher:" in run("-n")  # without the note: everything retrains
    assert "Nothing to be done" in run("-n", "--rerun-triggers", "mtime", "params", "input", "software-env")
    run("--touch", "--cores", "1")
    assert "Nothing to be done" in run("-n")
    edited = workflow / "workflow" / "scripts" / "images.py"
    edited.write_text(edited.read_text() + "# an edit\n")
    assert "rule images:" in run("-n")  # the code trigger still works


def test_workflow_lints_clean_and_is_snakefmt_formatted(tmp_path):
    """`snakemake --lint` (the catalogue's checks) and `snakefmt --check`, as the snakemake-workflows catalogue runs them."""
    lint = subprocess.run([*SNAKEMAKE, "--directory", str(ROOT), "--lint", "--configfile", str(ROOT / "config.yaml"),
                           str(ROOT / "demo.yaml")], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    snakefmt = pytest.importorskip("snakefmt", reason="snakefmt is in the test extras")
    del snakefmt
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", str(ROOT / "Snakefile"), str(ROOT / "workflow")],
                         capture_output=True, text=True, timeout=300)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_stage_settings_reach_every_pack(tmp_path):
    """Profiles name stages (set-threads: {train_teacher: …}): one rule per stage, every pack a job of it."""
    run = snakemake(tmp_path, "-n", "--set-threads", "train_teacher=3", "distill=2", "--cores", "4",
                    "--set-resources", "train_teacher:mem_mb=1234", config=TINY)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    jobs = run.stdout.split("\nrule ")[1:]
    teachers = [j for j in jobs if j.startswith("train_teacher:")]
    students = [j for j in jobs if j.startswith("distill:")]
    assert len(teachers) == 6 and len(students) == 2  # CPU packing: teachers alone, students 4 a pack
    assert all("threads: 3" in j and "mem_mb=1234" in j for j in teachers)
    assert all("threads: 2" in j for j in students)


def test_the_rule_graph_shows_the_study_stages(tmp_path):
    """One node per stage, not one per pack (the HTML report's Workflow page draws this graph)."""
    run = snakemake(tmp_path, "--rulegraph", "--configfile", str(ROOT / "config.yaml"), str(ROOT / "demo.yaml"))
    assert run.returncode == 0, run.stderr[-2000:]
    nodes = set(re.findall(r'label = "(\w+)"', run.stdout))
    assert nodes == {"synthesize", "window", "fold_windows", "images", "train_teacher", "teacher_logits", "distill",
                     "collect_runs", "summarize_runs", "tables", "plots", "image_examples", "all"}


@pytest.mark.slow
def test_a_diverging_member_is_a_result_end_to_end(tmp_path):
    """A pack of 4 students, one made to diverge (fault injection): 3 results, 1 marked, the job green,
    the tables made and the diverged run listed."""
    config = {**GAF_AND_SIGNAL, "report": {"html": False}, "packing": {"teachers": 2, "students": 4},
              "students": {**GAF_AND_SIGNAL["students"], "kdn": []}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "2", "--configfile",
                          str(tmp_path / "cfg.yaml")], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "GAFKD_FAULT": "diverge:kd2_gaf-wrn16-1+sig-wrn16-1_alpha0.3_lam0.7/seed1:1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    students = runs[runs["kind"].isin(["kd1", "kd2"])]
    assert len(students) == 4 and sorted(students["status"]) == ["diverged", "ok", "ok", "ok"]
    tables = (tmp_path / "results" / "tables.md").read_text()
    assert "| diverged" in " ".join(tables.split()) and "Diverged (1, counted out of the means" in tables
    manifest = json.loads(next((tmp_path / "results" / "tiny" / "packs").glob("*/students.json")).read_text())
    assert [m["status"] for m in manifest["members"]].count("diverged") == 1


@pytest.mark.slow
def test_the_report_finishes_when_every_run_diverges(tmp_path):
    """lr 1e6: every teacher and student diverges. Every run is a recorded result, and every report job —
    runs.csv, summary, tables, plots, the HTML report — finishes and says so instead of failing."""
    config = {**GAF_AND_SIGNAL, "training": {**GAF_AND_SIGNAL["training"], "lr": 1e6},
              "students": {**GAF_AND_SIGNAL["students"], "kdn": []}}
    run = snakemake(tmp_path, "--cores", "2", config=config)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    runs = pd.read_csv(results / "runs.csv")
    assert len(runs) and (runs["status"] == "diverged").all()
    tables = (results / "tables.md").read_text()
    assert f"Diverged ({len(runs[runs['trained_as'].isna()])}, counted out of the means" in tables
    plots = results / "plots" / "tiny"
    assert all((plots / f"confusion_{kind}.png").stat().st_size > 5_000 for kind in ("teacher", "student"))
    assert (results / "report.html").exists() and (results / "summary.csv").exists()


@pytest.mark.slow
def test_the_report_finishes_when_only_the_teachers_diverge(tmp_path):
    """Every teacher diverges (fault injection), the students train on: the workflow and every report job
    finish, the teachers' rows say they diverged, and the students' results are there."""
    config = {**GAF_AND_SIGNAL, "students": {**GAF_AND_SIGNAL["students"], "kdn": []}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "2", "--configfile",
                          str(tmp_path / "cfg.yaml")], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "GAFKD_FAULT": "diverge:/teachers/:1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    runs = pd.read_csv(results / "runs.csv")
    teachers = runs[runs["kind"] == "teacher"]
    assert len(teachers) and (teachers["status"] == "diverged").all()
    students = runs[runs["kind"].isin(["kd1", "kd2"])]
    assert len(students) == 4
    tables = (results / "tables.md").read_text()
    assert "Diverged (" in tables and (results / "report.html").exists() and (results / "summary.csv").exists()
    plots = results / "plots" / "tiny"
    assert all((plots / f"confusion_{kind}.png").stat().st_size > 5_000 for kind in ("teacher", "student"))


def test_run_part_of_the_study(tmp_path):
    """run.datasets selects variants from an overlay (an overlay cannot delete a key of config.yaml)."""
    overlay = tmp_path / "only14.yaml"
    overlay.write_text("run: {datasets: [gene14_w500]}\n")
    configs = ["--configfile", str(ROOT / "config.yaml"), str(ROOT / "demo.yaml"), str(overlay)]
    run = snakemake(tmp_path, "-n", *configs)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "gene14_w500" in run.stdout and "gene7_w500" not in run.stdout and "gene7_w1000" not in run.stdout
    overlay.write_text("run: {datasets: [gene15_w500]}\n")
    bad = snakemake(tmp_path, "-n", *configs)
    assert bad.returncode != 0 and "run.datasets: ['gene15_w500'] are not under datasets" in bad.stdout + bad.stderr


@pytest.mark.slow
def test_html_report_shows_the_tables_in_a_browser(tiny_run, tmp_path):
    """Open results/report.html in headless Chromium, open Tables, and find the rendered tables (screenshot)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (the test extra has it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto((tiny_run / "results" / "report.html").as_uri())
            page.get_by_text("Tables", exact=True).click()
            page.locator("tr", has_text="tables.html").locator("[iconname=eye]").click()
            frame = page.frame_locator("iframe")
            frame.locator("table").first.wait_for(timeout=20_000)
            page.screenshot(path=tmp_path / "report-tables.png")
            tables, rows = frame.locator("table").count(), frame.locator("tbody tr")
            first_row = rows.first.inner_text()
            mean = frame.locator("tbody tr td u strong").first.inner_text()
            row_count = rows.count()
            header = frame.locator("thead").first.inner_text()
            effects_text = frame.get_by_text("Δ vs alone: the mean of the per-trial differences").first.inner_text()
            # the effects' figures: a category of their own, the rankings and each dataset's
            effects_page = ""
            for subcategory in ("rankings", "tiny"):
                page.goto((tiny_run / "results" / "report.html").as_uri())
                page.get_by_text("Effects", exact=True).click()
                page.get_by_text(subcategory, exact=True).click()
                page.wait_for_timeout(300)
                effects_page += page.locator("body").inner_text()
        finally:
            browser.close()
    # main table (8 rows: 3 teachers, the student alone, kd1 from GAF and from PI, kd2, kdn), alpha sweep (1),
    # lambda sweep (2: a GAF and a PI teacher)
    assert tables == 3 and row_count == 8 + 1 + 2
    assert first_row.startswith("WRN16-1 (GAF single network, 500w, 14cls)")
    assert re.fullmatch(r"\d+\.\d{4}", mean)  # the notes' underlined bold mean, rendered, not markdown
    assert (tmp_path / "report-tables.png").stat().st_size > 20_000
    assert "Δ vs alone [95 % CI]" in header and "n" in header.split()
    assert "With 2 pairs the exact test's smallest p is 0.5" in effects_text
    assert all(name in effects_page for name in ("critical_difference.png", "forest.png", "gain_vs_teacher.png")), \
        effects_page[:2000]


# the later study, and the next encodings (Q-GAF, recurrence plots) as teachers; PI scaled by the device's ±8 g
LATER_STUDY = {**TINY, "report": {"html": False},
               "datasets": {"tiny": {**TINY["datasets"]["tiny"], "limits": {"min": [-8.0] * 3, "max": [8.0] * 3}}},
               "teachers": {"modalities": ["gaf", "pi", "qgaf", "rp", "sig"], "archs": ["wrn16-1"], "seeds": [0]},
               "students": {"seeds": [0], "kd1": {"teacher_archs": []}, "kd2": {"pairs": []}, "kdn": [],
                            "kd3": {"archs": ["wrn16-1"], "weights": [[0.2, 0.2, 0.6], [0.2, 0.3, 0.5]]},
                            "variants": ["base", "ann", "ann+sp", "camkd", "ebkd", "proj"],
                            "variant_kinds": ["kd3"], "compute_matched": True}}


@pytest.mark.slow
def test_the_later_study_three_teachers_annealed_spkd_and_the_baselines(tmp_path):
    """GAF, PI and signal teachers; two weight triples in base, ann, ann+sp and the projector loss, and
    CAMKD and EBKD (their own weights: one run each): the packs keep cached, annealed and live-teacher
    members apart, and the tables show a table per variant, labelled with its method. Q-GAF and
    recurrence-plot teachers train beside them; PI is scaled by the configured limits, recorded."""
    run = snakemake(tmp_path, "--cores", "2", config=LATER_STUDY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    for name in ("qgaf", "rp"):
        teacher = json.loads((results / "tiny" / "teachers" / f"{name}-wrn16-1" / "seed0" / "metrics.json").read_text())
        assert teacher["status"] == "ok" and teacher["images"]["representation"] == name
        assert teacher["images"]["scaling"]["limits"] == {"min": [-8.0] * 3, "max": [8.0] * 3}
        assert (results / "plots" / "tiny" / f"{name}_examples.png").read_bytes()[:4] == b"\x89PNG"
    pi = json.loads((results / "tiny" / "teachers" / "pi-wrn16-1" / "seed0" / "metrics.json").read_text())
    assert pi["images"]["scaling"]["kind"] == "fixed" and pi["images"]["scaling"]["limits_from"] == "config"
    packs = {p.name for p in (results / "tiny" / "packs").iterdir() if p.name.startswith("wrn16-1_")}
    assert packs == {"wrn16-1_students1of1", "wrn16-1_annealed1of1", "wrn16-1_annealed_live1of1",
                     "wrn16-1_live1of1"}
    runs = pd.read_csv(results / "runs.csv", keep_default_na=False)
    kd3 = runs[runs["kind"] == "kd3"]
    assert sorted(kd3["variant"]) == ["ann"] * 2 + ["ann+sp"] * 2 + ["base"] * 2 + ["camkd", "ebkd"] + ["proj"] * 2
    assert set(kd3[kd3["variant"].isin(["camkd", "ebkd"])]["weights"]) == {""}
    assert set(kd3[~kd3["variant"].isin(["camkd", "ebkd"])]["weights"]) == {"0.2/0.2/0.6", "0.2/0.3/0.5"}
    assert (kd3["status"] == "ok").all()
    # EBKD learns from cached logits; CAMKD by its authors needs the teachers' final maps: live, beside the projector
    cached = json.loads((results / "tiny" / "packs" / "wrn16-1_students1of1" / "students.json").read_text())
    assert {Path(m["run"]).parent.name.rsplit("_", 1)[-1] for m in cached["members"]} >= {"ebkd"}
    live = json.loads((results / "tiny" / "packs" / "wrn16-1_live1of1" / "students.json").read_text())
    assert {Path(m["run"]).parent.name.rsplit("_", 1)[-1] for m in live["members"]} == {"camkd", "proj2"}
    camkd = json.loads((results / "tiny" / "students" / "wrn16-1" / "kd3_gaf-wrn16-1+pi-wrn16-1+sig-wrn16-1_lam0.7_camkd"
                        / "seed0" / "metrics.json").read_text())
    assert camkd["settings"]["recipe"] == "authors" and len(camkd["live_teachers"]) == 3
    students = results / "tiny" / "students" / "wrn16-1"
    annealed = json.loads((students / "kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.3+sig-wrn16-1@0.5_lam0.7_ann" / "seed0"
                           / "metrics.json").read_text())
    assert annealed["init"]["from"].endswith("teachers/sig-wrn16-1/seed0/weights.pt")  # the student alone's run
    spkd = json.loads((students / "kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.3+sig-wrn16-1@0.5_lam0.7_ann_sp700" / "seed0"
                       / "metrics.json").read_text())
    assert [t["weights"].split("teachers/")[1] for t in spkd["live_teachers"]] == [
        "gaf-wrn16-1/seed0/weights.pt", "pi-wrn16-1/seed0/weights.pt", "sig-wrn16-1/seed0/weights.pt"]
    assert spkd["init"]["from"] == annealed["init"]["from"] and spkd["status"] == "ok"
    # the compute-matched student alone: the same start and epochs as an annealed student, no teacher
    matched = json.loads((students / "baseline_ann" / "seed0" / "metrics.json").read_text())
    assert matched["init"]["from"] == annealed["init"]["from"] and matched["status"] == "ok"
    assert matched["epochs_total"] == annealed["epochs_total"] == 2 * LATER_STUDY["training"]["epochs"]
    projector = json.loads((students / "kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.3+sig-wrn16-1@0.5_lam0.7_proj2" / "seed0"
                            / "metrics.json").read_text())
    assert len(projector["live_teachers"]) == 3 and "init" not in projector  # a random start, teachers run live
    tables = (results / "tables.md").read_text()
    assert "S: WRN16-1(Sig) alone (500w, 14cls) [compute-matched: 2 + 2 epochs, as an annealed student]" in tables
    for label in ("base", "ann", "ann+sp", "CAMKD (authors')", "EBKD (authors')", "projector (authors')"):
        assert f"### Three teachers, {label} (mean ± std; " in tables
    assert "| CAMKD (per sample)" in tables and "S: WRN16-1(Sig) (500w, 14cls) [EBKD (authors')]" in tables
    assert "CAMKD by its authors: CE 1 : KD 1/K + 50 · features, T = 4" in tables  # the protocol line
    # the main table's rows at report's triple (auto: the notes' choice for 14 classes, 0.2/0.3/0.5)
    assert "T1: WRN16-1(GAF), T2: WRN16-1(PI), T3: WRN16-1(Sig), w = 0.2/0.3/0.5, S: WRN16-1(Sig) (500w, 14cls) [ann+sp]" \
        in tables
    rerun = snakemake(tmp_path, "--cores", "2", "-n", config=LATER_STUDY)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


PAMAP2_LOSO = {
    "results": "results", "report": {"html": False},
    "datasets": {"p2": {
        "source": {"format": "synthetic", "write_as": "pamap2", "subjects": 3, "seconds_per_activity": 4, "seed": 2,
                   "columns": ["heart_rate", "hand_acc16_x", "hand_acc16_y", "hand_acc16_z"]},
        "classes": "pamap2", "window": 100, "stride": 22, "sampling_rate": 33.333333, "split": {"method": "loso"},
        "students": {"kd2": {"lam": 0.99}}, "report": {"alpha": 0.7}}},
    "images": {"image_size": 16},
    "training": {"epochs": 1, "batch_size": 16, "lr_milestones": [1, 1, 1]},
    "teachers": {"modalities": ["gaf", "sig"], "archs": ["wrn16-1"], "seeds": [0]},
    "students": {"seeds": [0], "kd1": {"teacher_archs": []}, "kd2": {"pairs": [["wrn16-1", "wrn16-1"]], "alphas": [0.7]}},
}


@pytest.mark.slow
def test_pamap2_leave_one_subject_out_end_to_end(tmp_path):
    """Synthetic PAMAP2 files → one windows.h5 → a fold per subject (linked windows, images made once) → teachers,
    logits and students per fold → one report section pooling the folds, a per-fold table beside it."""
    run = snakemake(tmp_path, "--cores", "2", config=PAMAP2_LOSO)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    folds = [f"p2_fold{s}" for s in (101, 102, 103)]
    with h5py.File(results / folds[0] / "windows.h5") as h5:
        assert isinstance(h5.get("signals", getlink=True), h5py.ExternalLink) and h5["signals"].shape[1] == 4
        assert {s.decode() for s in h5["subjects"][h5["split"][...] == b"test"]} == {"101"}
    assert (results / "p2" / "gaf.h5").exists() and not any((results / f / "gaf.h5").exists() for f in folds)
    runs = pd.read_csv(results / "runs.csv")
    # a fold: 2 teachers, the student alone (the signal teacher's run, listed again) and the two-teacher student
    assert sorted(set(runs["dataset"])) == folds and len(runs) == 3 * 4
    weights = torch.load(results / folds[1] / "teachers" / "gaf-wrn16-1" / "seed0" / "weights.pt",
                         weights_only=True)
    assert weights["axes"] == 4 and weights["best"]["stem.weight"].shape[1] == 4
    tables = (results / "tables.md").read_text()
    assert tables.count("## p2 (") == 1 and "Runs (folds × trials)" in tables
    assert "Fold 103 (test: 103)" in tables and "leave-one-subject-out, 3 folds" in tables
    assert ("Protocol: two teachers α = 0.7 (the image teacher's share), λ = 0.99; KD form: KD, τ = 4; "
            "cross-entropy plain; inputs standardised by the training rows' pooled std; signals in their units; "
            "batch 16.") in tables
    assert "PAMAP2-like" in tables and "3/3" in tables


FAMILIES_STUDY = {
    **GAF_AND_SIGNAL, "report": {"html": False}, "training": {**TINY["training"], "epochs": 1, "lr_milestones": [1, 1, 1]},
    "teachers": {"modalities": ["gaf", "sig"], "archs": ["resnet8", "vgg8", "mobilenetv2-0.5"], "seeds": [0]},
    "students": {"arch": "resnet8", "seeds": [0], "kd1": {"representations": ["gaf"],
                                                        "teacher_archs": ["vgg8", "mobilenetv2-0.5"], "lams": [0.7]},
                 "kd2": {"pairs": [["vgg8", "resnet8"]], "alphas": [0.3]}, "variants": ["base", "ann+sp"],
                 "variant_kinds": ["kd2"], "compatibility": {"archs": ["resnet8", "vgg8", "transformer2-32"], "lam": 0.7}},
}


@pytest.mark.slow
def test_other_families_as_teachers_and_students_end_to_end(tmp_path):
    """ResNet, VGG and MobileNetV2 teachers (2-D and 1-D) → their logits → a ResNet8 student, one with SPKD from a
    2-D VGG8 teacher's stage outputs (another family, another shape), and the compatibility table's VGG8 and
    Transformer students; labels from the registry."""
    run = snakemake(tmp_path, "--cores", "2", config=FAMILIES_STUDY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert set(runs[runs["kind"] == "teacher"]["teachers"]) == {f"{m}:{a}" for m in ("gaf", "sig")
                                                                for a in ("resnet8", "vgg8", "mobilenetv2-0.5")}
    students = runs[runs["kind"] != "teacher"]
    assert set(students["student"]) == {"sig:resnet8", "sig:vgg8", "sig:transformer2-32"}  # with the table's
    assert (students["status"] == "ok").all()
    assert set(students["variant"]) >= {"base", "ann+sp"}
    tables = (tmp_path / "results" / "tables.md").read_text()
    assert "T1: VGG8(GAF), T2: ResNet8(Sig), S: ResNet8(Sig)" in tables and "VGG8 (GAF single network" in tables
    assert "T: MobileNetV2-0.5(GAF), S: ResNet8(Sig)" in tables
    # the compatibility table: every image teacher to each student architecture, and each student alone
    compatibility = tables.split("### Compatibility")[1].split("###")[0]
    assert "S: VGG8(Sig)" in compatibility and "S: Transformer2-32(Sig)" in compatibility
    rows = [line for line in compatibility.splitlines() if line.startswith(("| T: ", "| none"))]
    assert len(rows) == 4 and all(line.count("±") == 3 and "—" not in line for line in rows)
