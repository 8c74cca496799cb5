"""Atomic output files: write to a temporary name beside the target, then rename.

A crash, a kill or a full disk leaves either the previous file or nothing, never half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import h5py

from .errors import DataError
from .provenance import canonical_json

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    except OSError as exc:
        raise DataError(f"{target}: cannot write in {target.parent} ({exc.strerror or exc})") from exc
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results should be readable like any file
        os.replace(tmp, target)
    except OSError as exc:  # disk full, quota, read-only filesystem
        Path(tmp).unlink(missing_ok=True)
        raise DataError(f"{target}: could not be written ({exc.strerror or exc}); "
                        "what was there before is untouched") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete temporaries that a killed process left in ``folder`` (its atomic writes never renamed)."""
    stale = [p for p in Path(folder).glob(".*.tmp") if p.is_file()] if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_text_atomic(target, text: str) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_json_atomic(target, obj) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path) -> dict:
    """Load a JSON result file, refusing a truncated or corrupt one with a clear message."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); delete it and rerun the rule that makes it") from exc


@contextmanager
def atomic_h5(target, attrs: dict | None = None):
    """An h5py file opened for writing under a temporary name, renamed onto ``target`` when closed cleanly."""
    with atomic_path(target, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as h5:
            for key, value in (attrs or {}).items():
                h5.attrs[key] = value if isinstance(value, (str, int, float)) else canonical_json(value)
            yield h5


def open_h5(path, required: tuple[str, ...] = ()) -> h5py.File:
    """Open an HDF5 result read-only; a truncated file or missing dataset is a clear error."""
    try:
        h5 = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc}); delete it and rerun the rule that makes it") from exc
    missing = [name for name in required if name not in h5]
    if missing:
        h5.close()
        raise DataError(f"{path}: datasets {missing} are missing; delete it and rerun the rule that makes it")
    return h5
