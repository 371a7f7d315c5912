"""How mosaicfast processes end: SIGTERM as Ctrl-C, and no worker outliving its parent.

A command stopped by Ctrl-C (SIGINT) or by SIGTERM (``kill``, a service manager,
a CI timeout) goes through the same path: committed work is kept, temporary files
are removed. Worker processes exit as soon as the process that started them is
gone, whatever ended it, even ``kill -9``.

For the tests that check those promises, :func:`pause_point` holds a process at a
named moment (say, between writing a batch of tiles and committing it), so that a
test kills or signals it exactly there instead of guessing with sleeps.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

__all__ = [
    "INTERRUPT_SIGNALS",
    "PAUSE_VARIABLE",
    "InterruptedAfterCommit",
    "die_with_parent",
    "interrupts_deferred",
    "pause_point",
    "terminate_as_interrupt",
]

#: The signals that ask a command to stop, as Ctrl-C does.
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: How often a worker checks that its parent is still there.
_WATCH_SECONDS = 0.2
#: ``prctl`` option: the signal a process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1

#: Environment variable of :func:`pause_point` (tests only).
PAUSE_VARIABLE = "MOSAICFAST_PAUSE_AT"
#: How often a paused process looks whether it may go on.
_PAUSE_POLL_SECONDS = 0.002
#: Visits of each pause point in this process.
_pause_visits: Counter[str] = Counter()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block (main thread only), SIGTERM raises KeyboardInterrupt like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived while outputs were being put in place: that was finished
    first (see :func:`interrupts_deferred`), then the command stops."""


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block (main thread only), Ctrl-C and SIGTERM wait until it has run.

    For the few system calls that must all happen or none, such as renaming a mosaic
    and its manifest into place. A signal that arrived meanwhile raises
    :class:`InterruptedAfterCommit` once the block is done.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    saved = {
        sig: signal.signal(sig, lambda signum, _: received.append(signum))
        for sig in INTERRUPT_SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if received:
        raise InterruptedAfterCommit


def die_with_parent(parent: int) -> None:
    """In a worker process: exit as soon as process ``parent`` is gone.

    On Linux the kernel kills the worker when its parent exits (``PR_SET_PDEATHSIG``);
    everywhere, a watchdog thread checks the parent id. ``parent`` is the pid the
    parent passed down, not ``os.getppid()`` now: a parent killed while the worker
    was starting up is already gone, and the worker must exit at once.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()


def pause_point(name: str) -> None:
    """Hold the process here if a test asked for it; otherwise return at once.

    A test sets the environment variable ``MOSAICFAST_PAUSE_AT`` to a file path whose
    name is ``NAME-N``: on its N-th visit (counted from 1 in each process) of the
    point ``name``, the process creates that file and waits, polling, until the test
    removes it. Meanwhile the test can kill the process at that exact moment, or
    send it a signal and then let it go on. Signal handlers run during the wait
    (Ctrl-C and SIGTERM included), as they would during any slow step.

    Called from the main thread only, but for ``cluster-task``. The points:
    ``arrays-written`` (one array file of a batch of new tiles written and flushed,
    see :meth:`~mosaicfast.library.store.Library.append_rows`), ``batch-committed`` (a
    batch of tiles committed to the catalog), ``png-chunk-written`` (a compressed
    chunk of a PNG written to its temporary file), ``output-written`` (an output
    complete in its temporary file, not yet renamed into place) and ``cluster-task``
    (a Dask worker starting an index task, in the worker's task thread).
    """
    target = os.environ.get(PAUSE_VARIABLE)
    if not target:
        return
    _pause_visits[name] += 1
    marker = Path(target)
    if marker.name != f"{name}-{_pause_visits[name]}":
        return
    marker.touch()
    while marker.exists():
        time.sleep(_PAUSE_POLL_SECONDS)
