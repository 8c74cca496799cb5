"""Fast paths vs exact mode, fused packs vs separate runs: the same accuracies within seed noise.

``gafkd bench --agreement`` trains the same models on the same embedded synthetic data under each mode
and several seeds; ``gafkd bench --agreement packs`` trains the same seeds once as the members of one
fused pack and once as separate runs. Each compares the mean test accuracy with the reference's (exact
mode; separate runs) in units of seed-to-seed noise. Timings are not the point here (``gafkd bench``
measures those); agreement is.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from .harness import IMAGE, SIGNAL, STUDENT

MODES = {
    "exact": {"channels_last": False, "precision": "fp32"},  # contiguous fp32: the reference arithmetic
    "channels_last": {"channels_last": True, "precision": "fp32"},  # the default
    "tf32": {"channels_last": True, "precision": "tf32"},  # CUDA only: TF32 convolutions and matmuls (CPU: fp32)
    "bf16": {"channels_last": True, "precision": "bf16"},  # the fastest path (AMX CPUs, GPUs)
}
PACK_MODES = {"separate": "each seed its own run", "fused": "all seeds as the members of one pack"}
MODELS = ((SIGNAL, STUDENT), (IMAGE, STUDENT))  # the student and a GASF teacher (gaf.h5) of its size
DATA = {"subjects": 12, "seconds_per_activity": 40, "seed": 3}


def build_data(folder: Path, image_size: int = 32, data: dict = DATA) -> Path:
    """Synthetic windows.h5 and gaf.h5 (14 classes, 500-sample windows, subject split) in ``folder``
    (``data``: the generator's subjects, seconds per activity and seed)."""
    from ..data.build import build_windows
    from ..data.synthetic import write_synthetic
    from ..images.build import build_images

    source = write_synthetic(folder / "source", write_as="parquet", **data)
    settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                "split": {"method": "subject", "train": 0.7, "test": 0.3, "seed": 0}}
    build_windows(source, settings, "agreement", folder / "windows.h5")
    build_images(folder / "windows.h5", folder / "gaf.h5", {"image_size": image_size, "method": "summation"})
    return folder


def run(training: dict, epochs: int = 30, seeds=(0, 1, 2), threads: int = 2, device: str = "cpu",
        folder: Path | None = None, models=MODELS, data: dict = DATA) -> dict:
    """Best and final test accuracy of every (model, mode, seed); per model and mode mean and std."""
    from ..plan.packing import run_outputs
    from ..provenance import package_versions
    from ..training.runs import train_teacher
    from ..training.spec import RunSpec

    folder = build_data(Path(folder or tempfile.mkdtemp(prefix="gafkd-agreement-")), data=data)
    base = {**training, "epochs": epochs, "device": device, "deterministic": True, "compile": False}
    runs = []
    for modality, arch in models:
        for mode, options in MODES.items():
            for seed in seeds:
                member = RunSpec("agreement", modality, arch, seed,
                                 run_outputs(folder / f"{modality}-{arch}" / mode / f"seed{seed}"))
                train_teacher(folder / "windows.h5", folder / "gaf.h5", member.outputs, dataset="agreement",
                              modality=modality, arch=arch, seed=seed, training={**base, **options}, threads=threads)
                runs.append(_row(f"{modality}-{arch}", mode, member))
    return {"device": device, "epochs": epochs, "seeds": list(seeds), "modes": MODES, "data": data,
            "packages": package_versions(), "runs": runs, "summary": summarise(runs)}


def run_packs(training: dict, epochs: int = 30, seeds=tuple(range(8)), threads: int = 2, device: str = "cpu",
              folder: Path | None = None, models=MODELS, data: dict = DATA) -> dict:
    """Every seed trained separately, then all of them as the members of one fused pack."""
    from ..plan.packing import run_outputs
    from ..provenance import package_versions
    from ..training.runs import train_pack
    from ..training.spec import Pack, RunSpec

    folder = build_data(Path(folder or tempfile.mkdtemp(prefix="gafkd-agreement-")), data=data)
    training = {**training, "epochs": epochs, "device": device, "deterministic": True, "compile": False}
    runs = []
    for modality, arch in models:
        for mode in PACK_MODES:
            members = tuple(RunSpec("agreement", modality, arch, seed, run_outputs(folder / f"{modality}-{arch}" / mode
                                                                                / f"seed{seed}"))
                            for seed in seeds)
            packs = [Pack(mode, members, str(folder / "packs" / mode))] if mode == "fused" else [
                Pack(f"seed{m.seed}", (m,), str(m.run_dir)) for m in members]
            for pack in packs:
                train_pack(pack, folder / "windows.h5", folder / "gaf.h5", training=training, threads=threads)
            runs += [_row(f"{modality}-{arch}", mode, m) for m in members]
    return {"device": device, "epochs": epochs, "seeds": list(seeds), "modes": PACK_MODES, "data": data,
            "packages": package_versions(), "runs": runs, "summary": summarise(runs, reference="separate")}


def _row(model: str, mode: str, member) -> dict:
    metrics = json.loads(Path(member.outputs["metrics"]).read_text())
    # a pack's wall time is shared by its members: each run's share, comparable with a separate run
    return {"model": model, "mode": mode, "seed": member.seed, "best_test_acc": metrics["best_test_acc"],
            "final_test_acc": metrics["final_test_acc"], "seconds": metrics["seconds"] / metrics["pack"]["width"]}


def summarise(runs: list[dict], reference: str = "exact") -> list[dict]:
    """Per model and mode: mean/std (ddof 0, as the report) and the gap to ``reference``, also in units
    of the larger of the two modes' seed std."""
    rows = []
    for model in dict.fromkeys(r["model"] for r in runs):
        stats = {}
        for mode in dict.fromkeys(r["mode"] for r in runs if r["model"] == model):
            accs = [r["best_test_acc"] for r in runs if r["model"] == model and r["mode"] == mode]
            secs = [r["seconds"] for r in runs if r["model"] == model and r["mode"] == mode]
            stats[mode] = (statistics.fmean(accs), statistics.pstdev(accs), statistics.median(secs))
        exact_mean, exact_std, exact_s = stats[reference]
        for mode, (mean, std, seconds) in stats.items():
            noise = max(exact_std, std)
            gap = round(mean - exact_mean, 9) + 0.0  # no "-0.00" for equal means
            rows.append({"model": model, "mode": mode, "mean": mean, "std": std, "gap": gap,
                         "gap_in_std": gap / noise if noise > 0 else 0.0,
                         "median_seconds": seconds, "speedup": exact_s / seconds})
    return rows


def format_report(report: dict) -> str:
    from tabulate import tabulate

    rows = [[r["model"], r["mode"], f"{r['mean']:.2f} ± {r['std']:.2f}", f"{r['gap']:+.2f}",
             f"{r['gap_in_std']:+.2f}", f"{r['median_seconds']:.1f}", f"{r['speedup']:.2f}×"]
            for r in report["summary"]]
    what = "fused pack vs separate runs" if "fused" in report["modes"] else "fast paths vs exact"
    head = (f"{what}: best test accuracy (%) over seeds {report['seeds']}, {report['epochs']} epochs, "
            "synthetic 14-class data")
    return head + "\n\n" + tabulate(rows, headers=["model", "mode", "mean ± std", "gap", "gap / std",
                                                    "median s", "speed-up"], tablefmt="github")
