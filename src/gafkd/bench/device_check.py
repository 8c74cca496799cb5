"""``gafkd bench --cuda-check``: every CUDA branch of the pipeline, exercised in one short command.

On a CUDA machine it runs in a few minutes (at most 8 at the full sizes); on a CPU it runs the same
sections at small sizes in well under a minute, so CI keeps it working. Sections, each named in the
report whatever happened to it (an exception is recorded in its section, the others still run):

- ``environment``: torch, CUDA and cuDNN versions, the device, its memory;
- ``cuda_tests``: ``pytest -m cuda`` of the repository's tests (fused pack vs separate runs, strict
  determinism twice bitwise, a diverging member isolated, two jobs through the slot pool, memory);
- ``memory``: per phase (training step, evaluation pass), measured against the estimate of
  :mod:`gafkd.models.memory` (CUDA: the caching allocator's peak; CPU: the tensors autograd saves);
- ``pack_speed``: aggregate training samples/s and achieved TFLOP/s of packs by width — the student
  at 1, 4, 16, 64 and every teacher at 1 and 3 — with deterministic on and off, channels-last on and off,
  fp32, tf32 and bf16; per model and mode the width beyond which a pack stops gaining;
- ``families``: every model family's example (1-D and 2-D where built for both): samples/s of one run, and
  a pack against as many separate runs (``gafkd bench``'s families section);
- ``teacher_logits``: a teacher trained on the device, its logits computed as the pipeline does, and
  the test accuracy they give against the one the teacher reported (equal);
- ``study_estimate``: the configured grid at the real study's window counts under the configured
  packing, from the pack-speed rows that ran.

It always returns what it measured: after every section a line is printed and the JSON so far is written
(atomically), so a run cut off by its time limit leaves every finished section behind. With a budget
(``--budget``), each section gets a share of the time left (:data:`SHARES`) and what does not fit is
recorded as skipped; ``pytest -m cuda`` is capped by its share; a row of ``pack_speed`` that fails (an
out-of-memory, cuDNN without an engine) is recorded with its error and the other rows go on.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

from ..provenance import cpu_model
from ..training.settings import TrainingSettings
from .budget import Budget
from .harness import ARCHS, IMAGE, KD_TEACHER, SIGNAL, STUDENT, Bench
from .speed import write_json

GAIN = 1.10  # a pack "still gains" when doubling-ish its width raises samples/s by at least this factor
REPO_TESTS = Path(__file__).resolve().parents[3] / "tests"  # present in a checkout, absent after pip install .


AXES = 3  # the check measures GENEActiv-shaped windows (x, y, z)
PYTEST_CAP = 420  # seconds: without a budget, pytest -m cuda still cannot hang the check
# each section's share of the time left when it starts (the last takes what remains)
SHARES = {"environment": 1.0, "cuda_tests": 0.35, "memory": 0.1, "pack_speed": 0.45, "families": 0.4,
          "teacher_logits": 0.6, "study_estimate": 1.0}

def _sizes(cuda: bool) -> dict:
    if cuda:
        return {"student_widths": (1, 4, 16, 64), "teacher_widths": (1, 3), "archs": ARCHS, "image_size": 64, "steps": 6, "teacher_epochs": 2}
    return {"student_widths": (1, 2), "teacher_widths": (1, 2), "archs": (STUDENT,), "image_size": 16, "steps": 2,
            "teacher_epochs": 1}


def run_check(config: dict, device: str = "auto", tests: bool = True, threads: int | None = None,
              budget: float | None = None, json_path: str | os.PathLike | None = None, echo=print) -> dict:
    """The report: one entry per section (``status``: ok, failed or skipped, and its numbers), written to
    ``json_path`` and echoed a line at a time as each section ends; ``budget``: seconds for the whole check."""
    dev = torch.device(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = _sizes(dev.type == "cuda")
    clock = Budget(budget)
    report = {"device": dev.type, "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()},
              "budget_s": budget, "sections": {}, "skipped": clock.skipped, "seconds": 0.0, "ok": True}
    sections = {
        "environment": lambda b: _environment(dev),
        "cuda_tests": lambda b: _cuda_tests(dev, b) if tests else {"status": "skipped", "why": "not asked (tests=False)"},
        "memory": lambda b: _memory(dev),
        "pack_speed": lambda b: _pack_speed(dev, sizes, threads, b),
        "families": lambda b: _families(dev, sizes, b),
        "teacher_logits": lambda b: _teacher_logits(dev, config, sizes, threads),
        "study_estimate": lambda b: _study_estimate(dev, config, report["sections"].get("pack_speed", {}), sizes),
    }
    for name, section in sections.items():
        share = clock.section(SHARES[name])
        t0 = time.perf_counter()
        if clock.limited and clock.left() <= 0:
            result = {"status": "skipped", "why": f"budget: {budget:g} s spent"}
        else:
            try:
                result = {"status": "ok", **section(share)}
            except Exception as exc:  # a section's failure is its result; the others still run
                result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc(limit=8)}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        report["sections"][name] = result
        report["seconds"] = round(time.perf_counter() - clock.start, 2)
        report["ok"] = all(s["status"] != "failed" for s in report["sections"].values())
        echo(section_line(name, result))
        if json_path is not None:
            write_json(report, json_path)
    return report


def _environment(dev: torch.device) -> dict:
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version()}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(name=props.name, capability=f"{props.major}.{props.minor}", memory_gib=props.total_memory / 2**30,
                    cudnn=torch.backends.cudnn.version())
    else:
        info.update(name=cpu_model(), threads=torch.get_num_threads())
    return info


def _cuda_tests(dev: torch.device, budget: Budget) -> dict:
    if not REPO_TESTS.is_dir():
        return {"status": "skipped", "why": f"no tests folder at {REPO_TESTS} (run from a checkout)"}
    files = sorted(str(p) for p in REPO_TESTS.glob("test_*.py") if "mark.cuda" in p.read_text(encoding="utf-8"))
    cap = min(PYTEST_CAP, budget.left())
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "-rs",
                              *files], capture_output=True, text=True, timeout=cap, cwd=REPO_TESTS.parent)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise RuntimeError(f"pytest -m cuda did not finish in its {cap:.0f} s (a hung or slow test); its output so "
                           f"far:\n{out[-3000:]}") from None
    tail = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-500:]
    counts = {word: int(n) for n, word in
              (part.strip().split(" ")[:2] for part in tail.split(" in ")[0].strip("= ").split(",")
               if part.strip().split(" ")[0].isdigit())}
    result = {"summary": tail, "counts": counts, "returncode": run.returncode, "cap_s": round(cap, 1)}
    if run.returncode not in (0, 5) or counts.get("failed") or counts.get("error"):
        raise RuntimeError(f"pytest -m cuda: {tail}\n{run.stdout[-3000:]}")
    if dev.type != "cuda":
        result["status"] = "skipped"
        result["why"] = "no CUDA here: the cuda-marked tests skip themselves (collected and run on a GPU)"
    return result


def _memory(dev: torch.device) -> dict:
    """Per phase: measured bytes against the estimate, for the student pack and a 2-D teacher pack."""
    from ..models import count_parameters
    from ..models.fused import build_fused
    from ..models.memory import pack_memory

    cases = [(SIGNAL, STUDENT, (1000,), 16), (IMAGE, KD_TEACHER, (64, 64), 3)] if dev.type == "cuda" else \
        [(SIGNAL, STUDENT, (500,), 4), (IMAGE, STUDENT, (16, 16), 2)]
    rows = []
    for modality, arch, positions, members in cases:
        model = build_fused(arch, modality, 7, list(range(members)), axes=AXES).to(dev).to_channels_last()
        params = count_parameters(model) // members
        batch = 64
        estimate = pack_memory(arch, AXES, positions, members, batch, params)
        x = torch.randn(batch, AXES * members, *positions, device=dev)
        if modality != SIGNAL:
            x = x.contiguous(memory_format=torch.channels_last)
        rows.append({"model": f"{modality}:{arch}", "width": members, "phase": "training step",
                     "estimate_bytes": estimate.training, **_measure_training(model, x, dev)})
        rows.append({"model": f"{modality}:{arch}", "width": members, "phase": "evaluation pass",
                     "estimate_bytes": estimate.evaluation, **_measure_evaluation(model, dev, estimate, positions)})
    measured = [r for r in rows if r.get("measured_bytes")]
    return {"rows": rows, "within_25_percent": all(0.75 <= r["measured_bytes"] / r["estimate_bytes"] <= 1.25
                                                   for r in measured if r["phase"] == "training step")}


def _measure_training(model, x, dev) -> dict:
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        model.train()
        model(x).float().sum().backward()
        torch.cuda.synchronize()
        model.zero_grad(set_to_none=True)
        return {"measured_bytes": torch.cuda.max_memory_allocated() - base, "measured_as": "CUDA allocator peak"}
    return {"measured_bytes": saved_activation_bytes(model.train(), x),
            "measured_as": "tensors autograd saves (CPU: no allocator peak)"}


def saved_activation_bytes(model, x) -> int:
    """What autograd keeps for the backward pass of ``model(x)``: distinct storages, parameters excluded."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(saved.values())


def _measure_evaluation(model, dev, estimate, positions) -> dict:
    if dev.type != "cuda":
        return {"measured_bytes": None, "measured_as": "not measured on CPU"}
    x = torch.randn(estimate.eval_rows, AXES * model.members, *positions, device=dev)
    if len(positions) == 2:
        x = x.contiguous(memory_format=torch.channels_last)
    model.eval()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        model(x)
    torch.cuda.synchronize()
    return {"measured_bytes": torch.cuda.max_memory_allocated() - base - x.nbytes, "measured_as": "CUDA allocator peak",
            "rows": estimate.eval_rows}


MODES = [{"deterministic": d, "channels_last": c, "precision": p}
         for d in (True, False) for c in (True, False) for p in ("fp32", "tf32", "bf16")]


def _families(dev: torch.device, sizes: dict, budget: Budget) -> dict:
    from .sections.families import family_speeds

    bench = Bench(dev, quick=True, image_size=sizes["image_size"], num_classes=14)
    if dev.type != "cuda":  # a CPU check proves the section runs; its speeds are gafkd bench's to measure
        bench.repeats, bench.batch = 1, 16
    return {"rows": family_speeds(bench, width=4 if dev.type == "cuda" else 2, budget=budget)}


def _pack_speed(dev: torch.device, sizes: dict, threads, budget: Budget) -> dict:
    """Every (mode, model, width) row, each guarded: a failing row is recorded with its error, the rest go on;
    rows that no longer fit the budget are recorded as skipped."""
    from ..training.device import configure

    bench = Bench(dev, quick=True, image_size=sizes["image_size"], num_classes=14)
    bench.repeats = 3
    shapes = [(SIGNAL, STUDENT, w) for w in sizes["student_widths"]]
    shapes += [(m, a, w) for m in (SIGNAL, IMAGE) for a in sizes["archs"] for w in sizes["teacher_widths"]]
    # on a CPU only the branches (deterministic and channels-last on and off), not every precision
    modes = MODES if dev.type == "cuda" else [MODES[0], MODES[-3]]
    cases = [(mode, shape) for mode in modes for shape in dict.fromkeys(shapes)]

    def row(case):
        mode, (modality, arch, width) = case
        configure(threads or torch.get_num_threads(), TrainingSettings.of(mode), dev)
        try:
            measured = bench.pack_speed(modality, arch, width, sizes["steps"], channels_last=mode["channels_last"],
                                        precision=mode["precision"])
            return {**measured, "deterministic": mode["deterministic"], "status": "ok"}
        except Exception as exc:  # e.g. out of memory: this row's result, not the section's
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            return {"modality": modality, "arch": arch, "width": width, **mode, "status": "failed",
                    "error": f"{type(exc).__name__}: {str(exc)[:500]}"}

    name = lambda case: f"pack_speed {case[1][0]}:{case[1][1]}×{case[1][2]} {case[0]}"  # noqa: E731
    rows = budget.each(cases, row, name)
    exact = TrainingSettings.of({"deterministic": True, "precision": "fp32"})
    configure(threads or torch.get_num_threads(), exact, dev)
    ran = [r for r in rows if r["status"] == "ok"]
    flops = {(m, a): bench.train_flops_per_sample(m, a) for m, a in {(r["modality"], r["arch"]) for r in ran}}
    for r in ran:
        r["achieved_tflops"] = r["train_samples_per_s"] * flops[(r["modality"], r["arch"])] / 1e12
    return {"rows": rows, "batch": bench.batch, "steps": sizes["steps"], "stops_gaining": _saturation(ran),
            "failed_rows": len(rows) - len(ran), "skipped_rows": len(cases) - len(rows)}


def _saturation(rows: list[dict]) -> list[dict]:
    """Per model and mode: the widest width that still gained ``GAIN`` over the one before it."""
    groups = {}
    for r in rows:
        key = (r["modality"], r["arch"], r["deterministic"], r["channels_last"], r["precision"])
        groups.setdefault(key, []).append(r)
    out = []
    for key, members in groups.items():
        members.sort(key=lambda r: r["width"])
        best = members[0]["width"]
        for before, after in zip(members, members[1:]):
            if after["train_samples_per_s"] >= GAIN * before["train_samples_per_s"]:
                best = after["width"]
            else:
                break
        single = members[0]["train_samples_per_s"]
        out.append({"model": f"{key[0]}:{key[1]}", "deterministic": key[2], "channels_last": key[3],
                    "precision": key[4], "gains_up_to_width": best,
                    "speedup_by_width": {r["width"]: round(r["train_samples_per_s"] / single, 3) for r in members}})
    return out


def _teacher_logits(dev: torch.device, config: dict, sizes: dict, threads) -> dict:
    """A tiny teacher trained on the device; its logits reproduce the accuracy it reported."""
    import h5py

    from ..data.build import build_windows
    from ..data.synthetic import write_synthetic
    from ..plan.packing import run_outputs
    from ..images.build import build_images
    from ..io import read_json
    from ..training.runs import train_teacher
    from ..training.teachers import write_teacher_logits

    training = {**config["training"], "device": dev.type, "epochs": sizes["teacher_epochs"], "batch_size": 16,
                "lr_milestones": [1] * len(config["training"]["lr_steps"]), "compile": False,
                "teacher_weights": "best"}  # its own split has no validation part: the epoch best_test_acc reports
    rows = []
    with tempfile.TemporaryDirectory(prefix="gafkd-device-check-") as folder:
        root = Path(folder)
        source = write_synthetic(root / "source", subjects=4, seconds_per_activity=11, seed=2, write_as="parquet")
        settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                    "stride": 500, "split": {"method": "subject", "train": 0.5, "test": 0.5, "seed": 0}}
        build_windows(source, settings, "check", root / "windows.h5")
        build_images(root / "windows.h5", root / "gaf.h5", {"image_size": 16, "method": "summation"})
        for modality in (IMAGE, SIGNAL):  # a GASF teacher (gaf.h5) and a signal teacher
            outputs = run_outputs(root / modality)
            Path(outputs["metrics"]).parent.mkdir(parents=True)
            train_teacher(root / "windows.h5", root / "gaf.h5", outputs, dataset="check", modality=modality,
                          arch=STUDENT, seed=0, training=training, threads=threads or 1, gpus=int(dev.type == "cuda"))
            logits = root / modality / "logits.h5"
            write_teacher_logits(outputs["weights"], root / "windows.h5", root / "gaf.h5", logits, training=training,
                                 gpus=int(dev.type == "cuda"), threads=threads or 1)
            reported = read_json(outputs["metrics"])["best_test_acc"]
            with h5py.File(logits, "r") as h5:
                reproduced = float(h5.attrs["test_acc"])
            rows.append({"teacher": f"{modality}:{STUDENT}", "reported_test_acc": reported,
                         "logits_test_acc": reproduced, "equal": reported == reproduced})
    if not all(r["equal"] for r in rows):
        raise RuntimeError(f"teacher logits do not reproduce the teachers' accuracy: {rows}")
    return {"rows": rows}


def _study_estimate(dev: torch.device, config: dict, pack_speed: dict, sizes: dict) -> dict:
    """The configured grid, under the configured packing, from the default mode's measured pack speeds."""
    from ..plan.packing import pack_widths
    from .estimates import packed_estimate

    if pack_speed.get("status") != "ok" or not any(r["status"] == "ok" for r in pack_speed["rows"]):
        raise RuntimeError("needs rows of the pack_speed section")
    training = TrainingSettings.of(config["training"]).for_stage("students")  # most runs
    default = {"deterministic": training.deterministic, "channels_last": training.channels_last,
               "precision": training.precision}
    if dev.type != "cuda" and default["precision"] == "tf32":
        default["precision"] = "fp32"
    ran = [r for r in pack_speed["rows"] if r["status"] == "ok"]
    rows = [r for r in ran if all(r[k] == v for k, v in default.items())]
    if not rows:
        rows = [r for r in ran if r["deterministic"] and r["channels_last"] and r["precision"] == "fp32"] or ran
    bench = Bench(dev, quick=True, image_size=sizes["image_size"], num_classes=14)
    archs = {r["arch"] for r in rows}
    measured = lambda teachers: {**teachers, "archs": [a for a in teachers["archs"] if a in archs]}  # noqa: E731
    study = {**config, "teachers": measured(config["teachers"]),  # a dataset's own teachers too
             "datasets": {name: {**d, "teachers": measured(d["teachers"])} if "archs" in d.get("teachers", {}) else d
                          for name, d in config["datasets"].items()}}
    models = [bench.model_speed(m, a) for m in (SIGNAL, IMAGE) for a in study["teachers"]["archs"]]
    if config["students"]["arch"] not in study["teachers"]["archs"]:
        models.append(bench.model_speed(SIGNAL, config["students"]["arch"]))
    widths = pack_widths({**config, "training": {**config["training"], "device": dev.type}})
    estimate = packed_estimate(models, {"rows": rows}, study, widths)
    return {"mode": default, "archs": sorted(archs), "image_size": sizes["image_size"], **estimate,
            "note": "the real study's window counts and epochs; on a CPU at small sizes (a smoke test, not a forecast)"
            if dev.type != "cuda" else "the real study's window counts and epochs"}


def section_line(name: str, section: dict) -> str:
    """One section's line: its status, time and what it found (a detail that cannot be said is left out: the
    line must not fail the check)."""
    try:
        detail = _detail(name, section)
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"(no summary: {type(exc).__name__} {exc})"
    return f"  {name:15s} {section['status']:8s} {section['seconds']:6.1f} s  {detail}"


def _detail(name: str, section: dict) -> str:
    detail = section.get("why") or section.get("error") or ""
    if name == "cuda_tests" and "summary" in section:
        detail = detail or section["summary"]
    if name == "memory" and section["status"] == "ok":
        detail = "; ".join(f"{r['model']}×{r['width']} {r['phase']}: estimate {r['estimate_bytes'] / 2**20:.0f} MiB"
                           + (f", measured {r['measured_bytes'] / 2**20:.0f} MiB" if r["measured_bytes"] else "")
                           for r in section["rows"])
    if name == "pack_speed" and section["status"] == "ok":
        student = [s for s in section["stops_gaining"] if s["model"] == f"{SIGNAL}:{STUDENT}"]
        detail = "; ".join(f"student det={s['deterministic']} cl={s['channels_last']} {s['precision']}: gains up to "
                           f"{s['gains_up_to_width']}" for s in student[:4])
        detail += f" ({section['failed_rows']} rows failed, {section['skipped_rows']} skipped)"
    if name == "families" and section["status"] == "ok":
        detail = f"{len(section['rows'])} family × input rows"
    if name == "teacher_logits" and section["status"] == "ok":
        detail = "; ".join(f"{r['teacher']} {r['logits_test_acc']:.2f} % = reported {r['reported_test_acc']:.2f} %"
                           for r in section["rows"])
    if name == "study_estimate" and section["status"] == "ok":
        detail = (f"{section['study_hours']:.2f} h (teachers {section['teachers_hours']:.2f} h, students "
                  f"{section['students_hours']:.2f} h; widths {section['widths']})")
    return detail


def format_report(report: dict) -> str:
    lines = [f"device check on {report['device']} ({report['seconds']:.0f} s"
             + (f" of a {report['budget_s']:g} s budget" if report.get("budget_s") else "") + "): "
             + ("every section ok or skipped" if report["ok"] else "FAILED sections below")]
    lines += [section_line(name, section) for name, section in report["sections"].items()]
    lines += [f"  skipped for time: {s['what']} (needs ≈{s['needs_s']:g} s, {s['left_s']:g} s left)"
              for s in report.get("skipped", [])]
    return "\n".join(lines)
