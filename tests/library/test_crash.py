"""A real indexing process killed at every step of its commit protocol leaves a
consistent library that resumes with no duplicate and no lost committed tile; Ctrl-C
and SIGTERM stop it cleanly.

Each run is held at a known moment by a pause point
(:func:`mosaicfast._util.lifetime.pause_point`) and killed or signalled there, so the test
does the same on a fast machine and on a loaded one. A batch is 256 tiles and its
protocol is: thumbnails written and flushed, descriptors written and flushed
(``arrays-written`` 1 and 2), catalog transaction committed (``batch-committed``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaicfast import Library, TileSource, index_library
from mosaicfast._util.lifetime import PAUSE_VARIABLE
from mosaicfast.library.maintenance import verify_library

from ..conftest import query

pytestmark = pytest.mark.slow

#: Three batches: two of 256 tiles and a short one.
FILES = 600
#: Seconds a run may take to reach a pause point or to finish.
LIMIT = 60
#: Where each run is killed: (pause point, what the kill leaves committed). Runs
#: count their visits from 1, so "arrays-written-2" of a run that starts with one
#: batch committed is the second batch's descriptors.
KILLS = [
    ("arrays-written-1", "nothing new"),  # the first batch's thumbnails only
    ("arrays-written-2", "nothing new"),  # its thumbnails and descriptors, not committed
    ("batch-committed-1", "one batch more"),
    ("arrays-written-2", "nothing new"),  # a tail past one committed batch
    ("batch-committed-1", "one batch more"),  # two of three batches done
]


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for i in range(FILES):
        coarse = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((64, 48), Image.Resampling.BILINEAR)
        image.save(folder / f"f{i:05d}.jpg")
    return folder


def start_index(photos: Path, library: Path, pause: Path | None) -> subprocess.Popen[bytes]:
    """``mosaicfast index`` in a new process, held at ``pause`` (see the module doc)."""
    env = {key: value for key, value in os.environ.items() if key != PAUSE_VARIABLE}
    if pause is not None:
        env[PAUSE_VARIABLE] = str(pause)
    return subprocess.Popen(
        [sys.executable, "-m", "mosaicfast", "index", str(photos), "--library", str(library), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def wait_until_paused(pause: Path, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``process`` is held at ``pause``; fail if it ends or takes too long."""
    deadline = time.monotonic() + LIMIT
    while not pause.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the run ended ({process.returncode}) before {pause.name}: {err!r}")
        assert time.monotonic() < deadline, f"{pause.name} not reached in {LIMIT} s"
        time.sleep(0.005)


def committed(library: Path) -> dict[str, bytes]:
    """Source path -> pixel hash of its tile, for every committed tile."""
    with Library.open(library) as lib:
        rows = query(
            lib, "SELECT s.path, t.pixel_hash FROM tiles t JOIN sources s ON s.id = t.source_id"
        )
        assert len(rows) == len({path for path, _ in rows}), "a source has two tiles"
        return dict(rows)


def test_sigkill_at_every_step_of_a_commit_loses_nothing_committed(
    many_photos: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    before: dict[str, bytes] = {}
    for point, leaves in KILLS:
        pause = tmp_path / point
        process = start_index(many_photos, library, pause)
        wait_until_paused(pause, process)
        process.kill()
        process.communicate()  # reaps it and closes its pipes
        pause.unlink()
        problems, _ = verify_library(library)
        # The only thing a kill may leave is an uncommitted tail, which the next writer cuts.
        assert all("past the committed slots" in p.message for p in problems), problems
        now = committed(library)
        assert before.items() <= now.items(), "a committed tile was lost or changed"
        if leaves == "nothing new":
            assert problems, f"killed at {point}, no uncommitted rows were left"
            assert now == before
        else:
            assert len(before) < len(now) < FILES
        before = now
    finish = start_index(many_photos, library, None)
    _, err = finish.communicate(timeout=LIMIT)
    assert finish.returncode == 0, err.decode()
    assert verify_library(library)[0] == []
    final = committed(library)
    assert len(final) == FILES
    assert before.items() <= final.items()

    clean = tmp_path / "clean"
    index_library(clean, [many_photos])
    assert committed(clean) == final
    with Library.open(library) as lib:
        rows = lib.tiles_in_use()
        sample = np.linspace(0, len(rows) - 1, 20).astype(int)
        thumbs = lib.thumbnails(rows.slots[sample])
    for thumb, i in zip(thumbs, sample, strict=True):
        source = TileSource(Path(rows.paths[i]), tuple(rows.boxes[i].tolist()))
        assert np.array_equal(thumb, source.load(64))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(
    many_photos: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    library = tmp_path / "lib"
    pause = tmp_path / "batch-committed-1"
    process = start_index(many_photos, library, pause)
    wait_until_paused(pause, process)  # one batch committed, two to go
    process.send_signal(stop)
    pause.unlink()
    _, err = process.communicate(timeout=LIMIT)
    assert process.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    assert verify_library(library)[0] == []  # Ctrl-C commits; no tail is left
    done = len(committed(library))
    assert 0 < done < FILES
    report = index_library(library, [many_photos])
    assert report.unchanged == done and report.added == FILES - done
