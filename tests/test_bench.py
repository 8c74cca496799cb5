"""The benchmark harness produces its numbers (no timing assertions: machines are noisy)."""

import json
from pathlib import Path

import pytest
import torch

from gafkd.bench import estimates, harness, speed
from gafkd.bench.budget import UNLIMITED
from gafkd.bench.sections import fast_paths, images as image_section, loop as loop_section
from gafkd.bench.sections.kd import kd_steps
from gafkd.bench.sections.packs import pack_speeds
from gafkd.bench.sections.models import timed_models
from gafkd.cli import load_config, main
from gafkd.images.registry import REPRESENTATIONS

ROOT = Path(__file__).resolve().parents[1]

STUDY_ARCHS = harness.ARCHS  # before any test narrows them


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(harness, "ARCHS", ("wrn16-1", "wrn28-1"))
    monkeypatch.setattr(harness, "KD_TEACHER", "wrn16-1")
    return harness.Bench(torch.device("cpu"), quick=True, image_size=16)


def test_sections_report_positive_speeds_and_ratios(small, tmp_path):
    models = [small.model_speed(m, "wrn16-1") for m in ("sig", "gaf")]
    assert all(m["train_samples_per_s"] > 0 and m["eval_samples_per_s"] > 0 for m in models)
    kd = kd_steps(small, steps=2, h5_path=tmp_path / "naive.h5")
    assert kd["cached_vs_live_one"] > 0 and kd["ours_vs_naive"] > 0 and kd["cached_vs_ce"] > 0
    # both SPKD ratios measured (their size is the bench's to report, not a test's: machines are noisy)
    assert kd["spkd_vs_cached_three"] > 0 and kd["spkd_vs_cached_three_alone"] > 0
    assert set(kd["cached_vs_live_by_teacher"]) == {"gaf-wrn16-1", "gaf-wrn28-1"}
    assert kd["cached_vs_live_one"] == kd["cached_vs_live_by_teacher"]["gaf-wrn16-1"]
    assert all(seconds > 0 for seconds in kd["step_s"].values())
    speedups = fast_paths.speedups(small, UNLIMITED, timed=(("sig", "wrn16-1"),))
    assert set(speedups["channels_last"]) == set(speedups["bf16"]) == {"sig-wrn16-1"}
    loop = loop_section.loop_overhead(small, n_train=128)
    assert loop["loop_s"] > 0 and loop["preloaded_s"] > 0
    images = image_section.image_speeds(small, 64, UNLIMITED)
    assert set(images) == set(REPRESENTATIONS)  # every entry, from the registry
    for name, entry in REPRESENTATIONS.items():  # each against each installed reference, the same images
        assert set(images[name]["references"]) == {r.name for r in entry.references}
        timed = {k: r for k, r in images[name]["references"].items() if r["vs_ours"] is not None}
        assert timed, name  # the test extra installs at least the first reference of each
        for reference, r in timed.items():
            assert r["vs_ours"] > 0 and r["max_abs_difference"] <= 1e-5, (name, reference)
        assert images[name]["vs_fastest_reference"] == min(r["vs_ours"] for r in timed.values())
        assert set(images[name]["ours_windows_per_s_by_length"]) == {500, 1000}
        assert images[name]["target"] == entry.speed_target


def test_study_estimate_sums_the_grid():
    config = load_config(["config.yaml"])
    models = [{"modality": m, "arch": a, "train_samples_per_s": 1000.0, "eval_samples_per_s": 4000.0}
              for m in ("sig", "gaf") for a in harness.ARCHS]
    estimate = estimates.study_estimate(models, config)
    length, n_train, n_test = estimates.STUDY_SIZES["gene7_w500"]
    per_epoch = n_train / 1000 + n_test / 4000
    runs = 24 + 40 * 3  # teachers + students per dataset (the student alone is the sig WRN16-1 teacher)
    assert estimate["hours_per_dataset"]["gene7_w500"] == pytest.approx(200 * runs * per_epoch / 3600)
    assert estimate["hours_per_dataset"]["gene7_w1000"] > estimate["hours_per_dataset"]["gene7_w500"] / 3
    gaf = {"gaf": {"ours_windows_per_s_by_length": {500: 1000.0, 1000: 500.0}}}
    images = estimates.study_estimate(models, config, gaf)["image_seconds_per_dataset"]
    assert images["gene7_w500"]["gaf"] == pytest.approx((n_train + n_test) / 0.6 / 1000)  # split 0.3 + 0.3: all
    length, n_train, n_test = estimates.STUDY_SIZES["gene7_w1000"]
    assert images["gene7_w1000"]["gaf"] == pytest.approx((n_train + n_test) / 0.6 / 500)
    # a variant's own grid: PI teachers (costed as the measured 2-D models) on gene7_w500 alone
    config["datasets"]["gene7_w500"]["teachers"] = {"modalities": ["gaf", "pi", "sig"]}
    wider = estimates.study_estimate(models, config)["hours_per_dataset"]
    assert wider["gene7_w500"] == pytest.approx(200 * (runs + 12) * per_epoch / 3600)
    assert wider["gene14_w500"] == estimate["hours_per_dataset"]["gene14_w500"]


def test_kd_grid_ratio_weights_teachers_by_the_grid():
    config = load_config(["config.yaml"])  # 1 baseline, 20 one-teacher, 20 GAF + signal experiments
    models = [{"modality": m, "arch": a, "eval_samples_per_s": 100.0 if m == "gaf" else 1000.0}
              for m in ("sig", "gaf") for a in harness.ARCHS]
    kd = {"batch": 64, "step_s": {"ce": 0.064, "cached_one": 0.064}}  # 1 ms per sample
    # live: baseline 1 ms, one GAF teacher 1 + 10 ms, GAF + signal 1 + 10 + 1 ms
    assert estimates.kd_grid_ratio(models, kd, config) == pytest.approx((1 + 20 * 11 + 20 * 12) / 41)


def test_cli_writes_json_with_top_level_ratios(monkeypatch, tmp_path, capsys):
    fake = _fake_report(kd_cached_vs_live=40.0, gaf_vs_reference=5.0, loop_overhead=0.02, ours_vs_naive=60.0,
                        kd={"cached_vs_live_one": 40.0, "cached_vs_live_two": 45.0, "ours_vs_naive": 60.0,
                            "live_teacher": "gaf-wrn16-3", "cached_vs_ce": 1.01,
                            "cached_vs_live_by_teacher": {"gaf-wrn16-3": 40.0, "gaf-wrn28-3": 90.0}},
                        loop={"loop_overhead": 0.02})
    monkeypatch.setattr(speed, "run", lambda **kwargs: fake)
    assert main(["bench", "--quick", "--json", str(tmp_path / "b.json"), "--config"]) == 0
    written = json.loads((tmp_path / "b.json").read_text())
    assert {"kd_cached_vs_live", "gaf_vs_reference", "loop_overhead"} <= set(written)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "gaf-wrn28-3 teacher" in line)
    assert "kd_cached_vs_live" in out and "90.0×" in row


def test_load_config_merges_overlays_like_snakemake():
    config = load_config(["config.yaml", "demo.yaml"])
    assert config["training"]["epochs"] == 2 and config["training"]["batch_size"] == 16
    assert config["datasets"]["gene14_w500"]["source"]["format"] == "synthetic"
    assert config["datasets"]["gene14_w500"]["window"] == 500  # kept from config.yaml


# the agreement runs' data at a tenth of its size: these tests check what is trained and compared, not accuracies
SMALL_DATA = {"subjects": 4, "seconds_per_activity": 10, "seed": 3}


def test_agreement_trains_every_mode_and_compares_with_exact(tmp_path):
    from gafkd.bench import agreement

    training = load_config(["config.yaml"])["training"]
    report = agreement.run(training, epochs=1, seeds=(0, 1), threads=1, folder=tmp_path,
                           models=(("sig", "wrn16-1"),), data=SMALL_DATA)
    assert [(r["mode"], r["seed"]) for r in report["runs"]] == [(m, s) for m in agreement.MODES for s in (0, 1)]
    rows = {r["mode"]: r for r in report["summary"]}
    assert rows["exact"]["gap"] == 0 and set(rows) == set(agreement.MODES)
    accs = [r["best_test_acc"] for r in report["runs"] if r["mode"] == "bf16"]
    assert rows["bf16"]["mean"] == pytest.approx(sum(accs) / 2)
    assert "gap / std" in agreement.format_report(report)


def test_agreement_summary_gap_in_units_of_seed_noise():
    from gafkd.bench.agreement import summarise

    runs = [{"model": "m", "mode": mode, "seed": s, "best_test_acc": acc, "seconds": 1.0}
            for mode, accs in (("exact", (50.0, 54.0)), ("bf16", (55.0, 57.0))) for s, acc in enumerate(accs)]
    rows = {r["mode"]: r for r in summarise(runs)}
    assert rows["bf16"]["gap"] == pytest.approx(4.0) and rows["bf16"]["gap_in_std"] == pytest.approx(2.0)


def test_the_bench_times_every_architecture_the_config_trains():
    """The demo trains ResNet8 teachers on one variant: the estimates need their speeds, and get them."""
    config = load_config(["config.yaml", "demo.yaml"])
    timed = timed_models(config)
    assert ("gaf", "resnet8") in timed and ("sig", "resnet8") in timed and ("gaf", "wrn28-3") in timed
    models = [{"modality": m, "arch": a, "train_samples_per_s": 1000.0, "eval_samples_per_s": 4000.0} for m, a in timed]
    rows = {"rows": [{"modality": m, "arch": a, "width": w, "train_samples_per_s": 1000.0} for m, a in timed
                     for w in (1, 3)]}
    assert estimates.study_estimate(models, config)["study_hours"] > 0
    assert estimates.packed_estimate(models, rows, config, {"teachers": 3, "students": 16})["study_hours"] > 0


def test_packs_section_and_packed_estimate(small):
    packs = pack_speeds(small, student_widths=(1, 2), teacher_width=2)
    rows = {(r["modality"], r["arch"], r["width"]): r for r in packs["rows"]}
    assert set(rows) >= {("sig", "wrn16-1", 1), ("sig", "wrn16-1", 2), ("gaf", "wrn28-1", 2)}
    assert all(r["train_samples_per_s"] > 0 and r["achieved_tflops"] > 0 for r in rows.values())
    assert rows[("sig", "wrn16-1", 1)]["speedup_vs_one_run"] == 1.0
    # FLOPs per sample grow with the model: a WRN28 costs more than a WRN16
    assert rows[("gaf", "wrn28-1", 2)]["train_flops_per_sample"] > rows[("gaf", "wrn16-1", 2)]["train_flops_per_sample"]
    config = load_config(["config.yaml"])
    models = [{"modality": m, "arch": a, "train_samples_per_s": 1000.0, "eval_samples_per_s": 4000.0}
              for m in ("sig", "gaf") for a in STUDY_ARCHS]
    flat = {"rows": [{"modality": m, "arch": a, "width": w, "train_samples_per_s": 1000.0 * w}
                     for m in ("sig", "gaf") for a in STUDY_ARCHS for w in (1, 3, 64)]}
    # no gain from packing (the same aggregate samples/s at every width): the per-run estimate
    same = {"rows": [{**r, "train_samples_per_s": 1000.0} for r in flat["rows"]]}
    packed = estimates.packed_estimate(models, same, config, {"teachers": 3, "students": 64})
    assert packed["study_hours"] == pytest.approx(estimates.study_estimate(models, config)["study_hours"])
    assert packed["student_pack_width"] == 60  # 120 students (the student alone is a teacher) in two packs
    # perfect scaling: training time divides by the width (64 for students, 3 for teachers)
    scaled = estimates.packed_estimate(models, flat, config, {"teachers": 3, "students": 64})
    assert scaled["students_hours"] < packed["students_hours"] / 5  # evaluation stays per run
    assert scaled["teachers_hours"] < packed["teachers_hours"]


def test_agreement_of_fused_packs_and_separate_runs(tmp_path):
    from gafkd.bench import agreement

    training = load_config(["config.yaml"])["training"]
    report = agreement.run_packs(training, epochs=1, seeds=(0, 1, 2), threads=1, folder=tmp_path, data=SMALL_DATA,
                                 models=(("sig", "wrn16-1"),))
    assert [(r["mode"], r["seed"]) for r in report["runs"]] == [(m, s) for m in ("separate", "fused") for s in (0, 1, 2)]
    rows = {r["mode"]: r for r in report["summary"]}
    assert rows["separate"]["gap"] == 0
    # one epoch from the same initialisation and batches: fused members land where the separate runs do
    assert abs(rows["fused"]["gap"]) < 5
    pack = json.loads((tmp_path / "sig-wrn16-1" / "fused" / "seed1" / "metrics.json").read_text())["pack"]
    assert pack["width"] == 3 and "fused pack vs separate runs" in agreement.format_report(report)


def _fake_report(**parts) -> dict:
    """A bench report for the formatting tests: every section, made-up numbers."""
    images = {name: {"scaling": None, "ours_windows_per_s": 1.0, "vs_fastest_reference": 5.0, "target": 3.0,
                     "references": {"ref": {"vs_ours": 5.0, "reference_windows_per_s": 0.2, "max_abs_difference": 1e-7}}}
              for name in REPRESENTATIONS}
    return {"device": "cpu", "quick": True, "models": [], "images": images, "loop": {"loop_overhead": 0.0},
            "kd": {"cached_vs_live_one": 1.0, "cached_vs_live_two": 1.0, "ours_vs_naive": 1.0,
                   "live_teacher": "gaf-wrn16-3", "cached_vs_live_by_teacher": {}, "cached_vs_ce": 1.0}, **parts}


def test_reader_throughput_on_a_written_recording(tmp_path):
    from gafkd.bench.sections.readers import multi_hour_recording, reader_speed

    assert multi_hour_recording(0.1).shape == (36_000, 3)  # 6 min at 100 Hz: one 5-min bout and part of another
    r = reader_speed(hours=0.05, scratch=tmp_path, repeats=1)
    assert r["samples"] == 18_000 and set(r["file_mb"]) == {"bin", "csv", "parquet"}
    assert r["bin_vs_csv"] == pytest.approx(r["bin_samples_per_s"] / r["csv_samples_per_s"])
    assert all(r[f"{name}_samples_per_s"] > 0 for name in ("bin", "csv", "parquet"))
    text = speed.format_report(_fake_report(readers=r))
    assert "readers (0.05 h recording, 18,000 samples" in text and f"{r['bin_vs_csv']:.1f}×" in text


@pytest.mark.slow
def test_device_check_runs_every_section_on_cpu(tmp_path, capsys):
    """The device check at CPU sizes: every section named, none failed (CUDA-only parts skip, saying why)."""
    assert main(["bench", "--cuda-check", "--device", "cpu", "--threads", "1", "--json", str(tmp_path / "c.json"),
                 "--config", str(ROOT / "config.yaml"), str(ROOT / "demo.yaml")]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    sections = report["sections"]
    assert list(sections) == ["environment", "cuda_tests", "memory", "pack_speed", "families", "teacher_logits",
                              "study_estimate"]
    from gafkd.models.families import FAMILIES

    families = sections["families"]["rows"]  # every family, in each input kind it is built for
    assert {(r["family"], r["modality"]) for r in families} == {
        (name, "sig" if dims == 1 else "gaf") for name, family in FAMILIES.items() for dims in family.dims}
    assert all(r["train_samples_per_s"] > 0 and r["pack_vs_separate"] > 0 and r["channels_last_speedup"] > 0
               for r in families)
    assert all(s["status"] in ("ok", "skipped") for s in sections.values()), sections
    assert sections["cuda_tests"]["status"] == "skipped" and "no CUDA here" in sections["cuda_tests"]["why"]
    assert all(r["equal"] for r in sections["teacher_logits"]["rows"])
    assert {r["deterministic"] for r in sections["pack_speed"]["rows"]} == {True, False}
    assert {r["channels_last"] for r in sections["pack_speed"]["rows"]} == {True, False}
    training = [r for r in sections["memory"]["rows"] if r["phase"] == "training step"]
    assert all(0.75 <= r["measured_bytes"] / r["estimate_bytes"] <= 1.25 for r in training)
    printed = capsys.readouterr().out
    for name in sections:
        assert name in printed
    # a failing section, row or test, and a spent budget: tests/test_budget.py


def test_images_section_without_references_says_so(small, monkeypatch):
    """A plain `pip install .` has none of the references (the test extra's): the bench measures ours
    and says why there is no ratio."""
    import sys

    for module in ("pyts.image", "pyts.approximation", "ripser", "persim", "gudhi", "gudhi.sklearn.cubical_persistence",
                   "gph", "qts2d.encoding"):  # the modules the references import (imported before: still refused)
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if absent
    images = image_section.image_speeds(small, 64, UNLIMITED)
    for name, image in images.items():
        assert image["vs_fastest_reference"] is None and image["ours_windows_per_s"] > 0
        assert all(r["vs_ours"] is None and r["reference"].startswith("not installed")
                   for r in image["references"].values()), name
    assert "not installed" in speed.format_report(_fake_report(images=images))
