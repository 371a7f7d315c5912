"""``ordered_map`` on a thread of this process and worker processes: every result, in
order, from both; a failure raised in its turn; no process left behind."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from mosaicfast._util.parallel import ordered_map


def index_and_pid(item: tuple[int, float]) -> tuple[int, int]:
    """``(index, pid of the process that computed it)`` after a pause."""
    index, pause = item
    time.sleep(pause)
    return index, os.getpid()


def fail_on_three(item: int) -> int:
    if item == 3:
        raise ValueError("three")
    return item


def test_a_thread_and_worker_processes_give_every_result_in_order() -> None:
    items = [(i, 0.05) for i in range(60)]
    results = list(ordered_map(index_and_pid, items, workers=3, processes=True))
    assert [index for index, _ in results] == list(range(60))
    pids = [pid for _, pid in results]
    # This process's thread starts at once; the worker processes take items once up.
    assert pids[0] == os.getpid()
    assert len(set(pids) - {os.getpid()}) >= 1, "no worker process took an item"
    assert multiprocessing.active_children() == []


def test_a_failure_is_raised_in_its_turn_and_stops_the_workers() -> None:
    seen = []
    with pytest.raises(ValueError, match="three"):
        for result in ordered_map(fail_on_three, range(40), workers=2, processes=True):
            seen.append(result)
    assert seen == [0, 1, 2]
    assert multiprocessing.active_children() == []


def test_one_worker_with_processes_is_this_process_alone() -> None:
    results = list(
        ordered_map(index_and_pid, [(i, 0.0) for i in range(5)], workers=1, processes=True)
    )
    assert results == [(i, os.getpid()) for i in range(5)]
