"""Indexing and batch builds on a real ``distributed.LocalCluster`` (worker processes on
the loopback interface, no dashboard): the library and the mosaics equal a local run's,
whatever the number of workers; a worker killed mid-task changes nothing; a video cut
into time ranges gives the tiles one reader gives; a file a worker cannot see is
reported and not recorded. The single-machine path imports no Dask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mosaicfast import IndexReport, Library, build, build_many, index_library
from mosaicfast._util import cluster as session
from mosaicfast.cli import main
from mosaicfast.errors import MosaicfastError
from mosaicfast.io.video import SpliceOptions
from mosaicfast.library import cluster as cluster_index
from mosaicfast.library import indexer as indexer_module
from mosaicfast.library.maintenance import verify_library
from mosaicfast.library.store import DEFAULT_DESCRIPTORS

from .conftest import query
from .io.test_video import H, W, pattern, write_video

pytestmark = pytest.mark.slow

#: Every column the catalog keeps of sources and tiles, and the settings.
SOURCES = "SELECT id, path, kind, size, mtime_ns, content_hash, status, error, done_until"
TILES = "SELECT * FROM tiles ORDER BY id"


def local_cluster(workers: int, **worker_options: object) -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        **worker_options,
    )


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """Two worker processes, shared by the tests of this file."""
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(autouse=True)
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks of 8 photos and 3 s of video, so that these small sources make many tasks."""
    monkeypatch.setattr(cluster_index, "PHOTO_TASK_FILES", 8)
    monkeypatch.setattr(cluster_index, "SEGMENT_SECONDS", 3.0)


def story(t: float) -> np.ndarray:
    """A new picture every second, a static shot across a range boundary (4-8 s) and a
    fade to black across another (11.5-13 s)."""
    if 4 <= t < 8:
        return pattern(4)
    if 11.5 <= t < 13:
        return np.zeros((H, W, 3), np.uint8)
    return pattern(int(t))


def story_times() -> list[float]:
    """10 frames a second for 20 s, none from 13.5 to 15.5 s: the frame taken for the
    instant 14 s (in the range 12-15 s) is at 15.5 s, in the next range too."""
    return [i / 10 for i in range(200) if not 135 < i < 155]


@pytest.fixture
def sources(tmp_path: Path, photo_tiles: Path) -> Path:
    """80 photos, an exact duplicate, an unreadable photo, two videos and a broken one."""
    (photo_tiles / "copy.jpg").write_bytes((photo_tiles / "p003.jpg").read_bytes())
    (photo_tiles / "bad.jpg").write_bytes(b"not a jpeg")
    # A keyframe every second: each time range is read from the keyframe before it.
    write_video(photo_tiles / "story.mp4", 20, story, times=story_times(), gop=10)
    write_video(photo_tiles / "short.mkv", 4)
    (photo_tiles / "broken.mp4").write_bytes(b"not a video")
    return photo_tiles


def snapshot(library: Path) -> tuple[object, ...]:
    """Everything a library holds, but file times: catalog rows and array bytes."""
    with Library.open(library) as lib:
        catalog = (
            query(lib, f"{SOURCES} FROM sources ORDER BY id"),
            query(lib, TILES),
            query(lib, "SELECT key, value FROM meta ORDER BY key"),
        )
        arrays = {name: lib.array_path(name).read_bytes() for name in lib.array_files()}
    return catalog, arrays


def local_index(library: Path, sources: Path) -> tuple[object, ...]:
    index_library(library, [sources])
    return snapshot(library)


def counts(report: IndexReport) -> dict[str, object]:
    """What a report says, but the time taken."""
    return {k: v for k, v in vars(report).items() if k != "seconds"}


def test_an_index_on_the_cluster_equals_the_local_one(
    client: distributed.Client, sources: Path, tmp_path: Path
) -> None:
    local = index_library(tmp_path / "local", [sources])
    report = index_library(tmp_path / "cluster", [sources], cluster=client)
    assert snapshot(tmp_path / "cluster") == snapshot(tmp_path / "local")
    assert counts(report) == counts(local)
    assert (report.added, report.failed, report.videos) == (83, 2, 2)
    assert [path.name for path, _ in report.skipped] == ["bad.jpg", "broken.mp4"]
    # Nothing left to do: a second run reads nothing, on the cluster or not.
    again = index_library(tmp_path / "cluster", [sources], cluster=client)
    assert (again.unchanged, again.added, again.tiles_added) == (85, 0, 0)


def test_a_video_cut_in_time_ranges_gives_the_tiles_of_one_reader(
    client: distributed.Client, sources: Path, tmp_path: Path
) -> None:
    video = sources / "story.mp4"
    local = index_library(tmp_path / "local", [video])
    assert cluster_index._segment_bounds(0.0, 20.0, 1.0) == [3, 6, 9, 12, 15, 18, None]
    # The frame at 15.5 s is taken for 14 s by one range and for 15 s by the next.
    ends = [cluster_index._video_task(video, 64, DEFAULT_DESCRIPTORS, SpliceOptions(), a, b).sampled
            for a, b in [(12.0, 15.0), (15.0, 18.0)]]  # fmt: skip
    assert ends == [[12, 13, 15.5], [15.5, 16, 17]]
    report = index_library(tmp_path / "cluster", [video], cluster=client)
    assert snapshot(tmp_path / "cluster") == snapshot(tmp_path / "local")
    assert counts(report) == counts(local)
    # 19 instants (14 s and 15 s share a frame), 1 flat (12 s), 3 static (5-7 s).
    assert (report.frames_sampled, report.frames_flat, report.frames_static) == (19, 1, 3)
    with Library.open(tmp_path / "cluster") as lib:
        times = sorted({t for (t,) in query(lib, "SELECT frame_time FROM tiles")})
    assert times == [0, 1, 2, 3, 4, 8, 9, 10, 11, 13, 15.5, 16, 17, 18, 19]


def test_a_resumed_video_goes_on_from_the_last_frame_committed(
    client: distributed.Client, sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = sources / "story.mp4"
    expected = local_index(tmp_path / "local", video)
    commit = indexer_module._BatchWriter.flush
    calls = []

    def stop_after_two_batches(self: indexer_module._BatchWriter) -> None:
        commit(self)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(indexer_module, "_BATCH", 6)
    monkeypatch.setattr(indexer_module._BatchWriter, "flush", stop_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        index_library(tmp_path / "cluster", [video], cluster=client)
    monkeypatch.setattr(indexer_module._BatchWriter, "flush", commit)
    with Library.open(tmp_path / "cluster") as lib:
        assert query(lib, "SELECT status FROM sources") == [("partial",)]
    index_library(tmp_path / "cluster", [video], cluster=client)
    assert snapshot(tmp_path / "cluster") == expected


def test_a_worker_killed_mid_task_changes_nothing(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = local_index(tmp_path / "local", sources)
    marker = tmp_path / "cluster-task-1"  # each worker process's first task waits here
    with (
        local_cluster(2, env={"MOSAICFAST_PAUSE_AT": str(marker)}) as cluster,
        distributed.Client(cluster) as client,
    ):
        errors: list[BaseException] = []

        def run() -> None:
            try:
                index_library(tmp_path / "cluster", [sources], cluster=client)
            except BaseException as err:
                errors.append(err)

        indexing = threading.Thread(target=run)
        indexing.start()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline and indexing.is_alive()
            time.sleep(0.01)
        busy = next(address for address, keys in client.processing().items() if keys)
        pids = client.run(os.getpid)
        os.kill(pids[busy], signal.SIGKILL)
        while indexing.is_alive():  # let every other worker (and the new one) go on
            marker.unlink(missing_ok=True)
            time.sleep(0.01)
        indexing.join()
        assert pids[busy] not in client.run(os.getpid).values()  # it was killed, and replaced
    assert not errors
    assert snapshot(tmp_path / "cluster") == expected
    problems, _ = verify_library(tmp_path / "cluster")
    assert problems == []


def test_a_file_a_worker_cannot_see_is_reported_and_not_recorded(
    client: distributed.Client, sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = [sources / "p010.jpg", sources / "short.mkv"]
    plan = cluster_index._video_tasks

    def hide_after_planning(*args: object) -> list[object]:
        tasks = plan(*args)  # type: ignore[arg-type]
        for path in gone:  # the client saw them; the workers will not
            if path.exists():
                path.rename(tmp_path / path.name)
        return tasks  # type: ignore[return-value]

    monkeypatch.setattr(cluster_index, "_video_tasks", hide_after_planning)
    report = index_library(tmp_path / "cluster", [sources], cluster=client)
    unseen = [(path, reason) for path, reason in report.skipped if "Dask worker" in reason]
    assert [path for path, _ in unseen] == gone
    assert all("not recorded" in reason and "\n" not in reason for _, reason in unseen)
    assert (report.added, report.failed) == (81, 4)
    with Library.open(tmp_path / "cluster") as lib:
        paths = {os.fsdecode(p) for (p,) in query(lib, "SELECT path FROM sources")}
    assert not {str(path) for path in gone} & paths
    monkeypatch.setattr(cluster_index, "_video_tasks", plan)
    for path in gone:
        (tmp_path / path.name).rename(path)
    again = index_library(tmp_path / "cluster", [sources], cluster=client)
    assert again.added == 2  # the next run reads them


def test_a_batch_build_on_the_cluster_equals_local_builds(
    client: distributed.Client, photo_tiles: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    index_library(library, [photo_tiles])
    targets = []
    for i in range(3):
        y, x = np.mgrid[0:80, 0:120]
        pixels = np.stack([x * 2 + 40 * i, y * 3, 255 - x - y], axis=-1)
        targets.append(tmp_path / f"target{i}.png")
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(targets[-1])
    missing = tmp_path / "missing.png"
    options = {"cols": 12, "seed": 3, "assign": "penalty"}
    results = build_many([*targets, missing], library, tmp_path / "out", cluster=client, **options)
    assert [r.status for r in results] == ["built"] * 3 + ["failed"]
    assert results[3].error is not None and str(missing) in results[3].error
    for target, result in zip(targets, results, strict=False):
        local = build(target, library=library, **options)
        assert np.array_equal(result.assignment, local.assignment)  # type: ignore[arg-type]
        with Image.open(result.output) as written:
            assert np.array_equal(np.asarray(written), np.asarray(local.image))
    again = build_many(targets, library, tmp_path / "out", cluster=client, **options)
    assert [r.status for r in again] == ["kept"] * 3
    with pytest.raises(MosaicfastError, match="would both be written"):
        build_many([targets[0], tmp_path / "x" / "target0.jpg"], library, tmp_path / "o")


def test_the_commands_take_a_local_cluster(sources: Path, tmp_path: Path) -> None:
    expected = local_index(tmp_path / "local", sources)
    runner = CliRunner()
    run = runner.invoke(
        main, ["index", str(sources), "--library", str(tmp_path / "lib"), "--cluster", "local:1"]
    )
    assert run.exit_code == 0, run.output
    assert snapshot(tmp_path / "lib") == expected
    assert "Dask cluster tcp://127.0.0.1:" in run.output and "(1 worker)" in run.output
    target = tmp_path / "t.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(target)
    run = runner.invoke(
        main,
        ["build", str(target), str(target), "--library", str(tmp_path / "lib"), "-o",
         str(tmp_path / "out")],
    )  # fmt: skip
    assert run.exit_code != 0 and "would both be written" in run.output


@pytest.mark.parametrize(
    ("spec", "words"),
    [("local:0", "local:N needs N from 1 to 256"), ("tcp://127.0.0.1:9", "cannot reach")],
)
def test_a_bad_cluster_is_one_line(
    spec: str, words: str, photo_tiles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "CONNECT_TIMEOUT", 1)
    run = CliRunner().invoke(
        main, ["index", str(photo_tiles), "--library", str(tmp_path / "l"), "--cluster", spec]
    )
    assert run.exit_code == 1
    assert run.output.splitlines()[-1].startswith("Error: --cluster") and words in run.output


CLUSTER_MODULES = ("mosaicfast.batch", "mosaicfast.library.cluster", "mosaicfast._util.cluster")


def test_the_single_machine_path_imports_no_dask(photo_tiles: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        f"CLUSTER_MODULES = {CLUSTER_MODULES!r}\n"
        "from mosaicfast import build, index_library\n"
        "from mosaicfast.cli import main\n"
        f"index_library({str(tmp_path / 'l')!r}, [{str(photo_tiles)!r}])\n"
        f"build({str(photo_tiles / 'p000.jpg')!r}, library={str(tmp_path / 'l')!r}, cols=4)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')\n"
        "                or m in CLUSTER_MODULES)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_the_workers_of_a_local_cluster_die_with_their_client(tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(
        "import os, time\n"
        "from mosaicfast._util.cluster import connect\n"
        "if __name__ == '__main__':\n"
        "    with connect('local:2') as client:\n"
        "        print(*client.run(os.getpid).values(), flush=True)\n"
        "        time.sleep(100)\n"
    )
    with subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, text=True) as client:
        assert client.stdout is not None
        workers = [int(pid) for pid in client.stdout.readline().split()]
        assert len(workers) == 2
        client.kill()  # SIGKILL: the client cannot stop its workers itself
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its client"
        time.sleep(0.05)
