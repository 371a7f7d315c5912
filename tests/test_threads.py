"""The core releases the GIL while it works and gives the same answer on any pool."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mosaicfast.descriptors import search_topk


def _problem(cells: int, tiles: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.integers(-200, 400, (cells, 75)).astype(np.int16),
        rng.integers(-200, 400, (tiles, 75)).astype(np.int16),
    )


def test_python_threads_run_while_the_core_searches() -> None:
    cells, tiles = _problem(512, 60_000)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        before = ticks
        search_topk(cells, tiles, 4, threads=1)
        during = ticks - before
    finally:
        stop.set()
        spinner.join()
    # Had the search held the GIL, the spinning thread could not have run at all.
    assert during > 10_000, during


def test_concurrent_searches_agree_with_a_single_one() -> None:
    cells, tiles = _problem(300, 20_000)
    expected = search_topk(cells, tiles, 3, threads=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda t: search_topk(cells, tiles, 3, threads=t), [1, 2, 2, 1]))
    for indices, distances in results:
        assert np.array_equal(indices, expected[0])
        assert np.array_equal(distances, expected[1])
