"""Running a function over many items on a pool, yielding results in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
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
    With ``processes``, worker processes are started with the *spawn* method: a
    forked child of a process running the Rust core's threads could deadlock;
    ``function``, the items and the results must then be picklable, and
    ``initializer(*initargs)`` runs first in each worker.

    At most ``AHEAD_PER_WORKER * workers`` calls run or wait at once, so memory stays
    bounded whatever the number of items. If the consumer stops early (an exception,
    or closing the generator), calls not yet started are cancelled and running ones
    are waited for.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pool: Executor
    if processes:
        # Imported here: multiprocessing is not needed (nor worth its import at start-up)
        # by the jobs that run on threads.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=initializer,
            initargs=initargs,
        )
    else:
        pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="mosaicfast",
            initializer=initializer,
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
