"""Progress bars and wall-clock timing of named stages."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from tqdm import tqdm

__all__ = ["SolverBar", "Stages", "progress_bar"]


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


class SolverBar:
    """A progress bar for the optimal assignment's solve (``with SolverBar(on) as bar``,
    passing ``bar.update`` as the solver's ``progress``): the auction's epsilon-scaling
    phases with the cells still unassigned, the bids and the cells searched again,
    then the certificate's checks with the pairs they added."""

    def __init__(self, enabled: bool) -> None:
        self.bar = progress_bar(0, "optimal assignment", "phase", enabled=enabled)

    def __enter__(self) -> SolverBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.close()

    def update(self, report: dict[str, Any]) -> None:
        """Show a progress report of the solver."""
        bar = self.bar
        if report["stage"] == "auction":
            bar.total = report["phases"]
            bar.n = report["phase"]
            bar.set_postfix(
                unassigned=report["unassigned"],
                bids=report["bids"] + report["reverse_bids"],
                searched=report["repriced"],
                refresh=False,
            )
        else:
            bar.set_description("certificate (all pairs)", refresh=False)
            bar.n = bar.total or 0
            bar.set_postfix(
                checks=report["checks"], pairs_added=report["pairs_added"], refresh=False
            )
        bar.refresh()


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
