"""The study's cost on this machine, from what the bench measured: per-epoch costs summed over the configured grid
(``study_hours``), per run and, with packs, in the configured packing (``packed``: teachers and students apart),
and the grid's student phase with live teachers over cached logits (``kd_cached_vs_live_grid``)."""

from __future__ import annotations

from ..images.registry import SIGNAL
from .harness import measured_as
from .sections import Described

# Window counts of the real study (protocol.md); 14-class 500w assumed 2 × the source study's 16,292
# 10-s windows, split 0.7/0.25. Used only for the full-study estimate.
STUDY_SIZES = {"gene14_w500": (500, 22_809, 8_146), "gene7_w500": (500, 2_809, 2_882),
               "gene7_w1000": (1000, 1_349, 1_385)}


def study_estimate(models: list[dict], config: dict, images: dict | None = None) -> dict:
    """Hours of the configured grid from measured per-sample costs (sizes: the real study's).

    With ``images`` (the bench's images section) also the seconds to turn each whole dataset into each
    representation the teachers use: every window, including those the split leaves out.
    """
    from ..grid import for_dataset, teacher_runs, trained_experiments

    speed = {(m["modality"], m["arch"]): m for m in models}
    epochs = config["training"]["epochs"]
    seconds, image_seconds = {}, {}
    for dataset, (length, n_train, n_test) in STUDY_SIZES.items():
        if dataset not in config["datasets"]:
            continue
        view = for_dataset(config, dataset)
        if images is not None:
            split = config["datasets"][dataset].get("split", {})
            by_fraction = split.get("method", "subject") != "subjects" and "train" in split and "test" in split
            used = split["train"] + split["test"] if by_fraction else 1.0
            image_seconds[dataset] = {name: (n_train + n_test) / used / images[name]["ours_windows_per_s_by_length"]
                                      [length] for name in view["teachers"]["modalities"] if name in images}
        scale = length / 500  # the signal models' cost grows with the window; images do not

        def epoch_s(modality, arch):
            m = speed[(measured_as(modality), arch)]
            factor = scale if modality == SIGNAL else 1.0
            return factor * (n_train / m["train_samples_per_s"] + n_test / m["eval_samples_per_s"])

        teachers = sum(epoch_s(m, a) for m, a, _ in teacher_runs(view))
        student = epoch_s(SIGNAL, view["students"]["arch"])
        n_students = len(trained_experiments(view)) * len(view["students"]["seeds"])
        seconds[dataset] = epochs * (teachers + n_students * student)
    return {"hours_per_dataset": {k: v / 3600 for k, v in seconds.items()}, "study_hours": sum(seconds.values()) / 3600,
            "epochs": epochs, "sizes": STUDY_SIZES, "image_seconds_per_dataset": image_seconds}


def packed_estimate(models: list[dict], packs: dict, config: dict, widths: dict) -> dict:
    """Hours of the configured grid trained in packs of ``widths``: teachers and students apart.

    A pack of width w trains its w members at once at its aggregate samples/s (taken from the measured
    width nearest to w), so each member's share of the pack's time is n_train / aggregate; evaluation
    at the single model's measured speed.
    """
    from ..plan.packing import balanced_chunks
    from ..grid import for_dataset, teacher_runs, trained_experiments

    measured = {}
    for r in packs["rows"]:
        measured.setdefault((r["modality"], r["arch"]), {})[r["width"]] = r["train_samples_per_s"]
    eval_speed = {(m["modality"], m["arch"]): m["eval_samples_per_s"] for m in models}

    def per_run_train(modality, arch, width):
        """Samples/s of a member's share: the aggregate rate of the nearest measured pack width."""
        rates = measured[(modality, arch)]
        return rates[min(rates, key=lambda w: (abs(w - width), w))]

    epochs, teachers_s, students_s, student_width = config["training"]["epochs"], 0.0, 0.0, 1
    for dataset, (length, n_train, n_test) in STUDY_SIZES.items():
        if dataset not in config["datasets"]:
            continue
        view = for_dataset(config, dataset)
        student = view["students"]["arch"]
        n_students = len(trained_experiments(view)) * len(view["students"]["seeds"])
        student_width = max([len(c) for c in balanced_chunks(list(range(n_students)), widths["students"])]
                            + [student_width])
        scale = length / 500
        for modality, arch, _ in teacher_runs(view):
            factor = scale if modality == SIGNAL else 1.0
            width = min(widths["teachers"], len(view["teachers"]["seeds"]))
            teachers_s += epochs * factor * (n_train / per_run_train(measured_as(modality), arch, width)
                                             + n_test / eval_speed[(measured_as(modality), arch)])
        students_s += epochs * n_students * scale * (n_train / per_run_train(SIGNAL, student, student_width)
                                                     + n_test / eval_speed[(SIGNAL, student)])
    return {"widths": widths, "student_pack_width": student_width, "teachers_hours": teachers_s / 3600,
            "students_hours": students_s / 3600, "study_hours": (teachers_s + students_s) / 3600}


def kd_grid_ratio(models: list[dict], kd: dict, config: dict) -> float:
    """Student phase of the configured grid with live teachers over the same with cached logits.

    Per experiment: the cached student step (cross-entropy only for the student alone) plus, when live,
    each teacher's forward at its measured eval speed (L = 500; channels-last, as the pipeline runs).
    """
    from ..grid import experiments
    from ..names import ModelId

    speed = {(m["modality"], m["arch"]): m["eval_samples_per_s"] for m in models}
    per_sample = {k: v / kd["batch"] for k, v in kd["step_s"].items()}
    cached = live = 0.0
    for experiment in experiments(config):
        student = per_sample["cached_one"] if experiment.teachers else per_sample["ce"]
        cached += student
        teachers = [ModelId.parse(t) for t in experiment.teachers]
        live += student + sum(1 / speed[measured_as(t.modality), t.arch] for t in teachers)
    return live / cached


def add_estimates(report: dict, config: dict, device_type: str) -> None:
    """The study estimates from what was measured (each left out, with the reason, when a part is missing)."""
    models = report["models"]
    if "kd" in report:
        report["kd_cached_vs_live_grid"] = kd_grid_ratio(models, report["kd"], config)
    report["estimate"] = study_estimate(models, config, report.get("images"))
    report["study_hours"] = report["estimate"]["study_hours"]
    packs = report.get("packs")
    if packs:
        from ..plan.packing import pack_widths

        # the widths this device would train in (the config's own device may differ)
        widths = pack_widths({**config, "training": {**config["training"], "device": device_type}})
        try:
            report["estimate"]["packed"] = packed_estimate(models, packs, config, widths)
        except KeyError as missing:
            report["skipped"].append({"what": f"packed estimate (no pack rows for {missing})", "needs_s": None,
                                      "left_s": 0.0})


def describe(report: dict) -> Described:
    if "estimate" not in report:
        return Described()
    est = report["estimate"]
    per = ", ".join(f"{k} {v:.2f} h" for k, v in est["hours_per_dataset"].items())
    lines = [f"full study estimate ({est['epochs']} epochs): {est['study_hours']:.2f} h on this device ({per})"]
    if "packed" in est:
        p = est["packed"]
        lines.append(f"  in packs (teachers ≤ {p['widths']['teachers']}, students {p['student_pack_width']} a pack): "
                     f"{p['study_hours']:.2f} h (teachers {p['teachers_hours']:.2f} h, "
                     f"students {p['students_hours']:.2f} h)")
    for dataset, seconds in est.get("image_seconds_per_dataset", {}).items():
        lines.append(f"whole-dataset images, {dataset}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    return Described(lines=lines)
