"""A student step with cached teacher logits against live teachers and against the old scripts' way.

``kd_cached_vs_live``: cached logits against a live 2-D :data:`~gafkd.bench.harness.KD_TEACHER`; every 2-D
architecture in ``kd_cached_vs_live_by_teacher``; the cached step against a cross-entropy-only step
(``kd_cached_vs_ce``); the later study's three teachers cached against SPKD's live ones, in a pack and alone; and
a DataLoader of per-sample HDF5 reads with a live teacher (``ours_vs_naive``). The configured grid's teacher mix
(``kd_cached_vs_live_grid``) is an estimate (:mod:`gafkd.bench.estimates`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...distillation.pack import PackLoss
from ...distillation.registry import STAGES
from ...distillation.spec import LossSpec
from ...models import build_model
from ...training.optim import SGD
from ...training.targets import CachedTeachers, LiveTeachers
from .. import harness
from ..budget import UNLIMITED, Budget
from ..timing import interleaved_medians, median_time
from . import Described, Run

NAME, SHARE = "kd", 0.3
SPKD_PACK = 10  # members of one seed in the SPKD step's pack: the notes' ten weight triples


def kd_steps(bench, steps: int, h5_path: Path, budget: Budget = UNLIMITED) -> dict:
    """Seconds per student step: cross-entropy only, cached logits, live teachers, the naive loader. The
    headline (cached against the live :data:`~gafkd.bench.harness.KD_TEACHER`) always; under a ``budget`` the
    other comparisons while they fit, each one's ratio only when both its sides ran."""
    signal, image, headline = harness.SIGNAL, harness.IMAGE, harness.KD_TEACHER
    n = steps * bench.batch
    signals, images = bench.run_data(signal, n), bench.run_data(image, n)
    images.channels_last = True
    live_steps = max(2, steps // 4)  # live 2-D teachers are slow; the ratio is per step
    image_teachers = {}
    one, two = LossSpec((1.0,), 0.7, 4.0), LossSpec((0.3, 0.7), 0.7, 4.0)
    zeros = torch.zeros(n, bench.num_classes, device=bench.device)
    epochs, naive = {}, {}

    def live_one(arch):
        if arch not in image_teachers:
            image_teachers[arch] = bench.model(image, arch).eval()
        epochs[f"live_one_{image}-{arch}"] = bench.student_epoch(
            signals, one, LiveTeachers([(image_teachers[arch], images)], [[0]]), live_steps)

    def image_and_signal():
        epochs["cached_two"] = bench.student_epoch(signals, two, CachedTeachers([zeros], [[0, 0]], bench.device), steps)
        epochs["live_two"] = bench.student_epoch(signals, two, LiveTeachers(
            [(image_teachers[headline], images), (bench.model(signal, headline).eval(), signals)], [[0, 1]]),
            live_steps)

    # the later study's three teachers (GAF, PI, signal; PI costs as GAF): cached logits vs SPKD, whose
    # teachers run live for their stage outputs — in a pack as the study packs them (the triples of one seed
    # draw the same rows, so each teacher runs once and its Gram matrices are computed once), and a run alone
    # (a pack of one): nothing to share, the three teachers' forwards against one student
    weights, width, thin = (0.2, 0.3, 0.5), SPKD_PACK, harness.STUDENT
    spkd = LossSpec(weights, 0.7, 4.0, extras=(("sp", 700.0),))

    def three_teachers(suffix, members):
        three = [(bench.model(image, thin).eval(), images), (bench.model(image, thin).eval(), images),
                 (bench.model(signal, thin).eval(), signals)]
        epochs[f"cached_three{suffix}"] = bench.student_epoch(
            signals, LossSpec(weights, 0.7, 4.0), CachedTeachers([zeros] * 3, [[0, 1, 2]] * members, bench.device),
            steps, members)
        epochs[f"spkd_three{suffix}"] = bench.student_epoch(
            signals, spkd, LiveTeachers(three, [[0, 1, 2]] * members, frozenset({STAGES})), live_steps, members)

    def naive_loader():
        teacher = bench.model(image, headline, channels_last=False).eval()
        naive["step_s"] = naive_epoch(bench, h5_path, signals, images, teacher, steps) / steps

    epochs["ce"] = bench.student_epoch(signals, LossSpec(), None, steps)
    epochs["cached_one"] = bench.student_epoch(signals, one, CachedTeachers([zeros], [[0]], bench.device), steps)
    live_one(headline)
    parts = {"kd GAF + signal teachers": image_and_signal, "kd SPKD pack": lambda: three_teachers("", width),
             "kd SPKD alone": lambda: three_teachers("_alone", 1), "kd naive loader": naive_loader,
             **{f"kd live {image}-{a} teacher": (lambda a=a: live_one(a)) for a in harness.ARCHS if a != headline}}
    budget.each(parts, lambda name: parts[name]())
    seconds = interleaved_medians(epochs, max(1, bench.repeats // 2), bench.sync)
    step = {k: v / (live_steps if k.startswith(("live", "spkd")) else steps) for k, v in seconds.items()}
    by_teacher = {f"{image}-{a}": step[f"live_one_{image}-{a}"] / step["cached_one"] for a in image_teachers}
    result = {"steps": steps, "live_steps": live_steps, "batch": bench.batch, "live_teacher": f"{image}-{headline}",
              "step_s": step, "cached_vs_live_one": by_teacher[f"{image}-{headline}"],
              "cached_vs_live_by_teacher": by_teacher, "cached_vs_ce": step["cached_one"] / step["ce"],
              "spkd_pack": width}
    ratios = {"cached_vs_live_two": ("live_two", "cached_two"), "spkd_vs_cached_three": ("spkd_three", "cached_three"),
              "spkd_vs_cached_three_alone": ("spkd_three_alone", "cached_three_alone")}
    result.update({name: step[a] / step[b] for name, (a, b) in ratios.items() if a in step and b in step})
    if naive:
        result.update(naive_step_s=naive["step_s"], ours_vs_naive=naive["step_s"] / step["cached_one"])
    return result


def naive_epoch(bench, h5_path, signals, images, teacher, steps) -> float:
    """The old scripts: a shuffled DataLoader reading each sample from HDF5, a live 2-D teacher."""
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
    # NCW, as the old scripts ran it
    model = build_model(harness.STUDENT, harness.SIGNAL, bench.num_classes, axes=bench.axes).to(bench.device)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = PackLoss([LossSpec((1.0,), 0.7, 4.0)], bench.device)
    loader = DataLoader(PerSample(), batch_size=bench.batch, shuffle=True)

    def epoch():
        for x, img, y in loader:
            x, img, y = x.to(bench.device), img.to(bench.device), y.to(bench.device)
            with torch.no_grad():
                t = teacher(img)
            optimizer.zero_grad(set_to_none=True)
            loss(model(x)[None], y[None], t[None, None]).backward()
            optimizer.step()

    return median_time(epoch, 1, bench.sync)


def measure(bench, run: Run, budget: Budget) -> dict:
    kd = kd_steps(bench, steps=4 if run.quick else 16, h5_path=Path(run.scratch) / "naive.h5", budget=budget)
    report = {"kd": kd, "kd_cached_vs_live": kd["cached_vs_live_one"],
              "kd_cached_vs_live_by_teacher": kd["cached_vs_live_by_teacher"], "kd_cached_vs_ce": kd["cached_vs_ce"]}
    if "ours_vs_naive" in kd:
        report["ours_vs_naive"] = kd["ours_vs_naive"]
    return report


def describe(report: dict) -> Described:
    if "kd" not in report:
        return Described()
    kd = report["kd"]
    rows = [[f"kd_cached_vs_live (live {kd['live_teacher']} teacher)", f"{kd['cached_vs_live_one']:.1f}×", "≥ 30×"]]
    rows += [[f"kd cached vs live {name} teacher", f"{ratio:.1f}×", ""]
             for name, ratio in kd["cached_vs_live_by_teacher"].items() if name != kd["live_teacher"]]
    if "kd_cached_vs_live_grid" in report:
        rows.append(["kd cached vs live, the configured grid's teacher mix", f"{report['kd_cached_vs_live_grid']:.1f}×",
                     ""])
    measured = lambda key, digits=1: f"{kd[key]:.{digits}f}×" if key in kd else "not measured"  # noqa: E731
    rows += [
        ["kd cached vs live (GAF + signal)", measured("cached_vs_live_two"), ""],
        ["kd cached step vs cross-entropy-only step", measured("cached_vs_ce", 3), ""],
        [f"SPKD step (3 live teachers) vs cached-logit step (3 teachers), a pack of {kd.get('spkd_pack', '?')} of "
         "one seed", measured("spkd_vs_cached_three"), "≤ 3×"],
        ["the same for a run alone (a pack of one)", measured("spkd_vs_cached_three_alone"), ""],
        ["ours vs naive (per-sample HDF5 DataLoader, live teacher)", measured("ours_vs_naive"), ""]]
    return Described(ratios=rows)
