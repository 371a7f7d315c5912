"""Progress bars and wall-clock timing of named stages."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

__all__ = ["Stages", "progress_bar"]


def progress_bar(total: int, desc: str, unit: str, *, enabled: bool) -> tqdm:
    """A progress bar on standard error.

    When ``enabled``, the bar is shown only if standard error is a terminal, so
    logs and pipes stay clean; otherwise it is silent.
    """
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=None if enabled else True,
        file=sys.stderr,
        dynamic_ncols=True,
    )


class Stages:
    """Seconds spent in each named stage, in the order the stages first ran.

    Use as ``with stages("match"): ...``; a stage entered twice accumulates.
    """

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(seconds or {})

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def summary(self) -> str:
        """One line: each stage's time and the total."""
        parts = "  ".join(f"{name} {secs:.2f}s" for name, secs in self.seconds.items())
        return f"time: {parts}  (total {sum(self.seconds.values()):.2f}s)"
