"""The bench's sections, in the order a run measures them: each a module with ``NAME``, ``SHARE`` (its share of
the time left when it starts, under a budget), ``measure(bench, run, budget)`` → the report's entries, and
``describe(report)`` → its rows of the ratios table and its own lines (:class:`Described`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """What a section may read besides the harness: the run's options."""

    quick: bool
    config: dict | None
    scratch: object  # a Path: files a section writes (the naive loader's HDF5, the readers' recordings)


@dataclass(frozen=True)
class Described:
    ratios: list = field(default_factory=list)  # [ratio, measured, target] rows of the one ratios table
    lines: list = field(default_factory=list)  # a table of its own, after the ratios
