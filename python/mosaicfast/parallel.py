"""Running a function over many items on a thread pool, yielding results in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Calls submitted ahead of the one being collected, per thread: enough to keep
#: every thread busy, few enough that finished results waiting their turn stay few.
AHEAD_PER_WORKER = 4


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], *, workers: int, name: str = "mosaicfast"
) -> Iterator[R]:
    """Yield ``function(item)`` for each item, in order, computed on ``workers`` threads.

    At most ``AHEAD_PER_WORKER * workers`` calls run or wait at once, so memory stays
    bounded whatever the number of items. If the consumer stops early (an exception
    such as KeyboardInterrupt, or closing the generator), calls not yet started are
    cancelled and running ones are waited for.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
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
