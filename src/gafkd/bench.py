"""``gafkd bench``: what the study costs on this machine, against the naive way, in one run.

Every speed is a median over repeats, and every target is a ratio of two numbers measured in the
same run (machines are shared and noisy). Sections:

- models: train (forward + backward + SGD step) and eval samples/s, peak memory, per arch and modality;
- loop: one epoch of the real training loop vs the same steps on preloaded batches (``loop_overhead``);
- kd: a student step with cached teacher logits vs with live teachers (``kd_cached_vs_live``), and the
  old scripts' way — a DataLoader of per-sample HDF5 reads with live teachers (``ours_vs_naive``);
- gaf: windows/s of :mod:`gafkd.gaf` vs pyts batched per axis (``gaf_vs_pyts``), equal numbers checked;
- estimate: measured per-epoch costs summed over the configured grid (``study_hours``).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .distillation import DistillationLoss
from .gaf import GramianAngularField
from .models import build_model, count_parameters
from .provenance import package_versions
from .training.data import RunData
from .training.device import configure, device_name
from .training.loop import _train_epoch
from .training.teachers import CachedLogits, LiveTeacher

ARCHS = ("wrn16-1", "wrn16-3", "wrn28-1", "wrn28-3")
# Window counts of the real study (protocol.md); 14-class 500w assumed 2 × the source study's 16,292
# 10-s windows, split 0.7/0.25. Used only for the full-study estimate.
STUDY_SIZES = {"gene14_w500": (500, 22_809, 8_146), "gene7_w500": (500, 2_809, 2_882),
               "gene7_w1000": (1000, 1_349, 1_385)}


def _median_time(fn, repeats: int, sync) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Bench:
    def __init__(self, device: torch.device, quick: bool, image_size: int = 64, num_classes: int = 14):
        self.device, self.quick = device, quick
        self.image_size, self.num_classes = image_size, num_classes
        self.batch = 64
        self.repeats = 3 if quick else 7
        self.cuda = device.type == "cuda"
        self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)

    def inputs(self, modality: str, n: int, length: int = 500) -> torch.Tensor:
        shape = (n, 3, self.image_size, self.image_size) if modality == "gaf" else (n, 3, length)
        return torch.randn(shape, device=self.device)

    # -- models ------------------------------------------------------------------------------
    def model_speed(self, modality: str, arch: str, length: int = 500, channels_last: bool = True) -> dict:
        torch.manual_seed(0)
        model = build_model(arch, modality, self.num_classes).to(self.device)
        channels_last = channels_last and modality == "gaf"
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = self.inputs(modality, self.batch, length), torch.randint(0, self.num_classes, (self.batch,),
                                                                         device=self.device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

        def step():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        step()  # warm-up
        train = _median_time(step, self.repeats, self.sync)
        model.eval()
        with torch.no_grad():
            model(x)
            evaluate = _median_time(lambda: model(x), self.repeats, self.sync)
        peak = torch.cuda.max_memory_allocated() / 2**20 if self.cuda else _rss_mb()
        return {"modality": modality, "arch": arch, "params": count_parameters(model), "channels_last": channels_last,
                "train_samples_per_s": self.batch / train, "eval_samples_per_s": self.batch / evaluate,
                "peak_memory_mb": round(peak, 1), "memory_kind": "cuda allocated" if self.cuda else "process rss"}

    # -- the training loop vs preloaded batches ----------------------------------------------
    def loop_overhead(self, n_train: int) -> dict:
        data = self._run_data("sig", n_train)
        torch.manual_seed(0)
        model = build_model("wrn16-1", "sig", self.num_classes).to(self.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = DistillationLoss()
        n_batches = -(-n_train // self.batch)
        batches = [(data.batch(data.train_idx[b * self.batch:(b + 1) * self.batch]),
                    data.labels[data.train_idx[b * self.batch:(b + 1) * self.batch]]) for b in range(n_batches)]

        def loop_epoch():
            _train_epoch(model, data, loss, [], optimizer, 0, 0, self.batch, n_batches)

        def preloaded_epoch():
            model.train()
            for xb, yb in batches:
                optimizer.zero_grad(set_to_none=True)
                loss(model(xb), yb).backward()
                optimizer.step()

        loop_epoch(), preloaded_epoch()
        ours = _median_time(loop_epoch, self.repeats, self.sync)
        limit = _median_time(preloaded_epoch, self.repeats, self.sync)
        return {"windows": n_train, "loop_s": ours, "preloaded_s": limit, "loop_overhead": ours / limit - 1}

    def _run_data(self, modality: str, n: int, length: int = 500) -> RunData:
        generator = torch.Generator().manual_seed(0)
        shape = (n, 3, self.image_size, self.image_size) if modality == "gaf" else (n, 3, length)
        inputs = torch.randn(shape, generator=generator)
        if modality == "gaf":
            inputs = inputs.clamp(-1, 1).half()
        labels = torch.randint(0, self.num_classes, (n,), generator=generator)
        return RunData(inputs, labels, torch.arange(n), torch.arange(0), torch.zeros(3), torch.ones(3),
                       self.num_classes, "bench").to(self.device)

    # -- distillation: cached logits vs live teachers vs the naive loader ---------------------
    def kd(self, steps: int, h5_path: Path) -> dict:
        n = steps * self.batch
        signals, images = self._run_data("sig", n), self._run_data("gaf", n)
        torch.manual_seed(0)
        gaf_teacher = build_model("wrn16-3", "gaf", self.num_classes).to(self.device).eval()
        sig_teacher = build_model("wrn16-3", "sig", self.num_classes).to(self.device).eval()
        live = {"one": [LiveTeacher(gaf_teacher, images)],
                "two": [LiveTeacher(gaf_teacher, images), LiveTeacher(sig_teacher, signals)]}
        cached = {k: [CachedLogits(t(torch.arange(n, device=self.device))) for t in v] for k, v in live.items()}
        result = {"steps": steps}
        for key, weights in (("one", (1.0,)), ("two", (0.3, 0.7))):
            loss = DistillationLoss(weights, 0.7)
            result[f"cached_{key}_s"] = self._epoch_time(signals, loss, cached[key], steps)
            result[f"live_{key}_s"] = self._epoch_time(signals, loss, live[key], steps)
            result[f"cached_vs_live_{key}"] = result[f"live_{key}_s"] / result[f"cached_{key}_s"]
        result["naive_one_s"] = self._naive_epoch(h5_path, signals, images, gaf_teacher, steps)
        result["ours_vs_naive"] = result["naive_one_s"] / result["cached_one_s"]
        return result

    def _epoch_time(self, data, loss, teachers, steps) -> float:
        torch.manual_seed(0)
        model = build_model("wrn16-1", "sig", self.num_classes).to(self.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        run = lambda: _train_epoch(model, data, loss, teachers, optimizer, 0, 0, self.batch, steps)  # noqa: E731
        run()
        return _median_time(run, max(1, self.repeats // 2), self.sync)

    def _naive_epoch(self, h5_path, signals, images, teacher, steps) -> float:
        """The old scripts: a shuffled DataLoader reading each sample from HDF5, a live GAF teacher."""
        import h5py
        from torch.utils.data import DataLoader, Dataset

        with h5py.File(h5_path, "w") as h5:
            h5["signals"] = signals.inputs.cpu().numpy()
            h5["images"] = images.inputs.cpu().float().numpy()
            h5["labels"] = signals.labels.cpu().numpy()

        class PerSample(Dataset):
            def __len__(self):
                return len(signals.labels)

            def __getitem__(self, i):
                with h5py.File(h5_path, "r") as h5:
                    return (torch.from_numpy(h5["signals"][i]), torch.from_numpy(h5["images"][i]),
                            int(h5["labels"][i]))

        torch.manual_seed(0)
        model = build_model("wrn16-1", "sig", self.num_classes).to(self.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = DistillationLoss((1.0,), 0.7)
        loader = DataLoader(PerSample(), batch_size=self.batch, shuffle=True)

        def epoch():
            for x, img, y in loader:
                x, img, y = x.to(self.device), img.to(self.device), y.to(self.device)
                with torch.no_grad():
                    t = teacher(img)
                optimizer.zero_grad(set_to_none=True)
                loss(model(x), y, [t]).backward()
                optimizer.step()

        return _median_time(epoch, 1, self.sync)

    # -- GAF --------------------------------------------------------------------------------
    def gaf(self, n_windows: int, length: int = 500) -> dict:
        rng = np.random.default_rng(0)
        windows = rng.normal(size=(n_windows, 3, length)).cumsum(-1).astype(np.float32)
        ours = GramianAngularField(self.image_size)
        started = time.perf_counter()
        from pyts.image import GramianAngularField as PytsGAF

        pyts_import = time.perf_counter() - started
        oracle = PytsGAF(image_size=self.image_size, method="summation")
        oracle.fit_transform(windows[:4, 0].astype(np.float64))  # warm-up
        flat = windows.reshape(-1, length).astype(np.float64)
        ours_s = _median_time(lambda: ours.transform(windows, out_dtype=np.float16), self.repeats, lambda: None)
        pyts_s = _median_time(lambda: oracle.fit_transform(flat), max(1, self.repeats // 2), lambda: None)
        diff = float(np.abs(ours.transform(windows[:64]) - oracle.fit_transform(flat[:192]).reshape(64, 3, *(
            [self.image_size] * 2))).max())
        return {"windows": n_windows, "ours_windows_per_s": n_windows / ours_s,
                "pyts_windows_per_s": n_windows / pyts_s, "gaf_vs_pyts": pyts_s / ours_s,
                "max_abs_difference": diff, "pyts_import_s": pyts_import}


def study_estimate(models: list[dict], config: dict) -> dict:
    """Hours of the configured grid from measured per-sample costs (sizes: the real study's)."""
    from .grid import experiments, teacher_runs

    speed = {(m["modality"], m["arch"]): m for m in models}
    epochs = config["training"]["epochs"]
    seconds = {}
    for dataset, (length, n_train, n_test) in STUDY_SIZES.items():
        if dataset not in config["datasets"]:
            continue
        scale = length / 500  # the signal models' cost grows with the window; images do not

        def epoch_s(modality, arch):
            m = speed[(modality, arch)]
            factor = scale if modality == "sig" else 1.0
            return factor * (n_train / m["train_samples_per_s"] + n_test / m["eval_samples_per_s"])

        teachers = sum(epoch_s(m, a) for m, a, _ in teacher_runs(config))
        student = epoch_s("sig", config["students"]["arch"])
        n_students = len(experiments(config)) * len(config["students"]["seeds"])
        seconds[dataset] = epochs * (teachers + n_students * student)
    return {"hours_per_dataset": {k: v / 3600 for k, v in seconds.items()}, "study_hours": sum(seconds.values()) / 3600,
            "epochs": epochs, "sizes": STUDY_SIZES}


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool = False, device: str = "auto", config: dict | None = None, scratch: Path | None = None,
        threads: int | None = None) -> dict:
    import os
    import tempfile

    dev = torch.device("cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    configure(threads or os.cpu_count() or 1, deterministic=False, device=dev)
    bench = Bench(dev, quick)
    models = [bench.model_speed(m, a) for m in ("sig", "gaf") for a in ARCHS]
    contiguous = {a: bench.model_speed("gaf", a, channels_last=False) for a in ARCHS[:2]}
    channels_last = {a: next(m for m in models if m["modality"] == "gaf" and m["arch"] == a)["train_samples_per_s"]
                     / contiguous[a]["train_samples_per_s"] for a in contiguous}
    scratch = Path(scratch or tempfile.mkdtemp(prefix="gafkd-bench-"))
    kd = bench.kd(steps=4 if quick else 16, h5_path=scratch / "naive.h5")
    loop = bench.loop_overhead(n_train=1024 if quick else 8192)
    gaf = bench.gaf(2048 if quick else 16384)
    report = {"device": device_name(dev), "quick": quick, "packages": package_versions(),
              "kd_cached_vs_live": kd["cached_vs_live_one"], "gaf_vs_pyts": gaf["gaf_vs_pyts"],
              "loop_overhead": loop["loop_overhead"], "ours_vs_naive": kd["ours_vs_naive"],
              "channels_last_speedup": channels_last, "models": models, "kd": kd, "loop": loop, "gaf": gaf}
    if config is not None:
        report["estimate"] = study_estimate(models, config)
        report["study_hours"] = report["estimate"]["study_hours"]
    return report


def format_report(report: dict) -> str:
    from tabulate import tabulate

    rows = [[m["modality"], m["arch"], f"{m['params']:,}", f"{m['train_samples_per_s']:.1f}",
             f"{m['eval_samples_per_s']:.1f}", f"{m['peak_memory_mb']:.0f}"] for m in report["models"]]
    lines = [f"gafkd bench on {report['device']}{' (quick)' if report['quick'] else ''}", "",
             tabulate(rows, headers=["modality", "arch", "params", "train samples/s", "eval samples/s",
                                     "peak MB"], tablefmt="github"), ""]
    kd, gaf, loop = report["kd"], report["gaf"], report["loop"]
    ratios = [
        ["kd_cached_vs_live (1 GAF teacher)", f"{kd['cached_vs_live_one']:.1f}×", "≥ 30×"],
        ["kd cached vs live (GAF + signal)", f"{kd['cached_vs_live_two']:.1f}×", ""],
        ["ours vs naive (per-sample HDF5 DataLoader, live teacher)", f"{kd['ours_vs_naive']:.1f}×", ""],
        ["loop_overhead (real loop vs preloaded batches)", f"{loop['loop_overhead'] * 100:+.1f}%", "≤ 10%"],
        ["gaf_vs_pyts", f"{gaf['gaf_vs_pyts']:.1f}× ({gaf['ours_windows_per_s']:.0f} vs "
                        f"{gaf['pyts_windows_per_s']:.0f} windows/s, max diff {gaf['max_abs_difference']:.1e})",
         "≥ 3×"],
    ]
    for arch, ratio in report.get("channels_last_speedup", {}).items():
        ratios.append([f"channels_last vs contiguous, 2-D {arch} training", f"{ratio:.2f}×", ""])
    lines += [tabulate(ratios, headers=["ratio", "measured", "target"], tablefmt="github"), ""]
    if "estimate" in report:
        est = report["estimate"]
        per = ", ".join(f"{k} {v:.2f} h" for k, v in est["hours_per_dataset"].items())
        lines.append(f"full study estimate ({est['epochs']} epochs): {est['study_hours']:.2f} h on this device ({per})")
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    Path(path).write_text(json.dumps(report, indent=2, default=str) + "\n")
