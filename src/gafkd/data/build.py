"""Stage 1 (``window``): a dataset variant's source → ``windows.h5`` (read back with :mod:`.store`)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ..classes import class_names
from ..io import atomic_h5, open_h5
from ..provenance import provenance
from .formats import is_synthetic, read_source, source_format
from .split import TEST, TRAIN, VAL, split_windows
from .store import WINDOW_DATASETS


def missing_data_folders(config: dict, results) -> list[str]:
    """One line per dataset variant whose real-data folder is missing and whose windows.h5 is not built yet."""
    lines = []
    for name, dataset in config["datasets"].items():
        source = dataset["source"]
        if is_synthetic(source) or (Path(results) / name / "windows.h5").exists():
            continue
        entry = source_format(source)
        if not Path(source["path"]).is_dir():
            lines.append(f"  datasets.{name}.source.path: {source['path']} — put {entry.expects} there")
        if entry.annotations and not Path(source["annotations"]).is_file():
            lines.append(f"  datasets.{name}.source.annotations: {source['annotations']} — put the activity log there "
                         "(README, 'Real data')")
    return lines


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


def build_fold_windows(dataset_windows, settings: dict, name: str, output) -> dict:
    """A fold's windows.h5 (:mod:`gafkd.folds`): its dataset's windows, linked rather than copied (HDF5 external
    links, relative, so a moved results folder keeps working), with the fold's own split."""
    with open_h5(dataset_windows, WINDOW_DATASETS) as h5:
        labels, subjects = h5["labels"][...], h5["subjects"][...].astype(str)
        inherited = dict(h5.attrs)
    split = split_windows(labels, subjects, settings["split"], f"datasets.{name}")
    target = os.path.relpath(dataset_windows, Path(output).parent)
    attrs = {**inherited, "dataset": name, "fold": settings["fold"], **provenance(settings),
             # the windows themselves are the dataset's: images made from them serve every fold
             "signals_digest": inherited.get("signals_digest", inherited.get("settings_digest", ""))}
    with atomic_h5(output, attrs) as h5:
        for key in ("signals", "labels", "subjects", "ids"):
            h5[key] = h5py.ExternalLink(target, key)
        h5.create_dataset("split", data=split.astype("S6"))
    return summarize(labels, subjects, split, class_names(settings["classes"]))


def summarize(labels, subjects, split, names) -> dict:
    summary = {}
    for part in (TRAIN, VAL, TEST):
        mask = split == part
        summary[part] = {"windows": int(mask.sum()), "subjects": int(len(np.unique(subjects[mask]))),
                         "per_class": np.bincount(labels[mask], minlength=len(names)).tolist()}
    return summary
