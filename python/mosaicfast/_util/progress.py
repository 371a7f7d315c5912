"""Progress bars, status lines clear of them, and wall-clock timing of named stages.

tqdm is imported only when a bar is shown: importing it costs start-up time (it reads
its own version through ``importlib.metadata``), which a command run with its
standard error in a log or a pipe, or with ``--quiet``, never needs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["SilentBar", "SolverBar", "Stages", "progress_bar", "say"]


def progress_bar(total: int, desc: str, unit: str, *, enabled: bool) -> tqdm | SilentBar:
    """A progress bar on standard error.

    When ``enabled``, the bar is shown only if standard error is a terminal, so
    logs and pipes stay clean; otherwise it is a :class:`SilentBar` (and tqdm is not
    imported).
    """
    stream = sys.stderr
    if not (enabled and hasattr(stream, "isatty") and stream.isatty()):
        return SilentBar(total)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True)


class SilentBar:
    """A progress bar that is not shown: it counts, as tqdm's bars do, and draws nothing."""

    def __init__(self, total: int) -> None:
        self.total: float | None = total
        self.n: float = 0

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        """Nothing to draw."""

    def close(self) -> None:
        """Nothing to clear."""

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        """Nothing to show."""

    def set_description(self, desc: str, refresh: bool = True) -> None:
        """Nothing to show."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Nothing to show."""


def say(message: str, *, file: TextIO | None = None) -> None:
    """One line on ``file`` (default standard error), clear of any progress bar shown.

    Without a bar ever shown tqdm was not imported, and there is nothing to keep clear of.
    """
    stream = sys.stderr if file is None else file
    loaded = sys.modules.get("tqdm")
    if loaded is None:
        print(message, file=stream)
    else:
        loaded.tqdm.write(message, file=stream)


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
