"""Reader throughput: a written multi-hour GENEActiv ``.bin`` recording through :func:`read_bin`, against
the same samples as a CSV (and Parquet) recording through the recordings reader, in one run.

Each side reads a whole file into checked arrays (for ``.bin``: actfast's parse plus the page checks;
for CSV: pandas' parse plus the column, label and timestamp checks), timed in alternating rounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...data.geneactiv import read_bin, write_bin
from ...data.recordings import read_table
from ...data.synthetic import FS, SIGNATURES, activity_signal, draw_subject
from ..budget import Budget
from ..timing import interleaved_medians
from . import Described, Run

NAME, SHARE = "readers", 0.15

START_NS = int(np.datetime64("2024-05-06T09:00:00", "ns").astype(np.int64))


def multi_hour_recording(hours: float, seed: int = 0) -> np.ndarray:
    """``hours`` of GENEActiv-like acceleration [n, 3] in g at 100 Hz: 5-minute bouts of the 14 activities."""
    rng = np.random.default_rng(seed)
    subject = draw_subject(rng)
    n, bout = int(hours * 3600 * FS), int(300 * FS)
    names = list(SIGNATURES)
    parts = [activity_signal(rng, SIGNATURES[names[i % len(names)]], subject, min(bout, n - i * bout))
             for i in range(-(-n // bout))]
    return np.concatenate(parts)


def reader_speed(hours: float, scratch: Path, repeats: int = 3) -> dict:
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    written = write_bin(scratch / "long.bin", multi_hour_recording(hours), FS, START_NS)
    table = pd.DataFrame({"timestamp": (written.time_ns - START_NS) / 1e9, "x": written.xyz[:, 0],
                          "y": written.xyz[:, 1], "z": written.xyz[:, 2], "label": "walk"})
    table.to_csv(scratch / "long.csv", index=False)
    table.to_parquet(scratch / "long.parquet", index=False)
    readers = {"bin": lambda: read_bin(scratch / "long.bin"), "csv": lambda: read_table(scratch / "long.csv"),
               "parquet": lambda: read_table(scratch / "long.parquet")}
    check = read_bin(scratch / "long.bin")
    assert np.array_equal(check.xyz, written.xyz) and np.array_equal(check.time_ns, written.time_ns)
    seconds = interleaved_medians(readers, repeats, lambda: None)
    samples = len(written.time_ns)
    result = {"hours": hours, "samples": samples,
              "file_mb": {name: (scratch / f"long.{name}").stat().st_size / 2**20 for name in readers}}
    result.update({f"{name}_samples_per_s": samples / s for name, s in seconds.items()})
    result["bin_vs_csv"] = seconds["csv"] / seconds["bin"]
    return result


def measure(bench, run: Run, budget: Budget) -> dict:
    readers = reader_speed(hours=1 if run.quick else 4, scratch=Path(run.scratch) / "readers")
    return {"readers": readers, "bin_vs_csv": readers["bin_vs_csv"]}


def describe(report: dict) -> Described:
    from tabulate import tabulate

    if "readers" not in report:
        return Described()
    r = report["readers"]
    rows = [[name, f"{r[f'{name}_samples_per_s'] / 1e6:.2f}", f"{r['file_mb'][name]:.1f}"]
            for name in ("bin", "csv", "parquet")]
    return Described(lines=[f"readers ({r['hours']:g} h recording, {r['samples']:,} samples; .bin vs CSV "
                            f"{r['bin_vs_csv']:.1f}×):",
                            tabulate(rows, headers=["format", "M samples/s", "file MB"], tablefmt="github"), ""])
