"""The core releases the GIL while it works and gives the same answer on any pool."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mosaicfast import _core
from mosaicfast.kernels.descriptors import search_topk


def _problem(cells: int, tiles: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.integers(-200, 400, (cells, 75)).astype(np.int16),
        rng.integers(-200, 400, (tiles, 75)).astype(np.int16),
    )


def test_python_threads_run_while_the_core_searches() -> None:
    cells, tiles = _problem(512, 60_000)
    go, done = threading.Event(), threading.Event()

    def spin() -> None:
        go.wait()
        ticks = 0
        while ticks < 10_000:
            ticks += 1
        done.set()

    # With a switch interval this long, a thread waiting for the GIL gets it only when
    # the holder lets it go of its own accord: here, only inside the core's search (it is
    # called directly, since the wrapper's NumPy checks may release the GIL too). The
    # spinner then runs all its 10,000 ticks before the search can take the GIL back.
    spinner = threading.Thread(target=spin)
    saved = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        spinner.start()
        go.set()
        for _ in range(10):  # each search is a chance for the spinner's thread to be scheduled
            _core.search_topk(cells, tiles, 4, threads=1)
            if done.is_set():
                break
        ran_during_search = done.is_set()
    finally:
        sys.setswitchinterval(saved)
        spinner.join()
    # Had the search held the GIL, the spinning thread could not have run at all.
    assert ran_during_search


def test_concurrent_searches_agree_with_a_single_one() -> None:
    cells, tiles = _problem(300, 20_000)
    expected = search_topk(cells, tiles, 3, threads=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda t: search_topk(cells, tiles, 3, threads=t), [1, 2, 2, 1]))
    for indices, distances in results:
        assert np.array_equal(indices, expected[0])
        assert np.array_equal(distances, expected[1])
