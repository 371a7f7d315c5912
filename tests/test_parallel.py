"""``ordered_map`` on a thread of this process and worker processes: every result, in
order, from both; a failure raised in its turn; no process left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mosaicfast._util.parallel import WorkerProcessError, ordered_map

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def index_and_pid(item: tuple[int, float]) -> tuple[int, int]:
    """``(index, pid of the process that computed it)`` after a pause."""
    index, pause = item
    time.sleep(pause)
    return index, os.getpid()


def fail_on_three(item: int) -> int:
    if item == 3:
        raise ValueError("three")
    return item


def die_in_a_worker(item: int) -> int:
    """``item``, after a pause, in the test's own process; elsewhere the process dies."""
    if os.getpid() != int(os.environ["TEST_PARALLEL_PARENT"]):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return item


def live_children() -> set[int]:
    """This process's children that have not ended (other tests' among them, such as a
    shared Dask cluster's: compare before and after)."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(os.getpid()) and fields[0] != "Z":
            found.add(int(entry))
    return found


def test_a_thread_and_worker_processes_give_every_result_in_order() -> None:
    before = live_children()
    items = [(i, 0.05) for i in range(60)]
    results = list(ordered_map(index_and_pid, items, workers=3, processes=True))
    assert [index for index, _ in results] == list(range(60))
    pids = [pid for _, pid in results]
    # This process's thread starts at once; the worker processes take items once up.
    assert pids[0] == os.getpid()
    assert len(set(pids) - {os.getpid()}) >= 1, "no worker process took an item"
    assert live_children() <= before


def test_a_failure_is_raised_in_its_turn_and_stops_the_workers() -> None:
    before = live_children()
    seen = []
    with pytest.raises(ValueError, match="three"):
        for result in ordered_map(fail_on_three, range(40), workers=2, processes=True):
            seen.append(result)
    assert seen == [0, 1, 2]
    assert live_children() <= before


def test_a_worker_process_that_dies_fails_its_calls_in_their_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_PARALLEL_PARENT", str(os.getpid()))
    before = live_children()
    seen = []
    with pytest.raises(WorkerProcessError, match="worker process ended"):
        for result in ordered_map(die_in_a_worker, range(500), workers=2, processes=True):
            seen.append(result)
    assert 0 < len(seen) < 500 and seen == list(range(len(seen)))
    assert live_children() <= before


def test_one_worker_with_processes_is_this_process_alone() -> None:
    results = list(
        ordered_map(index_and_pid, [(i, 0.0) for i in range(5)], workers=1, processes=True)
    )
    assert results == [(i, os.getpid()) for i in range(5)]


def test_worker_processes_end_without_a_word(capfd: pytest.CaptureFixture[str]) -> None:
    # The workers inherit this process's standard error and PYTHONWARNINGS=error (the
    # conftest's): a pipe left open at their exit would print a ResourceWarning there.
    items = [(i, 0.01) for i in range(30)]
    assert len(list(ordered_map(index_and_pid, items, workers=3, processes=True))) == 30
    assert capfd.readouterr().err == ""
