"""Time budgets: the bench and the device check keep to them, say what they skipped, and always return what
they measured — a failing row, a failing or hung test, a spent budget leave the rest measured and written."""

import json
import textwrap
import time

import pytest

from gafkd.bench import device_check
from gafkd.bench import speed
from gafkd.bench.harness import Bench
from gafkd.bench.sections.models import timed_models
from gafkd.bench.budget import Budget
from gafkd.cli import load_config


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_budget_runs_items_while_the_last_ones_time_fits_and_records_the_rest():
    clock = FakeClock()
    budget = Budget(10.0, clock=clock)

    def run(seconds):
        clock.now += seconds
        return seconds

    assert budget.each([3, 4, 2, 1], run) == [3, 4]  # after 7 s, 3 s left: the last item took 4
    assert [s["what"] for s in budget.skipped] == ["2", "1"] and budget.skipped[0]["left_s"] == 3.0
    assert budget.each([5, 1], run) == [5]  # a section's first item runs: its first timing
    clock.now = 7.0
    section = budget.section(0.5)  # half of what is left, its skips recorded in the whole budget's list
    assert section.left() == 1.5 and section.skipped is budget.skipped
    unlimited = Budget(None, clock=clock)
    assert unlimited.each([100, 100], run) == [100, 100] and not unlimited.skipped
    assert unlimited.section(0.1).left() == float("inf")


@pytest.fixture
def quick_sections(monkeypatch):
    """The device check's expensive sections replaced by quick stand-ins (their own tests cover them)."""
    monkeypatch.setattr(device_check, "_memory", lambda dev: {"rows": []})
    monkeypatch.setattr(device_check, "_families", lambda dev, sizes, budget: {"rows": []})
    monkeypatch.setattr(device_check, "_teacher_logits", lambda *args: {"rows": []})
    monkeypatch.setattr(device_check, "_study_estimate", lambda dev, config, pack_speed, sizes: {
        "rows_used": sum(r["status"] == "ok" for r in pack_speed["rows"]), "study_hours": 1.0, "teachers_hours": 0.5,
        "students_hours": 0.5, "widths": {}})


def _cuda_tests_folder(tmp_path, monkeypatch, body: str):
    folder = tmp_path / "repo" / "tests"
    folder.mkdir(parents=True)
    (folder / "test_fake_cuda.py").write_text(textwrap.dedent(f"""
        import pytest
        pytestmark = pytest.mark.cuda

        def test_it():
        {textwrap.indent(textwrap.dedent(body), "    ")}
        """))
    (folder.parent / "pytest.ini").write_text("[pytest]\nmarkers =\n    cuda: needs CUDA\n")
    monkeypatch.setattr(device_check, "REPO_TESTS", folder)


def test_a_failing_row_and_a_failing_test_leave_the_rest_measured_and_written(tmp_path, monkeypatch,
                                                                              quick_sections):
    real = Bench.pack_speed

    def pack_speed(self, modality, arch, width, steps, **kwargs):
        if (modality, width) == ("gaf", 2):
            raise RuntimeError("CUDA out of memory (forced)")
        return real(self, modality, arch, width, 1, **kwargs)

    monkeypatch.setattr(Bench, "pack_speed", pack_speed)
    _cuda_tests_folder(tmp_path, monkeypatch, "assert 1 == 2, 'forced'")
    path, seen = tmp_path / "check.json", []

    def echo(line):  # after each section its line, and the JSON on disk has that section already
        seen.append((line, list(json.loads(path.read_text())["sections"]) if path.exists() else []))

    report = device_check.run_check({"training": {}}, device="cpu", json_path=path, echo=echo)
    sections = report["sections"]
    assert sections["cuda_tests"]["status"] == "failed" and "1 failed" in sections["cuda_tests"]["error"]
    rows = sections["pack_speed"]["rows"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all(r["modality"] == "gaf" and r["width"] == 2 and "out of memory" in r["error"] for r in failed)
    assert sum(r["status"] == "ok" for r in rows) == len(rows) - len(failed) > 0
    assert sections["pack_speed"]["status"] == "ok" and sections["pack_speed"]["failed_rows"] == len(failed)
    assert sections["study_estimate"]["rows_used"] == len(rows) - len(failed)  # from the rows that ran
    assert not report["ok"]
    names = list(sections)
    assert [s for _, s in seen][1:] == [names[:i] for i in range(1, len(names))]  # written before the next line
    assert json.loads(path.read_text()) == json.loads(json.dumps(report, default=str))


def test_a_hung_test_is_cut_at_its_share_and_a_spent_budget_skips_the_rest(tmp_path, monkeypatch, quick_sections):
    _cuda_tests_folder(tmp_path, monkeypatch, "import time; time.sleep(60)")
    # a section that overruns its share and spends the rest of the budget (12 s less cuda_tests' 4.2 s)
    slow = lambda dev, sizes, threads, budget: time.sleep(9) or {  # noqa: E731
        "rows": [], "stops_gaining": [], "failed_rows": 0, "skipped_rows": 0}
    monkeypatch.setattr(device_check, "_pack_speed", slow)
    path = tmp_path / "check.json"
    report = device_check.run_check({"training": {}}, device="cpu", budget=12, json_path=path, echo=lambda line: None)
    sections = report["sections"]
    assert sections["cuda_tests"]["status"] == "failed" and "did not finish" in sections["cuda_tests"]["error"]
    assert sections["cuda_tests"]["seconds"] < 8  # its share of 12 s, not the test's 60
    written = json.loads(path.read_text())
    assert list(written["sections"]) == list(sections) and written["budget_s"] == 12
    assert report["seconds"] < 30
    assert [n for n, s in sections.items() if s["status"] == "skipped"] == ["families", "teacher_logits",
                                                                          "study_estimate"]
    assert all("budget" in sections[n]["why"] for n in ("families", "teacher_logits", "study_estimate"))


def test_the_bench_keeps_its_budget_and_estimates_the_models_it_could_not_time(monkeypatch, tmp_path):
    config = load_config(["config.yaml"])
    # the models' FLOPs (counted first, to time the cheapest first) take most of 6 s: one model is timed, the
    # others estimated, and the sections after it find the budget spent
    report = speed.run(quick=True, device="cpu", config=config, scratch=tmp_path, threads=1, budget=6)
    models = report["models"]
    assert {(m["modality"], m["arch"]) for m in models} == set(timed_models(config))
    timed = [m for m in models if m["timed"]]
    estimated = [m for m in models if not m["timed"]]
    assert timed and estimated and all(m["train_samples_per_s"] > 0 for m in models)
    skipped = {s["what"] for s in report["skipped"]}
    assert {f"models {m['modality']}:{m['arch']}" for m in estimated} <= skipped
    assert "readers" in skipped and "readers" not in report  # spent before its turn: listed, not measured
    assert report["study_hours"] > 0  # the estimate from the timed and the estimated models
    text = speed.format_report(report)
    assert "estimated from FLOPs" in text and "skipped to keep the budget" in text
    json.dumps(report, default=str)
