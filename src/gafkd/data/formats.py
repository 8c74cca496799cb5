"""Source formats by name — one entry each: the ``window`` stage reads a dataset through its entry.

An entry says what a format is: its reader, what a user must put in ``source.path``, the ``source``
keys that belong to it (their types and defaults: the schema's ``source`` properties; a test keeps the
two in step), its words in the tables, its channels (so that memory plans are made before any file is
read), its subjects (so that leave-one-subject-out folds are known when the DAG is built: from the files when they are
there, else from what the format documents, else not yet), per-channel
limits for a fixed image scaling when the format documents them, and the synthetic writers that emit
it (``source: {format: synthetic, write_as: …}``). Nothing else branches on a format's name: a new
format is its reader module plus one entry here (docs/pamap2.md, "Adding a source format").
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, DataError

SYNTHETIC = "synthetic"  # not a format: the embedded generator, written as one of the formats below


@dataclass(frozen=True)
class SourceFormat:
    name: str
    label: str  # in the tables: "GENEActiv .bin files"
    expects: str  # what to put in source.path: "one CSV or Parquet recording per subject (…)"
    reader: str  # "module:function(folder, settings, where) -> WindowSet"
    keys: tuple[str, ...] = ()  # its own source keys, beside format, path and the synthetic ones
    # the synthetic write_as values that emit this format, each with its writer "module:function(folder, source,
    # window)"; and the subjects such a writer names ("module:function(count) -> list[str]")
    writers: dict = field(default_factory=dict)
    synthetic_subjects: str = "gafkd.data.synthetic:subject_names"
    channels: str | None = None  # "module:function(source) -> int" (None: 3 axes, x y z)
    subjects: str | None = None  # "module:function(source, folder) -> list[str] | None" (None: files' stems)
    limits: str | None = None  # "module:function(source) -> {min, max}": documented per-channel limits
    annotations: bool = False  # a second input beside the folder: source.annotations (an activity log)
    generator: str = "GENEActiv-like"  # what its synthetic writer imitates
    check: str | None = None  # "module:function(settings, key)": what the schema cannot say (ConfigError)
    defaults: str | None = None  # "module:NAME": its source keys' values when a config leaves them out

    def load(self, which: str):
        module, name = getattr(self, which).split(":")
        return getattr(importlib.import_module(module), name)

    def call(self, which: str, *args):
        return self.load(which)(*args)

    def write(self, write_as: str, *args):
        """Write the embedded generator's data as ``write_as`` (one of :attr:`writers`)."""
        module, name = self.writers[write_as].split(":")
        return getattr(importlib.import_module(module), name)(*args)

    def with_defaults(self, source: dict) -> dict:
        """``source`` with this format's defaults for the keys it leaves out (no other format's keys change)."""
        return {**copy.deepcopy(self.load("defaults")), **source} if self.defaults else source


FORMATS = {
    "mat": SourceFormat("mat", "per-window .mat files", "the .mat windows (ID-<subject>_CLASS-<class>_Window-<n>.mat)",
                        "gafkd.data.mat:read_source",
                        writers={"mat": "gafkd.data.synthetic:write_mat", "mat73": "gafkd.data.synthetic:write_mat73"},
                        subjects="gafkd.data.mat:subjects"),
    "recordings": SourceFormat("recordings", "per-subject CSV/Parquet recordings",
                               "one CSV or Parquet recording per subject (columns x, y, z, label)",
                               "gafkd.data.recordings:read_source",
                               writers={"parquet": "gafkd.data.synthetic:write_parquet",
                                        "csv": "gafkd.data.synthetic:write_csv"},
                               subjects="gafkd.data.recordings:subjects"),
    "geneactiv": SourceFormat("geneactiv", "GENEActiv .bin files", "the GENEActiv .bin recordings (one per subject and session)",
                              "gafkd.data.annotated:read_source",
                              keys=("annotations", "subject_pattern", "log_date_format"), writers={"bin": "gafkd.data.synthetic:write_geneactiv_bin"},
                              subjects="gafkd.data.annotated:subjects", annotations=True,
                              check="gafkd.data.annotated:check_settings"),
    "pamap2": SourceFormat("pamap2", "PAMAP2 .dat files",
                           "the unzipped PAMAP2_Dataset (Protocol/subject101.dat …, optionally Optional/)",
                           "gafkd.data.pamap2:read_source",
                           keys=("columns", "activities", "optional", "heart_rate", "fill_order", "gaps", "resample",
                                 "window_labels", "window_starts"),
                           writers={"pamap2": "gafkd.data.pamap2:write_synthetic"},
                           channels="gafkd.data.pamap2:channel_count",
                           subjects="gafkd.data.pamap2:subjects", limits="gafkd.data.pamap2:documented_limits",
                           synthetic_subjects="gafkd.data.pamap2:subject_names",
                           generator="PAMAP2-like", check="gafkd.data.pamap2:check_settings",
                           defaults="gafkd.data.pamap2:DEFAULTS"),
}
WRITERS = {value: entry for entry in FORMATS.values() for value in entry.writers}
SYNTHETIC_KEYS = ("subjects", "seconds_per_activity", "seed", "write_as")
# Every source may carry these: class_base is filled in for all of them by the schema (so that finished
# datasets' window settings stay as they were); the formats with numbered labels read it.
COMMON_KEYS = ("format", "class_base")


def source_format(source: dict) -> SourceFormat:
    """The format a source is read as (synthetic data: the format it is written as)."""
    if source["format"] == SYNTHETIC:
        return WRITERS[source.get("write_as", "parquet")]
    try:
        return FORMATS[source["format"]]
    except KeyError:
        raise ConfigError(f"source.format: {source['format']!r} is not one of {', '.join(FORMATS)}, {SYNTHETIC}") from None


def is_synthetic(source: dict) -> bool:
    return source["format"] == SYNTHETIC


def channel_count(source: dict) -> int:
    """The channels of a source's windows, from its settings alone (before any file is read)."""
    entry = source_format(source)
    return entry.call("channels", source) if entry.channels else 3


def documented_limits(source: dict) -> dict | None:
    """The format's own per-channel limits for a fixed image scaling (PAMAP2's table), or None."""
    entry = source_format(source)
    return entry.call("limits", source) if entry.limits else None


def source_subjects(source: dict, folder) -> list[str] | None:
    """The subjects a source holds (folds are made of them), or None when that cannot be known yet."""
    entry = source_format(source)
    if is_synthetic(source):
        return entry.call("synthetic_subjects", source["subjects"])
    return entry.call("subjects", source, Path(folder))


def write_synthetic(folder, source: dict, window: int) -> None:
    """The embedded generator's data for ``source`` (``format: synthetic``), in its ``write_as`` format."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    source_format(source).write(source.get("write_as", "parquet"), folder, source, window)


def check_settings(settings: dict, key: str) -> None:
    """The source keys of ``settings`` (a dataset's, defaults filled) and its format's own checks."""
    check_source_keys(settings["source"], f"{key}.source")
    entry = source_format(settings["source"])
    if entry.check:
        entry.call("check", settings, key)


def read_source(folder, settings: dict, where: str):
    """The windows of ``settings['source']`` in ``folder`` (:class:`~gafkd.data.windowset.WindowSet`)."""
    entry = source_format(settings["source"])
    if not Path(folder).is_dir():
        raise DataError(f"{where}: data folder {folder} does not exist; put {entry.expects} there "
                        f"(README, 'Real data') or set datasets.{where}.source.path in config.yaml")
    return entry.call("reader", Path(folder), settings, where)


def check_source_keys(source: dict, key: str) -> None:
    """Keys that belong to another format are refused, naming the format they belong to."""
    entry = source_format(source)
    own = {*COMMON_KEYS, *entry.keys, *(SYNTHETIC_KEYS if is_synthetic(source) else ("path",))}
    for name in source:
        if name in own:
            continue
        owner = next((f.name for f in FORMATS.values() if name in f.keys), None)
        if owner is None and name in SYNTHETIC_KEYS:
            owner = SYNTHETIC
        raise ConfigError(f"{key}.{name}: only for format {owner!r} (this source is {_described(source)})")
    if entry.annotations and not is_synthetic(source) and not source.get("annotations"):
        raise ConfigError(f"{key}.annotations: required for format {entry.name!r} (the activity log)")


def _described(source: dict) -> str:
    if is_synthetic(source):
        return f"{SYNTHETIC!r}, written as {source_format(source).name!r}"
    return repr(source["format"])


def table_label(source: dict) -> str:
    """The data source in the tables' words."""
    if is_synthetic(source):
        return (f"**synthetic** (the embedded {source_format(source).generator} generator, "
                f"{source.get('subjects', '?')} subjects, seed {source.get('seed', '?')}), not the group's recordings")
    entry = source_format(source)
    labelled = f", labelled by `{source['annotations']}`" if entry.annotations else ""
    return f"real recordings ({entry.label} in `{source['path']}`{labelled})"
