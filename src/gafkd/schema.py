"""The config schema (package data, one copy: the workflow validates against it) and its defaults.

The schema is the one place defaults are stated; :func:`training_settings` (behind
:class:`gafkd.training.settings.TrainingSettings`) gives the library's callers
(tests, benchmarks, notebooks) a training section with them filled in, without the config machinery.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import ConfigError

SCHEMA = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def _cached() -> dict:
    # libyaml's safe loader where PyYAML has it: 10 ms instead of 65 ms, paid by every training job
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 — a safe loader


def allowed(definition: str) -> tuple[str, ...]:
    """The names a schema definition allows (its enum, or its first ``oneOf`` branch's): stated there once."""
    spec = _cached()["definitions"][definition]
    return tuple(spec["enum"] if "enum" in spec else spec["oneOf"][0]["enum"])


def load_schema() -> dict:
    """The schema as data (a fresh copy: validators fill defaults in what they are given)."""
    return copy.deepcopy(_cached())


def training_settings(training: dict | None = None) -> dict:
    """``training`` with the schema's defaults filled in; an unknown key is a :class:`ConfigError`."""
    properties = _cached()["properties"]["training"]["properties"]
    unknown = set(training or {}) - set(properties)
    if unknown:
        raise ConfigError(f"training: unknown key(s) {sorted(unknown)}")
    return {key: copy.deepcopy((training or {}).get(key, spec.get("default"))) for key, spec in properties.items()}


def section_defaults(section: str) -> dict:
    """A config section as the schema fills it when absent: every default, nested sections too."""
    def filled(spec: dict):
        if spec.get("type") == "object" and "properties" in spec:
            return {key: filled(sub) for key, sub in spec["properties"].items() if "default" in sub}
        return copy.deepcopy(spec.get("default"))

    return filled(_cached()["properties"][section])
