"""Running a function over many items on a pool, yielding results in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["AHEAD_PER_WORKER", "MAX_THREADS", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Most worker processes of a local Dask cluster (``local:N``), the same bound as the
#: core's rule for threads (:data:`mosaicfast.kernels.MAX_THREADS`, ``rust/pool.rs``),
#: which this layer cannot import; ``tests/kernels/test_rules.py`` holds them equal.
MAX_THREADS = 256

#: Calls submitted ahead of the one being collected, per worker: enough to keep
#: every worker busy, few enough that finished results waiting their turn stay few.
AHEAD_PER_WORKER = 4


def ordered_map(
    function: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    processes: bool = False,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """Yield ``function(item)`` for each item, in order, computed by ``workers`` workers.

    Threads by default (for work that releases the GIL, such as decoding images).
    With ``processes`` (and ``workers`` at least 2), one worker is a thread of this
    process and the other ``workers - 1`` are worker processes, started with the
    *spawn* method: a forked child of a process running the Rust core's threads could
    deadlock. The thread takes items from the start, while the processes start up
    (importing the package costs each about 0.15 s of CPU), and the processes take
    items once they are up; ``function``, the items and the results must be
    picklable, and ``initializer(*initargs)`` runs first in each worker process only.

    At most ``AHEAD_PER_WORKER * workers`` calls run or wait at once, so memory stays
    bounded whatever the number of items. If the consumer stops early (an exception,
    or closing the generator), calls not yet started are cancelled and running ones
    are waited for.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if processes and workers > 1:
        yield from _with_processes(function, list(items), workers - 1, initializer, initargs)
        return
    pool: Executor = ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="mosaicfast",
        initializer=None if processes else initializer,
        initargs=initargs,
    )
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= AHEAD_PER_WORKER * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Turns:
    """Indices of items handed out in order, never more than ``ahead`` past the next
    one to collect, and the results (or exceptions) filed by index until collected."""

    def __init__(self, count: int, ahead: int) -> None:
        self.count, self.ahead = count, ahead
        self.next = self.collected = 0
        self.stopped = False
        self.results: dict[int, tuple[bool, Any]] = {}
        self.changed = threading.Condition()

    def take(self, wait: bool = True) -> int | None:
        """The next index to compute; None when there is none, the consumer stopped, or
        (unless ``wait``) the next one would be too far ahead."""
        with self.changed:
            while wait and not self.stopped and self.next - self.collected >= self.ahead:
                self.changed.wait()
            if self.stopped or self.next >= self.count or self.next - self.collected >= self.ahead:
                return None
            self.next += 1
            return self.next - 1

    def file(self, index: int, ok: bool, value: Any) -> None:
        with self.changed:
            self.results[index] = (ok, value)
            self.changed.notify_all()

    def collect(self, index: int) -> Any:
        """The result of item ``index`` once filed (its exception raised here)."""
        with self.changed:
            while index not in self.results:
                self.changed.wait()
            ok, value = self.results.pop(index)
            self.collected = index + 1
            self.changed.notify_all()
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


#: Calls sent to each worker process at once: the one it runs and the next, so that it
#: never waits for this process to collect a result before it gets more work.
_SENT_PER_PROCESS = 2


def _is_up() -> None:
    """A call that only tells that a worker process has started."""


def _with_processes(
    function: Callable[[T], R],
    items: Sequence[T],
    processes: int,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> Iterator[R]:
    """:func:`ordered_map` on a thread of this process and ``processes`` worker processes.

    Each process is fed by a thread of this process that hands it one item at a time,
    once a first call has shown that a worker is up, so no item waits on a process
    still starting while the local thread could compute it.
    """
    # Imported here: multiprocessing is not needed (nor worth its import at start-up)
    # by the jobs that run on threads.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    turns = _Turns(len(items), AHEAD_PER_WORKER * (processes + 1))
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    )

    def compute() -> None:
        while (index := turns.take()) is not None:
            try:
                turns.file(index, True, function(items[index]))
            except BaseException as err:  # handed to the consumer, raised there
                turns.file(index, False, err)

    def feed(started: Future[None]) -> None:
        """Keep a process busy: one call running, the next one already sent."""
        try:
            started.result()
        except BaseException:  # cancelled, or no process could start: the thread goes on
            return
        sent: deque[tuple[int, Future[R]]] = deque()
        while True:
            while len(sent) < _SENT_PER_PROCESS:
                # Never wait for a turn with calls in hand: the consumer may wait on them.
                index = turns.take(wait=not sent)
                if index is None:
                    break
                sent.append((index, pool.submit(function, items[index])))
            if not sent:
                return
            index, call = sent.popleft()
            try:
                turns.file(index, True, call.result())
            except CancelledError:  # the pool was shut down: the consumer has stopped
                return
            except BaseException as err:
                turns.file(index, False, err)

    threads = [threading.Thread(target=compute, daemon=True)]
    threads += [
        threading.Thread(target=feed, args=(pool.submit(_is_up),), daemon=True)
        for _ in range(processes)
    ]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(items)):
            yield turns.collect(index)
    finally:
        turns.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        for thread in threads:
            thread.join()
