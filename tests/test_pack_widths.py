"""`gafkd bench --pack-widths`: the width that pays per role and model, measured, written as a config overlay that
`packing: auto` follows (1 where packs lose)."""

import copy

import pytest
import torch
import yaml

from gafkd.bench import widths
from gafkd.bench.budget import Budget
from gafkd.bench.harness import Bench
from gafkd.cli import load_config, main
from gafkd.config import check_config
from gafkd.errors import ConfigError
from gafkd.plan.packing import pack_width, student_packs, teacher_packs
from helpers import TINY


def load_config_from(config: dict, *overlays: dict) -> dict:
    """``config`` and its overlays as the workflow reads them (files merged in order), checked."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"part{i}.yaml" for i in range(1 + len(overlays))]
        for path, part in zip(paths, (config, *overlays)):
            path.write_text(yaml.safe_dump(part))
        loaded = load_config([str(p) for p in paths])
    check_config(loaded)
    return loaded


def test_a_pack_is_chosen_only_where_it_pays():
    assert widths.choose({1: 100.0, 2: 105.0, 4: 150.0}) == 4  # the fastest paying width
    assert widths.choose({1: 100.0, 2: 108.0}) == 1  # within noise of one run: not worth a pack
    assert widths.choose({1: 100.0, 2: 71.0, 4: 88.0, 8: 97.0}) == 1  # every pack loses (this CPU's students)
    assert widths.choose({1: 100.0, 2: 150.0, 4: 150.0}) == 2  # equal speed: the narrower pack
    assert widths.choose({1: 100.0, 4: 300.0, 16: 900.0, 64: 800.0}) == 16  # past its best, a wider pack loses


def test_the_models_the_config_trains_by_role():
    models = widths.trained_models(load_config_from(TINY))
    assert [(m.role, m.name, m.runs) for m in models] == [
        ("students", "sig:wrn16-1", 8),  # kd1 from GAF and PI, kd2, kdn: 4 experiments × 2 seeds
        ("teachers", "sig:wrn16-1", 2), ("teachers", "gaf:wrn16-1", 2), ("teachers", "pi:wrn16-1", 2)]  # cheap first
    assert {(m.length, m.axes, m.classes) for m in models} == {(500, 3, 14)}


MEASURED = {"packing": {"measured": {"cpu": {"bench": "a test", "teachers": {"gaf:wrn16-1": 2},
                                             "students": {"sig:wrn16-1": 1}}}}}


def test_auto_follows_the_measured_widths_for_the_training_device():
    cpu = {**TINY, "training": {**TINY["training"], "device": "cpu"}}
    config = load_config_from(cpu, MEASURED)
    assert pack_width(config, "tiny", "students", "sig", "wrn16-1") == 1
    assert pack_width(config, "tiny", "teachers", "gaf", "wrn16-1") == 2
    assert pack_width(config, "tiny", "teachers", "sig", "wrn16-1") == 1  # not measured: CPU's default
    assert [p.width for p in student_packs(config, "r", "tiny")] == [1] * 8
    assert {p.name: p.width for p in teacher_packs(config, "r", "tiny")}["gaf-wrn16-1_seeds0-1"] == 2
    without = load_config_from(cpu)
    assert [p.width for p in student_packs(without, "r", "tiny")] == [4, 4]  # the CPU default
    # a measurement for another device is not this one's; an explicit width wins over any measurement
    cuda = load_config_from({**TINY, "training": {**TINY["training"], "device": "cuda"}}, MEASURED)
    assert pack_width(cuda, "tiny", "teachers", "gaf", "wrn16-1") == 3
    explicit = load_config_from(cpu, MEASURED, {"packing": {"students": 2}})
    assert [p.width for p in student_packs(explicit, "r", "tiny")] == [2] * 4
    # memory still bounds a measured width (8 GiB): 4,096 WRN28-3 students do not fit
    huge = copy.deepcopy(load_config_from({**TINY, "training": {**TINY["training"], "device": "cuda"}}))
    huge["packing"]["measured"] = {"cuda": {"students": {"sig:wrn28-3": 4096}}}
    assert 1 < pack_width(huge, "tiny", "students", "sig", "wrn28-3") < 4096


@pytest.mark.parametrize("model, role, message", [
    ("gaf:wrn99", "teachers", "packing.measured.cpu.teachers.gaf:wrn99"),
    ("gaf:wrn16-1", "students", "packing.measured.cpu.students.gaf:wrn16-1: students train on signals"),
    ("fft:wrn16-1", "teachers", "packing.measured.cpu.teachers.fft:wrn16-1: 'fft:wrn16-1' is not a model")])
def test_a_measured_width_for_an_unknown_model_is_refused_by_name(model, role, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config_from(TINY, {"packing": {"measured": {"cpu": {role: {model: 2}}}}})


def test_pack_speeds_times_every_width_through_the_real_loop():
    bench = Bench(torch.device("cpu"), quick=True, image_size=8, num_classes=3, axes=2)
    rates = bench.pack_speeds("sig", "wrn16-1", [1, 2], steps=1, length=32)
    assert set(rates) == {1, 2} and all(r > 0 for r in rates.values())
    assert set(bench.pack_speeds("gaf", "resnet8", [1, 3], steps=1)) == {1, 3}


def test_the_overlay_records_the_choice_and_auto_follows_it(tmp_path, monkeypatch, capsys):
    """`gafkd bench --pack-widths FILE` on the tiny config: FILE says what was measured and where (comments),
    and as an overlay makes auto pack as measured; the representations share one measurement."""
    timed = []

    def fake_speeds(self, modality, arch, widths_, steps, length=500):
        timed.append((modality, arch, tuple(widths_)))
        gains = {"sig": {1: 100.0, 2: 250.0, 4: 90.0, 8: 50.0}, "gaf": {1: 100.0, 2: 95.0}}[modality]
        return {w: gains[w] for w in widths_}

    monkeypatch.setattr(Bench, "pack_speeds", fake_speeds)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({**TINY, "training": {**TINY["training"], "device": "cpu"}}))
    out = tmp_path / "widths.yaml"
    assert main(["bench", "--pack-widths", str(out), "--config", str(tmp_path / "cfg.yaml"), "--device", "cpu"]) == 0
    assert timed == [("sig", "wrn16-1", (1, 2, 4, 8)), ("sig", "wrn16-1", (1, 2)), ("gaf", "wrn16-1", (1, 2))]
    text = out.read_text()
    assert "# Pack widths measured by `gafkd bench --pack-widths` on " in text and "CPU capability" in text
    assert "#   students sig:wrn16-1: 100 samples/s alone; 1 → 1.00×, 2 → 2.50×, 4 → 0.90×, 8 → 0.50×; chosen 2" in text
    assert "wrote " in capsys.readouterr().out
    measured = yaml.safe_load(text)["packing"]["measured"]["cpu"]
    assert measured["students"] == {"sig:wrn16-1": 2}
    assert measured["teachers"] == {"gaf:wrn16-1": 1, "pi:wrn16-1": 1, "sig:wrn16-1": 2}
    config = load_config([str(tmp_path / "cfg.yaml"), str(out)])
    check_config(config)
    assert [p.width for p in student_packs(config, "r", "tiny")] == [2] * 4
    assert {p.name: p.width for p in teacher_packs(config, "r", "tiny")} == {
        "gaf-wrn16-1_seeds0": 1, "gaf-wrn16-1_seeds1": 1, "pi-wrn16-1_seeds0": 1, "pi-wrn16-1_seeds1": 1,
        "sig-wrn16-1_seeds0-1": 2}


def test_what_the_budget_leaves_out_keeps_the_default_and_is_said(monkeypatch):
    ticks = iter(range(0, 1000, 10))  # every measurement "takes" 10 s
    monkeypatch.setattr(Bench, "pack_speeds", lambda self, m, a, ws, steps, length=500: {w: 100.0 / w for w in ws})
    monkeypatch.setattr(widths, "Budget", lambda seconds: Budget(seconds, clock=lambda: next(ticks)))
    report = widths.measure(load_config_from(TINY), device="cpu", budget=15)
    assert [m["model"] for m in report["models"]] == ["sig:wrn16-1"]  # the first always runs
    assert [s["what"] for s in report["skipped"]] == ["teachers sig:wrn16-1", "teachers gaf:wrn16-1",
                                                      "teachers pi:wrn16-1"]
    assert "teachers" not in widths.overlay(report)["packing"]["measured"]["cpu"]
    assert "not measured (the budget): teachers pi:wrn16-1; auto keeps the default width" in widths.format_report(report)


def test_the_shipped_cpu_measurement_is_a_valid_overlay():
    """docs/pack-widths-cpu.yaml (measured on the 2-core AVX2 machine): config.yaml's models on a CPU, alone."""
    from helpers import ROOT

    config = load_config([str(ROOT / "config.yaml"), str(ROOT / "docs" / "pack-widths-cpu.yaml")])
    config["training"]["device"] = "cpu"
    check_config(config)
    assert pack_width(config, "gene14_w500", "students", "sig", "wrn16-1") == 1
    assert pack_width(config, "gene14_w500", "teachers", "gaf", "wrn16-3") == 1
    assert "CPU capability AVX2" in config["packing"]["measured"]["cpu"]["bench"]
