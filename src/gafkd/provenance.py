"""What produced a result: settings digest, code version, package versions, device."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from . import __version__

_PACKAGES = ("gafkd", "numpy", "scipy", "h5py", "pandas", "torch", "snakemake", "pyts", "actfast")


def canonical_json(obj) -> str:
    """Key-sorted compact JSON: the same settings always give the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def settings_digest(settings) -> str:
    """Short stable hash of a settings mapping (16 hex digits of SHA-256)."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """`gafkd <version>` plus the git commit (and `-dirty`) when run from a checkout's src/ (else
    ``+unknown``: an installed package has no commit to ask, and a venv inside some other git tree must
    not borrow that tree's)."""
    root = Path(__file__).resolve().parents[2]
    if Path(__file__).resolve().parent != root / "src" / "gafkd":
        return f"{__version__}+unknown"
    try:
        commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{__version__}+{commit}"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(settings=None) -> dict:
    """The record every result file carries."""
    record = {"code_version": code_version(), "packages": package_versions(), "platform": platform.platform()}
    if settings is not None:
        record["settings"] = settings
        record["settings_digest"] = settings_digest(settings)
    return record
