"""Time budgets for ``gafkd bench`` and the device check: each section plans within what is left, and what it
could not fit is recorded (what, how long it would have taken, how long was left), never silently dropped.

A section gets a share of the time left (:meth:`Budget.section`); a loop over rows or models times its first
item and skips the next one when the last one's time no longer fits (:meth:`Budget.each`). Without a budget
(``seconds=None``) everything runs.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterable

QUICK_BUDGET = 120.0  # seconds `gafkd bench --quick` keeps to, on a slow 2-core machine too


class Budget:
    def __init__(self, seconds: float | None, skipped: list | None = None, clock: Callable[[], float] = time.perf_counter):
        self.seconds, self.clock = seconds, clock
        self.start = clock()
        self.skipped = [] if skipped is None else skipped  # shared with the sections' budgets

    @property
    def limited(self) -> bool:
        return self.seconds is not None

    def left(self) -> float:
        return math.inf if self.seconds is None else self.seconds - (self.clock() - self.start)

    def section(self, share: float) -> "Budget":
        """A budget of ``share`` of the time left (all of it without a limit); its skips are recorded here too."""
        return Budget(None if self.seconds is None else max(0.0, share * self.left()), self.skipped, self.clock)

    def fits(self, what: str, seconds: float) -> bool:
        """Whether ``seconds`` of work fit what is left; if not, ``what`` is recorded as skipped."""
        if seconds <= self.left():
            return True
        self.skipped.append({"what": what, "needs_s": round(seconds, 2), "left_s": round(max(0.0, self.left()), 2)})
        return False

    def each(self, items: Iterable, run: Callable, name: Callable = str) -> list:
        """``run(item)`` for each item while the last item's time fits; the rest skipped. The first item always
        runs: it is the section's first timing (a section with no time at all is skipped before it starts)."""
        results, last = [], None
        for item in items:
            if last is not None and not self.fits(name(item), last):
                continue
            start = self.clock()
            results.append(run(item))
            last = self.clock() - start
        return results


UNLIMITED = Budget(None)  # never skips: the default budget of the bench's sections
