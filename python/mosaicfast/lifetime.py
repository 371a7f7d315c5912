"""How mosaicfast processes end: SIGTERM as Ctrl-C, and no worker outliving its parent.

A command stopped by Ctrl-C (SIGINT) or by SIGTERM (``kill``, a service manager,
a CI timeout) goes through the same path: committed work is kept, temporary files
are removed. Worker processes exit as soon as the process that started them is
gone, whatever ended it, even ``kill -9``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["INTERRUPT_SIGNALS", "die_with_parent", "terminate_as_interrupt"]

#: The signals that ask a command to stop, as Ctrl-C does.
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: How often a worker checks that its parent is still there.
_WATCH_SECONDS = 0.2
#: ``prctl`` option: the signal a process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


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
