"""A real indexing process killed at random moments leaves a consistent library that
resumes with no duplicate and no lost committed tile; Ctrl-C stops cleanly."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaicfast import Library, LibraryError, TileSource, index_library
from mosaicfast.maintenance import verify_library

FILES = 10_000


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for i in range(FILES):
        coarse = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((64, 48), Image.Resampling.BILINEAR)
        image.save(folder / f"f{i:05d}.jpg")
    return folder


def start_index(photos: Path, library: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaicfast", "index", str(photos), "--library", str(library), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_progress(library: Path, done: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until more than ``done`` tiles are committed (or the process ends)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if len(committed(library)) > done:
                return
        except LibraryError:  # not created yet
            pass
        time.sleep(0.02)


def committed(library: Path) -> dict[str, bytes]:
    """Source path -> pixel hash of its tile, for every committed tile."""
    with Library.open(library) as lib:
        rows = lib.query(
            "SELECT s.path, t.pixel_hash FROM tiles t JOIN sources s ON s.id = t.source_id"
        )
        assert len(rows) == len({path for path, _ in rows}), "a source has two tiles"
        return dict(rows)


def test_sigkill_at_random_moments_loses_nothing_committed(
    many_photos: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    chooser = random.Random(1234)
    before: dict[str, bytes] = {}
    kills = midway = 0
    for attempt in range(8):
        process = start_index(many_photos, library)
        if attempt % 2:
            # Half the kills come once this run has committed something of its own...
            wait_for_progress(library, len(before), process)
            time.sleep(chooser.uniform(0.0, 0.3))
        else:
            # ...the others at any moment, from start-up on.
            time.sleep(chooser.uniform(0.05, 1.2))
        if process.poll() is not None:
            break
        process.kill()
        process.wait()
        kills += 1
        problems, _ = verify_library(library)
        # The only thing a kill may leave is an uncommitted tail, which the next writer cuts.
        assert all("past the committed slots" in p.message for p in problems), problems
        now = committed(library)
        assert before.items() <= now.items(), "a committed tile was lost or changed"
        midway += 0 < len(now) < FILES
        before = now
    assert kills >= 4, "the runs finished too fast to be killed"
    assert midway >= 3, "too few kills landed in the middle of the work"
    finish = start_index(many_photos, library)
    assert finish.wait(timeout=120) == 0, finish.stderr.read() if finish.stderr else ""
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
    process = start_index(many_photos, library)
    time.sleep(1.0)
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert process.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    assert verify_library(library)[0] == []  # Ctrl-C commits; no tail is left
    done = len(committed(library))
    assert 0 < done < FILES
    report = index_library(library, [many_photos])
    assert report.unchanged == done and report.added == FILES - done
