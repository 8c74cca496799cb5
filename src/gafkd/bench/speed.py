"""``gafkd bench``: what the study costs on this machine, against the naive way, in one run.

Every speed is a median over repeats, and every target is a ratio of two numbers measured in the
same run (machines are shared and noisy). Sections:

- models: train (forward + backward + SGD step) and eval samples/s, peak memory, per arch and modality;
- loop: one epoch of the real training loop vs the same steps on preloaded batches (``loop_overhead``);
- kd: a student step with cached teacher logits vs with live teachers (``kd_cached_vs_live``: a live
  GAF WRN16-3; every GAF arch in ``kd_cached_vs_live_by_teacher``; the configured grid's mix in
  ``kd_cached_vs_live_grid``), the cached step vs a cross-entropy-only step (``kd_cached_vs_ce``), and
  the old scripts' way — a DataLoader of per-sample HDF5 reads with a live teacher (``ours_vs_naive``);
- images: windows/s of every representation of the registry (:mod:`gafkd.gaf.registry`) vs each reference
  its entry names (``{name}_vs_reference``: over the fastest, against the entry's target), equal images checked;
- packs: aggregate training samples/s of fused packs (the student at widths 1, 4, 16, 64; every teacher at
  width 3) through the real epoch loop, against one run in the same run (``pack_speedup``), and the
  FLOP/s they achieve (``torch.utils.flop_counter``);
- readers: samples/s of the GENEActiv ``.bin`` reader on a written multi-hour recording against the CSV
  (and Parquet) recordings reader on the same samples (``bin_vs_csv``; :mod:`.readers`);
- estimate: measured per-epoch costs summed over the configured grid (``study_hours``), per run and,
  with ``packs``, in the configured packing (``packed``: teachers and students apart).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..distillation.pack import PackLoss
from ..distillation.registry import STAGES
from ..distillation.spec import LossSpec
from ..gaf.registry import REPRESENTATIONS, SIGNAL
from ..schema import section_defaults
from ..models import build_model, count_parameters
from ..models.fused import build_fused
from ..io import write_text_atomic
from ..provenance import package_versions
from .budget import QUICK_BUDGET, UNLIMITED, Budget
from .readers import reader_speed
from ..training.data import RunData
from ..training.device import autocast, configure, device_name
from ..training.loop import train_epoch
from ..training.optim import SGD
from ..training.targets import CachedTeachers, LiveTeachers

ARCHS = ("wrn16-1", "wrn16-3", "wrn28-1", "wrn28-3")
# Window counts of the real study (protocol.md); 14-class 500w assumed 2 × the source study's 16,292
# 10-s windows, split 0.7/0.25. Used only for the full-study estimate.
STUDY_SIZES = {"gene14_w500": (500, 22_809, 8_146), "gene7_w500": (500, 2_809, 2_882),
               "gene7_w1000": (1000, 1_349, 1_385)}
SPKD_PACK = 10  # members of one seed in the SPKD step's pack: the notes' ten weight triples
KD_TEACHER = "wrn16-3"  # the live GAF teacher of the headline ``kd_cached_vs_live`` (the protocol's example pair)
# channels_last / bf16 ratios, cheapest first (a budget keeps the first ones)
FAST_PATH_MODELS = (("sig", "wrn16-1"), ("gaf", "wrn16-1"), ("gaf", "wrn16-3"))
# each section's share of the time left when it starts, under a budget (the last takes what remains)
SHARES = {"models": 0.3, "fast_paths": 0.1, "kd": 0.3, "loop": 0.1, "images": 0.35, "readers": 0.15, "packs": 0.7,
          "families": 1.0}


def _median_time(fn, repeats: int, sync) -> float:
    return _interleaved_medians({"fn": fn}, repeats, sync)["fn"]


def _interleaved_medians(fns: dict, repeats: int, sync) -> dict:
    """Median seconds of each function, timed in alternating rounds (A B C, A B C, ...).

    The things a ratio compares are timed side by side, so that a slow minute on a shared machine
    slows both sides rather than one.
    """
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


class Bench:
    def __init__(self, device: torch.device, quick: bool, image_size: int = 64, num_classes: int = 14, axes: int = 3):
        self.device, self.quick = device, quick
        # GENEActiv's shape by default (3 axes); `gafkd bench --axes 40` times PAMAP2's
        self.image_size, self.num_classes, self.axes = image_size, num_classes, axes
        self.batch = 64
        self.repeats = 3 if quick else 7
        self.cuda = device.type == "cuda"
        self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)
        self.flops = {}  # (modality, arch, length) → training FLOPs per sample

    def inputs(self, modality: str, n: int, length: int = 500) -> torch.Tensor:
        shape = (n, self.axes, self.image_size, self.image_size) if modality == "gaf" else (n, self.axes, length)
        return torch.randn(shape, device=self.device)

    # -- models ------------------------------------------------------------------------------
    def model(self, modality: str, arch: str, channels_last: bool = True):
        """A freshly initialised model (seed 0) on the device, channels-last as the pipeline runs it."""
        torch.manual_seed(0)
        model = build_model(arch, modality, self.num_classes, axes=self.axes).to(self.device)
        return model.to_channels_last() if channels_last else model

    def step_functions(self, modality: str, arch: str, length: int = 500, channels_last: bool = True,
                       precision: str = "fp32"):
        """(model, a warmed-up training step, an inference forward) on one batch of random inputs."""
        model = self.model(modality, arch, channels_last)
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = self.inputs(modality, self.batch, length), torch.randint(0, self.num_classes, (self.batch,),
                                                                         device=self.device)
        if channels_last and modality == "gaf":
            x = x.contiguous(memory_format=torch.channels_last)  # 1-D models lay out their own input
        cast = lambda: autocast({"precision": precision}, self.device)  # noqa: E731

        def step():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with cast():
                logits = model(x)
            F.cross_entropy(logits.float(), y).backward()
            optimizer.step()

        def forward():
            model.eval()
            with torch.no_grad(), cast():
                model(x)

        step()
        return model, step, forward

    def model_speed(self, modality: str, arch: str, length: int = 500, channels_last: bool = True,
                    precision: str = "fp32") -> dict:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        model, step, forward = self.step_functions(modality, arch, length, channels_last, precision)
        train = _median_time(step, self.repeats, self.sync)
        forward()
        evaluate = _median_time(forward, self.repeats, self.sync)
        peak = torch.cuda.max_memory_allocated() / 2**20 if self.cuda else _rss_mb()
        return {"modality": modality, "arch": arch, "params": count_parameters(model), "channels_last": channels_last,
                "precision": precision, "train_samples_per_s": self.batch / train,
                "eval_samples_per_s": self.batch / evaluate, "peak_memory_mb": round(peak, 1),
                "memory_kind": "cuda allocated" if self.cuda else "process rss"}

    def timed_speeds(self, models: list[tuple[str, str]], budget: Budget = UNLIMITED) -> list[dict]:
        """:meth:`model_speed` of each (modality, arch), cheapest first while ``budget`` allows; each one left
        out is estimated from its training FLOPs at the rate the timed models of its input kind achieved
        (``timed``: False)."""
        flops = {m: self.train_flops_per_sample(*m) for m in models}
        order = sorted(models, key=lambda m: flops[m])
        measured = budget.each(order, lambda m: self.model_speed(*m), lambda m: f"models {m[0]}:{m[1]}")
        timed = {(r["modality"], r["arch"]): {**r, "timed": True} for r in measured}
        rows = []
        for modality, arch in models:
            if (modality, arch) in timed:
                rows.append(timed[(modality, arch)])
                continue
            alike = [k for k in timed if k[0] == modality] or list(timed)
            rate = {kind: float(np.median([timed[k][f"{kind}_samples_per_s"] * flops[k] for k in alike]))
                    for kind in ("train", "eval")}
            rows.append({"modality": modality, "arch": arch, "params": None, "channels_last": True,
                         "precision": "fp32", "peak_memory_mb": None, "memory_kind": None, "timed": False,
                         **{f"{kind}_samples_per_s": r / flops[(modality, arch)] for kind, r in rate.items()},
                         "estimated_as": "its FLOPs at the FLOP/s the timed models of its input kind achieved"})
        return rows

    # -- packs: many runs as one fused model ---------------------------------------------------
    def pack_epoch(self, modality: str, arch: str, width: int, steps: int, length: int = 500,
                   channels_last: bool = True, precision: str = "fp32"):
        """A warmed-up training epoch of ``steps`` batches of a pack of ``width`` through the real epoch loop."""
        data = self._run_data(modality, steps * self.batch, length)
        data.channels_last = channels_last
        model = build_fused(arch, modality, self.num_classes, list(range(width)), axes=self.axes).to(self.device)
        model = model.to_channels_last() if channels_last else model
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = PackLoss([LossSpec()] * width, self.device)
        cast = lambda: autocast({"precision": precision}, self.device)  # noqa: E731
        epoch = lambda: train_epoch(model, data, loss, None, optimizer, list(range(width)), 0, self.batch,  # noqa: E731
                                    precision=cast)
        epoch()
        return epoch

    def pack_speed(self, modality: str, arch: str, width: int, steps: int, length: int = 500,
                   channels_last: bool = True, precision: str = "fp32") -> dict:
        """Training samples/s (all members together) of a pack of ``width`` through the real epoch loop."""
        epoch = self.pack_epoch(modality, arch, width, steps, length, channels_last, precision)
        seconds = _median_time(epoch, max(1, self.repeats // 2), self.sync)
        return {"modality": modality, "arch": arch, "width": width, "channels_last": channels_last,
                "precision": precision, "train_samples_per_s": width * steps * self.batch / seconds}

    def pack_speeds(self, modality: str, arch: str, widths, steps: int, length: int = 500) -> dict[int, float]:
        """Training samples/s (all members together) by pack width, the widths timed in alternating rounds
        (their ratios are what a choice of width reads)."""
        epochs = {w: self.pack_epoch(modality, arch, w, steps, length) for w in widths}
        seconds = _interleaved_medians(epochs, max(1, self.repeats // 2), self.sync)
        return {w: w * steps * self.batch / seconds[w] for w in widths}

    def train_flops_per_sample(self, modality: str, arch: str, length: int = 500) -> float:
        """Forward + backward FLOPs of one training sample (``torch.utils.flop_counter``), counted once per model."""
        from torch.utils.flop_counter import FlopCounterMode

        key = (modality, arch, length)
        if key not in self.flops:
            model = self.model(modality, arch)
            x = self.inputs(modality, 2, length)
            with FlopCounterMode(display=False) as counter:
                F.cross_entropy(model(x), torch.zeros(2, dtype=torch.long, device=self.device)).backward()
            self.flops[key] = counter.get_total_flops() / 2
        return self.flops[key]

    def packs(self, student_widths=(1, 4, 16, 64), teacher_width: int = 3, models=None,
              budget: Budget = UNLIMITED) -> dict:
        """``models``: the (modality, arch) teachers to time (default: the study's WRNs, 1-D and 2-D); under a
        ``budget`` the shapes that do not fit are skipped (a model's width 1 is timed before its pack)."""
        steps = 2 if self.quick else 4
        shapes = [("sig", "wrn16-1", w) for w in student_widths]
        models = models or [(m, a) for m in ("sig", "gaf") for a in ARCHS]
        shapes += [(m, a, w) for m, a in models for w in (1, teacher_width)]
        rows = budget.each(dict.fromkeys(shapes), lambda s: self.pack_speed(*s, steps),  # each once
                           lambda s: f"packs {s[0]}:{s[1]}×{s[2]}")
        flops = {(m, a): self.train_flops_per_sample(m, a) for m, a in {(r["modality"], r["arch"]) for r in rows}}
        single = {(r["modality"], r["arch"]): r["train_samples_per_s"] for r in rows if r["width"] == 1}
        rows = [r for r in rows if (r["modality"], r["arch"]) in single]  # a pack without its single run: no ratio
        for r in rows:
            r["speedup_vs_one_run"] = r["train_samples_per_s"] / single[(r["modality"], r["arch"])]
            r["train_flops_per_sample"] = flops[(r["modality"], r["arch"])]
            r["achieved_tflops"] = r["train_samples_per_s"] * r["train_flops_per_sample"] / 1e12
        return {"steps": steps, "batch": self.batch, "rows": rows}

    def families(self, width: int = 4, steps: int = 2, budget: Budget = UNLIMITED) -> list[dict]:
        """Per model family (its registry example) and input kind it is built for: training and evaluation
        samples/s of one run, channels-last against contiguous training (the pipeline's default layout must pay
        for every family), and a pack of ``width`` against as many separate runs."""
        from ..models.families import FAMILIES

        def row(case):
            name, family, dims = case
            modality = "sig" if dims == 1 else "gaf"
            model, step, forward = self.step_functions(modality, family.example)  # channels-last, as trained
            layouts = {"nhwc": step, "contiguous": self.step_functions(modality, family.example, channels_last=False)[1]}
            seconds = _interleaved_medians(layouts, self.repeats, self.sync)
            forward()
            evaluate = _median_time(forward, self.repeats, self.sync)
            packs = self.pack_speeds(modality, family.example, (1, width), steps)
            return {"family": name, "arch": family.example, "modality": modality,
                    "params": count_parameters(model), "train_samples_per_s": self.batch / seconds["nhwc"],
                    "eval_samples_per_s": self.batch / evaluate,
                    "channels_last_speedup": seconds["contiguous"] / seconds["nhwc"], "width": width,
                    "pack_vs_separate": packs[width] / packs[1]}

        cases = [(name, family, dims) for name, family in FAMILIES.items() for dims in family.dims]
        return budget.each(cases, row, lambda c: f"families {c[1].example} {c[2]}-D")

    # -- the training loop vs preloaded batches ----------------------------------------------
    def loop_overhead(self, n_train: int) -> dict:
        data = self._run_data("sig", n_train)
        model = self.model("sig", "wrn16-1")
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = PackLoss([LossSpec()], self.device)
        n_batches = -(-n_train // self.batch)
        batches = [(data.batch(data.train_idx[b * self.batch:(b + 1) * self.batch]),
                    data.labels[data.train_idx[b * self.batch:(b + 1) * self.batch]]) for b in range(n_batches)]

        def loop_epoch():
            train_epoch(model, data, loss, None, optimizer, [0], 0, self.batch, n_batches)

        def preloaded_epoch():
            model.train()
            for xb, yb in batches:
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(xb), yb).backward()  # the loop's loss for a run without teachers
                optimizer.step()

        loop_epoch(), preloaded_epoch()
        medians = _interleaved_medians({"loop": loop_epoch, "preloaded": preloaded_epoch}, self.repeats, self.sync)
        ours, limit = medians["loop"], medians["preloaded"]
        return {"windows": n_train, "loop_s": ours, "preloaded_s": limit, "loop_overhead": ours / limit - 1}

    def _run_data(self, modality: str, n: int, length: int = 500) -> RunData:
        generator = torch.Generator().manual_seed(0)
        shape = (n, self.axes, self.image_size, self.image_size) if modality == "gaf" else (n, self.axes, length)
        inputs = torch.randn(shape, generator=generator)
        if modality == "gaf":
            inputs = inputs.clamp(-1, 1).half()
        labels = torch.randint(0, self.num_classes, (n,), generator=generator)
        return RunData(inputs, labels, torch.arange(n), torch.arange(0), torch.zeros(self.axes), torch.ones(self.axes),
                       self.num_classes, "bench", axes=self.axes).to(self.device)

    # -- distillation: cached logits vs live teachers vs the naive loader ---------------------
    def kd(self, steps: int, h5_path: Path, budget: Budget = UNLIMITED) -> dict:
        """Seconds per student step: cross-entropy only, cached logits, live teachers, the naive loader. The
        headline (cached against the live :data:`KD_TEACHER`) always; under a ``budget`` the other comparisons
        while they fit, each one's ratio only when both its sides ran."""
        n = steps * self.batch
        signals, images = self._run_data("sig", n), self._run_data("gaf", n)
        images.channels_last = True
        live_steps = max(2, steps // 4)  # live 2-D teachers are slow; the ratio is per step
        gaf_teachers = {}
        one, two = LossSpec((1.0,), 0.7, 4.0), LossSpec((0.3, 0.7), 0.7, 4.0)
        zeros = torch.zeros(n, self.num_classes, device=self.device)
        epochs, naive = {}, {}

        def live_one(arch):
            if arch not in gaf_teachers:
                gaf_teachers[arch] = self.model("gaf", arch).eval()
            epochs[f"live_one_gaf-{arch}"] = self._student_epoch(
                signals, one, LiveTeachers([(gaf_teachers[arch], images)], [[0]]), live_steps)

        def gaf_and_signal():
            epochs["cached_two"] = self._student_epoch(signals, two, CachedTeachers([zeros], [[0, 0]], self.device),
                                                       steps)
            epochs["live_two"] = self._student_epoch(signals, two, LiveTeachers(
                [(gaf_teachers[KD_TEACHER], images), (self.model("sig", KD_TEACHER).eval(), signals)], [[0, 1]]),
                live_steps)

        # the later study's three teachers (GAF, PI, signal WRN16-1; PI costs as GAF): cached logits vs SPKD,
        # whose teachers run live for their stage outputs — in a pack as the study packs them (the triples of
        # one seed draw the same rows, so each teacher runs once and its Gram matrices are computed once), and
        # a run alone (a pack of one): nothing to share, the three teachers' forwards against one student
        weights, width = (0.2, 0.3, 0.5), SPKD_PACK
        spkd = LossSpec(weights, 0.7, 4.0, extras=(("sp", 700.0),))

        def three_teachers(suffix, members):
            three = [(self.model("gaf", "wrn16-1").eval(), images), (self.model("gaf", "wrn16-1").eval(), images),
                     (self.model("sig", "wrn16-1").eval(), signals)]
            epochs[f"cached_three{suffix}"] = self._student_epoch(
                signals, LossSpec(weights, 0.7, 4.0), CachedTeachers([zeros] * 3, [[0, 1, 2]] * members, self.device),
                steps, members)
            epochs[f"spkd_three{suffix}"] = self._student_epoch(
                signals, spkd, LiveTeachers(three, [[0, 1, 2]] * members, frozenset({STAGES})), live_steps, members)

        def naive_loader():
            naive["step_s"] = self._naive_epoch(h5_path, signals, images, self.model("gaf", KD_TEACHER,
                                                                                     channels_last=False).eval(),
                                                steps) / steps

        epochs["ce"] = self._student_epoch(signals, LossSpec(), None, steps)
        epochs["cached_one"] = self._student_epoch(signals, one, CachedTeachers([zeros], [[0]], self.device), steps)
        live_one(KD_TEACHER)
        parts = {"kd GAF + signal teachers": gaf_and_signal, "kd SPKD pack": lambda: three_teachers("", width),
                 "kd SPKD alone": lambda: three_teachers("_alone", 1), "kd naive loader": naive_loader,
                 **{f"kd live gaf-{a} teacher": (lambda a=a: live_one(a)) for a in ARCHS if a != KD_TEACHER}}
        budget.each(parts, lambda name: parts[name]())
        seconds = _interleaved_medians(epochs, max(1, self.repeats // 2), self.sync)
        step = {k: v / (live_steps if k.startswith(("live", "spkd")) else steps) for k, v in seconds.items()}
        by_teacher = {f"gaf-{a}": step[f"live_one_gaf-{a}"] / step["cached_one"] for a in gaf_teachers}
        result = {"steps": steps, "live_steps": live_steps, "batch": self.batch, "live_teacher": f"gaf-{KD_TEACHER}",
                  "step_s": step, "cached_vs_live_one": by_teacher[f"gaf-{KD_TEACHER}"],
                  "cached_vs_live_by_teacher": by_teacher, "cached_vs_ce": step["cached_one"] / step["ce"],
                  "spkd_pack": width}
        ratios = {"cached_vs_live_two": ("live_two", "cached_two"), "spkd_vs_cached_three": ("spkd_three", "cached_three"),
                  "spkd_vs_cached_three_alone": ("spkd_three_alone", "cached_three_alone")}
        result.update({name: step[a] / step[b] for name, (a, b) in ratios.items() if a in step and b in step})
        if naive:
            result.update(naive_step_s=naive["step_s"], ours_vs_naive=naive["step_s"] / step["cached_one"])
        return result

    def _student_epoch(self, data, loss, teachers, steps, width: int = 1):
        """A warmed-up epoch of ``steps`` student steps through the real training loop (``width`` members of
        one seed, as a pack's members of one seed are)."""
        model = build_fused("wrn16-1", "sig", self.num_classes, list(range(width)), axes=self.axes).to(self.device).to_channels_last()
        pack_loss = PackLoss([loss] * width, self.device)
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        run = lambda: train_epoch(model, data, pack_loss, teachers, optimizer, [0] * width, 0, self.batch,  # noqa: E731
                                  steps)
        run()
        return run

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
        model = build_model("wrn16-1", "sig", self.num_classes, axes=self.axes).to(self.device)  # NCW, as the old scripts ran it
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = PackLoss([LossSpec((1.0,), 0.7, 4.0)], self.device)
        loader = DataLoader(PerSample(), batch_size=self.batch, shuffle=True)

        def epoch():
            for x, img, y in loader:
                x, img, y = x.to(self.device), img.to(self.device), y.to(self.device)
                with torch.no_grad():
                    t = teacher(img)
                optimizer.zero_grad(set_to_none=True)
                loss(model(x)[None], y[None], t[None, None]).backward()
                optimizer.step()

        return _median_time(epoch, 1, self.sync)

    # -- image representations ---------------------------------------------------------------
    def images(self, n_windows: int, budget: Budget = UNLIMITED) -> dict:
        """Windows/s of every representation of the registry (:mod:`gafkd.gaf.registry`; both window
        lengths, the input as its scaling leaves it), and each against every reference the entry names,
        where installed: per series, alternating rounds, the same images checked. Its ratio over the
        fastest reference against the entry's target."""
        rng = np.random.default_rng(0)
        walks = rng.normal(size=(n_windows, self.axes, 500)).cumsum(-1)
        images = {}

        def measure(name):
            entry = REPRESENTATIONS[name]
            settings = entry.settings(IMAGE_DEFAULTS | {"image_size": self.image_size})
            by_length = {length: _bench_scaled(np.repeat(walks, length // 500, axis=-1), settings)
                         for length in (500, 1000)}
            ours = entry.transformer(settings)
            n = self._affordable(lambda k: ours.transform(by_length[500][:k]), n_windows)
            # into a reused buffer, as the gaf stage streams through one (fresh memory costs more than the work)
            buffer = np.empty((n, entry.channels(self.axes), self.image_size, self.image_size), dtype=np.float16)
            rates = {length: n / _median_time(lambda x=x: ours.transform(x[:n], out=buffer), self.repeats,
                                              lambda: None) for length, x in by_length.items()}
            references = {r.name: self._against_reference(entry, r, settings, by_length[500][:n], rates[500])
                          for r in entry.references}
            timed = [r["vs_ours"] for r in references.values() if r.get("vs_ours") is not None]
            images[name] = {"windows": n, "scaling": settings.get("scaling"), "ours_windows_per_s": rates[500],
                            "ours_windows_per_s_by_length": rates, "references": references,
                            "vs_fastest_reference": min(timed) if timed else None, "target": entry.speed_target}

        budget.each(REPRESENTATIONS, measure, lambda name: f"images {name}")
        return images

    def _affordable(self, run, most: int, seconds: float = 0.5) -> int:
        """How many windows one timed call can take in about ``seconds`` (at least 16, at most ``most``)."""
        run(16)
        start = time.perf_counter()
        run(16)
        per_window = (time.perf_counter() - start) / 16
        return int(min(most, max(16, seconds / max(per_window, 1e-9))))

    def _against_reference(self, entry, reference, settings: dict, windows: np.ndarray, ours_rate: float) -> dict:
        """The reference's seconds per window over ours and the largest difference of their images, on as
        many windows as fit the time budget (one window's first axis for the slowest references, such as
        qts2d's circuit per pixel); ``None`` with the reason when its library is missing."""
        import warnings

        budget = 0.5 if self.quick else 2.0
        first_axis = windows[:1, :1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # its imports and compiles (pyts's numba) paid on a 4-pixel image, untimed
                reference.images(first_axis, {**settings, "image_size": 4})
                start = time.perf_counter()
                theirs = reference.images(first_axis, settings)
                per_series = time.perf_counter() - start
            except ImportError as exc:
                return {"vs_ours": None, "reference": f"not installed ({exc.name}; the test extra has it)"}
            sample = first_axis
            if per_series * windows.shape[1] > budget:  # a window costs more than the budget: one axis, once
                per_window = per_series * windows.shape[1]
            else:  # 4× more windows until a call takes a quarter of the budget (per-call costs amortised as ours)
                count = 1
                while count < len(windows):
                    count = min(len(windows), 4 * count)
                    start = time.perf_counter()
                    reference.images(windows[:count], settings)
                    if time.perf_counter() - start > budget / 4:
                        break
                sample = windows[:count]
                per_window = _median_time(lambda: reference.images(sample, settings),
                                          max(1, self.repeats // 2), lambda: None) / count
                theirs = reference.images(sample, settings)
        ours = entry.transformer(settings).transform(sample)
        return {"vs_ours": per_window * ours_rate, "reference_windows_per_s": 1 / per_window,
                "timed_on": f"{len(sample)} window(s) × {sample.shape[1]} axis(es)",
                "max_abs_difference": float(np.abs(ours - theirs).max())}


IMAGE_DEFAULTS = section_defaults("images")


def _bench_scaled(walks: np.ndarray, settings: dict) -> np.ndarray:
    """The bench's windows as a representation's scaling leaves them (fixed: the walks' own limits)."""
    from ..gaf.scaling import Scaling

    kind = settings.get("scaling")
    if kind is None:  # the transform scales each window itself
        return walks
    limits = (walks.min(axis=(0, 2)), walks.max(axis=(0, 2))) if kind == "fixed" else (None, None)
    return Scaling(kind, *limits).apply(walks)[0]


def measured_as(modality: str) -> str:
    """The bench measures 2-D models on GAF-shaped inputs: every image representation costs as that
    (compound's 9 input channels change only the first convolution)."""
    return SIGNAL if modality == SIGNAL else "gaf"


def timed_models(config: dict | None) -> list[tuple[str, str]]:
    """The (modality, arch) models the bench times: the study's WRNs, 1-D and 2-D, and every other architecture
    the config trains (any dataset's teachers, the students), in each input kind its family is built for."""
    from ..grid import for_dataset
    from ..models.families import MODALITY_DIMS, family_of

    archs = list(ARCHS)
    for dataset in (config or {}).get("datasets", {}):
        view = for_dataset(config, dataset)
        archs += [*view["teachers"]["archs"], view["students"]["arch"]]
    return [(modality, arch) for modality in ("sig", "gaf") for arch in dict.fromkeys(archs)
            if MODALITY_DIMS[modality] in family_of(arch).dims]


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
    from ..grid import for_dataset, teacher_runs, trained_experiments
    from ..execution.packing import balanced_chunks

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
        students_s += epochs * n_students * scale * (n_train / per_run_train("sig", student, student_width)
                                                     + n_test / eval_speed[("sig", student)])
    return {"widths": widths, "student_pack_width": student_width, "teachers_hours": teachers_s / 3600,
            "students_hours": students_s / 3600, "study_hours": (teachers_s + students_s) / 3600}


def kd_grid_ratio(models: list[dict], kd: dict, config: dict) -> float:
    """Student phase of the configured grid with live teachers over the same with cached logits.

    Per experiment: the cached student step (cross-entropy only for the baseline) plus, when live,
    each teacher's forward at its measured eval speed (L = 500; channels-last, as the pipeline runs).
    """
    from ..grid import experiments

    speed = {(m["modality"], m["arch"]): m["eval_samples_per_s"] for m in models}
    per_sample = {k: v / kd["batch"] for k, v in kd["step_s"].items()}
    cached = live = 0.0
    for experiment in experiments(config):
        student = per_sample["cached_one"] if experiment.teachers else per_sample["ce"]
        cached += student
        live += student + sum(1 / speed[measured_as(t.split(":")[0]), t.split(":")[1]] for t in experiment.teachers)
    return live / cached


def _speedups(bench: Bench, budget: Budget = UNLIMITED) -> dict:
    """Training speed-ups of the fast paths on :data:`FAST_PATH_MODELS`, each against fp32 channels-last."""
    result = {"channels_last": {}, "bf16": {}}

    def measure(model):
        modality, arch = model
        variants = {"fp32": {}, "contiguous": {"channels_last": False}, "bf16": {"precision": "bf16"}}
        steps = {name: bench.step_functions(modality, arch, **options)[1] for name, options in variants.items()}
        seconds = _interleaved_medians(steps, bench.repeats, bench.sync)
        result["channels_last"][f"{modality}-{arch}"] = seconds["contiguous"] / seconds["fp32"]
        result["bf16"][f"{modality}-{arch}"] = seconds["fp32"] / seconds["bf16"]

    budget.each(FAST_PATH_MODELS, measure, lambda m: f"fast paths {m[0]}:{m[1]}")
    return result


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_device(device: str, threads: int | None) -> torch.device:
    """The device a bench measures on (``auto`` and ``cuda``: CUDA where there is one), set up for speed: all
    cores (or ``threads``), nondeterministic kernels allowed, fp32."""
    import os

    dev = torch.device("cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    configure(threads or os.cpu_count() or 1, {"deterministic": False, "precision": "fp32"}, dev)
    return dev


def run(quick: bool = False, device: str = "auto", config: dict | None = None, scratch: Path | None = None,
        threads: int | None = None, sections=("packs", "families"), axes: int = 3, budget: float | None = None) -> dict:
    """The bench's report. ``budget``: seconds for all of it (``quick``: :data:`QUICK_BUDGET` unless given);
    each section gets a share of the time left, and what does not fit is listed under ``skipped``. Models not
    timed are estimated from their FLOPs at the rate the timed ones achieved (marked so)."""
    import tempfile

    budget = QUICK_BUDGET if budget is None and quick else budget
    clock = Budget(budget)
    dev = bench_device(device, threads)
    bench = Bench(dev, quick, axes=axes)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="gafkd-bench-"))
    report = {"device": device_name(dev), "quick": quick, "budget_s": budget, "axes": axes,
              "packages": package_versions(), "skipped": clock.skipped}

    def section(name: str, measure):
        share = clock.section(SHARES[name])
        if clock.limited and share.left() <= 0:
            clock.skipped.append({"what": name, "needs_s": None, "left_s": 0.0})
            return None
        return measure(share)

    report["models"] = section("models", lambda b: bench.timed_speeds(timed_models(config), b))
    speedups = section("fast_paths", lambda b: _speedups(bench, b))
    if speedups:
        report.update(channels_last_speedup=speedups["channels_last"], bf16_speedup=speedups["bf16"])
    kd = section("kd", lambda b: bench.kd(steps=4 if quick else 16, h5_path=scratch / "naive.h5", budget=b))
    if kd:
        report.update(kd=kd, kd_cached_vs_live=kd["cached_vs_live_one"],
                      kd_cached_vs_live_by_teacher=kd["cached_vs_live_by_teacher"], kd_cached_vs_ce=kd["cached_vs_ce"])
        if "ours_vs_naive" in kd:
            report["ours_vs_naive"] = kd["ours_vs_naive"]
    loop = section("loop", lambda b: bench.loop_overhead(n_train=1024 if quick else 8192))
    if loop:
        report.update(loop=loop, loop_overhead=loop["loop_overhead"])
    images = section("images", lambda b: bench.images(2048 if quick else 16384, budget=b))
    if images:
        report["images"] = images
        report.update({f"{name}_vs_reference": image["vs_fastest_reference"] for name, image in images.items()})
    readers = section("readers", lambda b: reader_speed(hours=1 if quick else 4, scratch=scratch / "readers"))
    if readers:
        report.update(readers=readers, bin_vs_csv=readers["bin_vs_csv"])
    if "packs" in sections:
        report["packs"] = section("packs", lambda b: bench.packs(student_widths=(1, 4) if quick else (1, 4, 16, 64),
                                                                  models=timed_models(config), budget=b))
    if "families" in sections and not quick:  # every family's example: the full bench only
        report["families"] = section("families", lambda b: bench.families(budget=b))
    report = {k: v for k, v in report.items() if v is not None}
    if config is not None and report.get("models"):
        _estimates(report, config, dev)
    report["seconds"] = round(clock.clock() - clock.start, 1)
    return report


def _estimates(report: dict, config: dict, dev: torch.device) -> None:
    """The study estimates from what was measured (each left out, with the reason, when a part is missing)."""
    models = report["models"]
    if "kd" in report:
        report["kd_cached_vs_live_grid"] = kd_grid_ratio(models, report["kd"], config)
    report["estimate"] = study_estimate(models, config, report.get("images"))
    report["study_hours"] = report["estimate"]["study_hours"]
    packs = report.get("packs")
    if packs:
        from ..execution.packing import pack_widths

        # the widths this device would train in (the config's own device may differ)
        widths = pack_widths({**config, "training": {**config["training"], "device": dev.type}})
        try:
            report["estimate"]["packed"] = packed_estimate(models, packs, config, widths)
        except KeyError as missing:
            report["skipped"].append({"what": f"packed estimate (no pack rows for {missing})", "needs_s": None,
                                      "left_s": 0.0})


def format_report(report: dict) -> str:
    from tabulate import tabulate

    rows = [[m["modality"], m["arch"], f"{m['params']:,}" if m["params"] else "", f"{m['train_samples_per_s']:.1f}",
             f"{m['eval_samples_per_s']:.1f}", f"{m['peak_memory_mb']:.0f}" if m["timed"] else "estimated from FLOPs"]
            for m in report.get("models", [])]
    budget = f", a {report['budget_s']:g} s budget" if report.get("budget_s") else ""
    lines = [f"gafkd bench on {report['device']}{' (quick)' if report['quick'] else ''}{budget}, windows of "
             f"{report.get('axes', 3)} signal channels" + (f": {report['seconds']:.0f} s" if "seconds" in report else ""),
             "", tabulate(rows, headers=["modality", "arch", "params", "train samples/s", "eval samples/s",
                                         "peak MB"], tablefmt="github"), ""]
    ratios = []
    if "kd" in report:
        kd = report["kd"]
        ratios += [[f"kd_cached_vs_live (live {kd['live_teacher']} teacher)", f"{kd['cached_vs_live_one']:.1f}×",
                    "≥ 30×"]]
        ratios += [[f"kd cached vs live {name} teacher", f"{ratio:.1f}×", ""]
                   for name, ratio in kd["cached_vs_live_by_teacher"].items() if name != kd["live_teacher"]]
    if "kd_cached_vs_live_grid" in report:
        ratios.append(["kd cached vs live, the configured grid's teacher mix", f"{report['kd_cached_vs_live_grid']:.1f}×",
                       ""])
    if "kd" in report:
        measured = lambda key, digits=1: f"{kd[key]:.{digits}f}×" if key in kd else "not measured"  # noqa: E731
        ratios += [
            ["kd cached vs live (GAF + signal)", measured("cached_vs_live_two"), ""],
            ["kd cached step vs cross-entropy-only step", measured("cached_vs_ce", 3), ""],
            [f"SPKD step (3 live teachers) vs cached-logit step (3 teachers), a pack of {kd.get('spkd_pack', '?')} of "
             "one seed", measured("spkd_vs_cached_three"), "≤ 3×"],
            ["the same for a run alone (a pack of one)", measured("spkd_vs_cached_three_alone"), ""],
            ["ours vs naive (per-sample HDF5 DataLoader, live teacher)", measured("ours_vs_naive"), ""]]
    if "loop" in report:
        ratios.append(["loop_overhead (real loop vs preloaded batches)", f"{report['loop']['loop_overhead'] * 100:+.1f}%",
                       "≤ 10%"])
    for name, image in report.get("images", {}).items():
        for reference, r in image["references"].items():
            fastest = r.get("vs_ours") is not None and r["vs_ours"] == image["vs_fastest_reference"]
            measured = (f"{r['vs_ours']:.1f}× ({image['ours_windows_per_s']:.0f} vs {r['reference_windows_per_s']:.1f} "
                        f"windows/s, max diff {r['max_abs_difference']:.1e})" if r.get("vs_ours") is not None else
                        f"reference {r['reference']}; ours {image['ours_windows_per_s']:.0f} windows/s")
            ratios.append([f"{name} ({image['scaling'] or 'own'} scaling) vs {reference}", measured,
                           f"≥ {image['target']:g}× (the fastest)" if fastest else ""])
    for name, ratio in report.get("channels_last_speedup", {}).items():
        ratios.append([f"channels_last vs contiguous, {name} training", f"{ratio:.2f}×", ""])
    for name, ratio in report.get("bf16_speedup", {}).items():
        ratios.append([f"bf16 autocast vs fp32, {name} training", f"{ratio:.2f}×", ""])
    lines += [tabulate(ratios, headers=["ratio", "measured", "target"], tablefmt="github"), ""]
    if "readers" in report:
        r = report["readers"]
        rows = [[name, f"{r[f'{name}_samples_per_s'] / 1e6:.2f}", f"{r['file_mb'][name]:.1f}"]
                for name in ("bin", "csv", "parquet")]
        lines += [f"readers ({r['hours']:g} h recording, {r['samples']:,} samples; .bin vs CSV {r['bin_vs_csv']:.1f}×):",
                  tabulate(rows, headers=["format", "M samples/s", "file MB"], tablefmt="github"), ""]
    if "packs" in report:
        rows = [[f"{r['modality']}-{r['arch']}", r["width"], f"{r['train_samples_per_s']:.0f}",
                 f"{r['speedup_vs_one_run']:.2f}×", f"{r['achieved_tflops'] * 1e3:.1f}"] for r in report["packs"]["rows"]]
        lines += ["packs (all members together, through the epoch loop):",
                  tabulate(rows, headers=["model", "width", "train samples/s", "vs one run", "achieved GFLOP/s"],
                           tablefmt="github"), ""]
    if report.get("families"):
        rows = [[r["family"], f"{r['modality']}-{r['arch']}", f"{r['params']:,}", f"{r['train_samples_per_s']:.0f}",
                 f"{r['eval_samples_per_s']:.0f}", f"{r['channels_last_speedup']:.2f}×", f"{r['pack_vs_separate']:.2f}×"]
                for r in report["families"]]
        lines += [f"model families (each registry entry's example; a pack of {report['families'][0]['width']} against "
                  "as many separate runs):",
                  tabulate(rows, headers=["family", "model", "params", "train samples/s", "eval samples/s",
                                          "channels-last vs contiguous", "pack vs separate"], tablefmt="github"), ""]
    if "estimate" in report:
        est = report["estimate"]
        per = ", ".join(f"{k} {v:.2f} h" for k, v in est["hours_per_dataset"].items())
        lines.append(f"full study estimate ({est['epochs']} epochs): {est['study_hours']:.2f} h on this device ({per})")
        if "packed" in est:
            p = est["packed"]
            lines.append(f"  in packs (teachers ≤ {p['widths']['teachers']}, students {p['student_pack_width']} a pack): "
                         f"{p['study_hours']:.2f} h (teachers {p['teachers_hours']:.2f} h, "
                         f"students {p['students_hours']:.2f} h)")
        for dataset, seconds in est.get("image_seconds_per_dataset", {}).items():
            lines.append(f"whole-dataset images, {dataset}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    if report.get("skipped"):
        lines += ["", "skipped to keep the budget (raise it with --budget SECONDS):"]
        lines += [f"  {s['what']}" + (f" (needs ≈{s['needs_s']:g} s, {s['left_s']:g} s left)" if s["needs_s"] else "")
                  for s in report["skipped"]]
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    """The report as JSON in its own key order, replacing ``path`` at once (a reader never sees half of it)."""
    write_text_atomic(path, json.dumps(report, indent=2, default=str) + "\n")
