"""Stage 1 (``window``): a dataset variant's source → ``windows.h5`` (read back with :mod:`.store`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..classes import class_names
from ..errors import DataError
from ..io import atomic_h5
from ..provenance import provenance
from .annotated import read_geneactiv_folder
from .mat import read_mat_folder
from .recordings import read_recordings
from .split import TEST, TRAIN, split_windows
from .synthetic import ACTIVITY_LOG
from .windowset import WindowSet

EXPECTED_FILES = {"mat": "the .mat windows (ID-<subject>_CLASS-<class>_Window-<n>.mat)",
                  "recordings": "one CSV or Parquet recording per subject (columns x, y, z, label)",
                  "geneactiv": "the GENEActiv .bin recordings (one per subject and session)"}
SYNTHETIC_FORMATS = {"mat": "mat", "mat73": "mat", "parquet": "recordings", "csv": "recordings", "bin": "geneactiv"}


def source_format(source: dict) -> str:
    """The reader a source needs: ``mat``, ``recordings`` or ``geneactiv`` (synthetic data is written as one)."""
    fmt = source["format"]
    if fmt == "synthetic":
        return SYNTHETIC_FORMATS[source.get("write_as", "parquet")]
    return fmt


def annotations_path(folder, source: dict) -> Path:
    """The activity log of a geneactiv source (the generator writes its own into the data folder)."""
    return Path(folder) / ACTIVITY_LOG if source["format"] == "synthetic" else Path(source["annotations"])


def missing_data_folders(config: dict, results) -> list[str]:
    """One line per dataset variant whose real-data folder is missing and whose windows.h5 is not built yet."""
    lines = []
    for name, dataset in config["datasets"].items():
        source = dataset["source"]
        if source["format"] == "synthetic" or (Path(results) / name / "windows.h5").exists():
            continue
        if not Path(source["path"]).is_dir():
            lines.append(f"  datasets.{name}.source.path: {source['path']} — put {EXPECTED_FILES[source_format(source)]} there")
        if source["format"] == "geneactiv" and not Path(source["annotations"]).is_file():
            lines.append(f"  datasets.{name}.source.annotations: {source['annotations']} — put the activity log there "
                         "(README, 'Real data')")
    return lines


def read_source(folder, settings: dict, where: str) -> WindowSet:
    folder = Path(folder)
    source = settings["source"]
    if not folder.is_dir():
        expected = EXPECTED_FILES[source_format(source)]
        raise DataError(
            f"{where}: data folder {folder} does not exist; put {expected} there "
            f"(README, 'Real data') or set datasets.{where}.source.path in config.yaml"
        )
    names = class_names(settings["classes"], f"datasets.{where}.classes")
    label_map, window = settings.get("label_map"), settings["window"]
    stride, rate = settings.get("stride", window), settings.get("sampling_rate", 100.0)
    fmt = source_format(source)
    if fmt == "geneactiv":
        return read_geneactiv_folder(folder, annotations_path(folder, source), names, window, stride, rate, label_map,
                                     source.get("subject_pattern"), source.get("log_date_format", "%d-%m-%Y"))
    class_base = source.get("class_base", "auto")
    if fmt == "mat":
        return read_mat_folder(folder, names, window=window, label_map=label_map, class_base=class_base)
    return read_recordings(folder, names, window, stride, label_map=label_map, class_base=class_base,
                           sampling_rate=rate)


def build_windows(folder, settings: dict, name: str, output) -> dict:
    """Read, split and write ``windows.h5`` atomically; returns a summary for the log."""
    windows = read_source(folder, settings, name)
    split = split_windows(windows.labels, windows.subjects, settings["split"], f"datasets.{name}")
    names = class_names(settings["classes"])
    attrs = {"dataset": name, "class_names": list(names), "window": settings["window"],
             "stride": settings.get("stride", settings["window"]), "source": str(folder), **windows.attrs,
             **provenance(settings)}
    with atomic_h5(output, attrs) as h5:
        h5.create_dataset("signals", data=windows.signals.astype(np.float32))
        h5.create_dataset("labels", data=windows.labels.astype(np.int64))
        h5.create_dataset("subjects", data=windows.subjects.astype("S"))
        h5.create_dataset("ids", data=windows.ids.astype("S"))
        h5.create_dataset("split", data=split.astype("S6"))
    return summarize(windows.labels, windows.subjects, split, names)


def summarize(labels, subjects, split, names) -> dict:
    summary = {}
    for part in (TRAIN, TEST):
        mask = split == part
        summary[part] = {"windows": int(mask.sum()), "subjects": int(len(np.unique(subjects[mask]))),
                         "per_class": np.bincount(labels[mask], minlength=len(names)).tolist()}
    return summary
