"""Indexing on a Dask cluster against the local path, on one machine: the figures of
docs/distributed.md.

``.venv/bin/python benches/cluster_bench.py [--runs 3] [--data .bench/cluster]``

Makes (once, in ``--data``) three sources from crops of the sample photos that
scikit-image ships (as ``benches/photo_data.py`` uses them; nothing is downloaded):

* **photos**: 600 JPEG files of 1600 x 1200 (crops of a sample photo, enlarged);
* **tiles**: 6,000 JPEG files of 128 x 128;
* **video**: a 120 s 720p30 H.264 clip (x264 ``ultrafast`` with B-frames) panning across a
  sample photo, cut at 1 frame per second, 2 crops.

Then indexes each into a new library, ``--runs`` times per mode (the modes taking
turns), and prints the median wall time and throughput of: the local path
(threads or processes, one per core), and a ``LocalCluster`` of 1 and of 2
single-thread worker processes (started
once beforehand: its start-up is printed apart). Also measured: the round trip of
an empty task through the scheduler (the overhead per task), and the single
writer's commit rate (tiles committed per second from results already computed),
the ceiling of any number of workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import distributed
import numpy as np
from PIL import Image

from mosaicfast import index_library
from mosaicfast._util.cluster import Task, ordered_results
from mosaicfast.demo import TILE_SOURCES, sample_photo
from mosaicfast.library.indexer import IndexReport, _BatchWriter, _Chunk, _Entry, _Tiles
from mosaicfast.library.store import Library

WIDTH, HEIGHT, RATE = 1280, 720, 30
VIDEO_SECONDS = 120
PHOTOS, PHOTO_SIZE = 600, (1600, 1200)
TILES, TILE_SIDE = 6000, 128


def _crop(
    rng: np.random.Generator, photos: list[Image.Image], size: tuple[int, int]
) -> Image.Image:
    """A random crop of a random sample photo, of ``size``'s aspect ratio, resized to it."""
    photo = photos[rng.integers(len(photos))]
    scale = rng.uniform(0.3, 1.0)
    width = int(min(photo.width, photo.height * size[0] / size[1]) * scale)
    height = int(width * size[1] / size[0])
    left = int(rng.integers(0, photo.width - width + 1))
    top = int(rng.integers(0, photo.height - height + 1))
    crop = photo.crop((left, top, left + width, top + height))
    return crop.resize(size, Image.Resampling.BICUBIC)


def make_files(folder: Path, count: int, size: tuple[int, int], seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(sample_photo(name)) for name in TILE_SOURCES]
    for i in range(count):
        _crop(rng, photos, size).save(folder / f"{i:05d}.jpg", quality=90)


def make_clip(path: Path, seconds: int) -> None:
    """A 720p30 clip panning across a sample photo, with a little grain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    photo = Image.fromarray(sample_photo("astronaut"))
    base = np.asarray(photo.resize((WIDTH * 2, HEIGHT * 2), Image.Resampling.BICUBIC))
    rng = np.random.default_rng(0)
    grain = rng.integers(-6, 7, (*base.shape[:2], 1), dtype=np.int16)
    base = np.clip(base + grain, 0, 255).astype(np.uint8)
    span = base.shape[1] - WIDTH
    with av.open(str(path), "w") as container:
        # ultrafast with B-frames: quick to make on a busy machine; decoding it costs
        # less than camera video, so the rates are higher than docs/library.md's.
        options = {"preset": "ultrafast", "x264-params": "bframes=3"}
        stream = container.add_stream("libx264", rate=RATE, options=options)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(seconds * RATE):
            phase = (i / (20 * RATE)) % 2  # there and back every 40 s
            x = int(span * (phase if phase <= 1 else 2 - phase))
            y = (i // (7 * RATE) * 97) % HEIGHT
            pixels = np.ascontiguousarray(base[y : y + HEIGHT, x : x + WIDTH])
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_data(data: Path) -> dict[str, Path]:
    sources = {"photos": data / "photos", "tiles": data / "tiles", "video": data / "video"}
    for name, count, size, seed in [
        ("photos", PHOTOS, PHOTO_SIZE, 1),
        ("tiles", TILES, (TILE_SIDE, TILE_SIDE), 2),
    ]:
        if not (sources[name] / f"{count - 1:05d}.jpg").exists():
            start = time.perf_counter()
            make_files(sources[name], count, size, seed)
            print(f"made {count} {name} in {time.perf_counter() - start:.0f}s")
    clip = sources["video"] / f"pan-{VIDEO_SECONDS}s-{HEIGHT}p{RATE}.mp4"
    if not clip.exists():
        start = time.perf_counter()
        partial = clip.with_name(f"partial-{clip.name}")
        make_clip(partial, VIDEO_SECONDS)
        partial.rename(clip)
        print(f"made {clip} in {time.perf_counter() - start:.0f}s")
    return sources


def timed_index(source: Path, cluster: object | None) -> tuple[float, IndexReport]:
    with tempfile.TemporaryDirectory(dir=source.parent) as scratch:
        start = time.perf_counter()
        report = index_library(Path(scratch) / "library", [source], cluster=cluster)
        return time.perf_counter() - start, report


def median_of(runs: int, work: Callable[[], float]) -> float:
    return statistics.median(work() for _ in range(runs))


def _nothing(i: int) -> int:
    return i


def task_overhead(client: distributed.Client, count: int = 400) -> float:
    """Seconds per empty task taken in order through :func:`ordered_results`."""
    start = time.perf_counter()
    for _ in ordered_results(client, [Task("empty", _nothing, (i,)) for i in range(count)]):
        pass
    return (time.perf_counter() - start) / count


def described_chunks(tiles: int = 20_000, per_chunk: int = 256) -> list[_Chunk]:
    """Results as workers return them: chunks of ``per_chunk`` photos of one distinct
    64-px crop each, described."""
    rng = np.random.default_rng(5)
    photos = [Image.fromarray(sample_photo(name)) for name in TILE_SOURCES]
    chunks = []
    for c in range(tiles // per_chunk):
        thumbs = np.stack([np.asarray(_crop(rng, photos, (64, 64))) for _ in range(per_chunk)])
        boxes, times = [(0, 0, 64, 64)] * per_chunk, [None] * per_chunk
        described = _Tiles.describe(thumbs, boxes, times, (5,))  # type: ignore[arg-type]
        entries = [_Entry(Path(f"/{c}/{i}.jpg"), "image", 1, 1, "ok") for i in range(per_chunk)]
        chunks.append(_Chunk(entries, described, list(range(per_chunk))))
    return chunks


def commit_rate(chunks: list[_Chunk], scratch: Path) -> float:
    """Tiles per second the single writer commits from results already computed
    (near-duplicate search on, as by default)."""
    with Library.create(scratch / "library") as lib:
        writer = _BatchWriter(lib, 4, IndexReport(), lambda path, reason: None)
        start = time.perf_counter()
        for chunk in chunks:
            writer.add(chunk)
        writer.flush()
        seconds = time.perf_counter() - start
    return sum(len(chunk.owners) for chunk in chunks) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(".bench/cluster"))
    parser.add_argument(
        "--sources", default="photos,tiles,video", help="which of photos,tiles,video to index"
    )
    args = parser.parse_args()
    sources = make_data(args.data)
    sources = {name: sources[name] for name in args.sources.split(",")}
    print(f"machine: {os.cpu_count()} cores; median of {args.runs} runs per cell")
    clients: dict[str, distributed.Client | None] = {"local path": None}
    for workers in (1, 2):
        start = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        )
        clients[f"cluster, {workers} worker{'s' * (workers > 1)}"] = distributed.Client(cluster)
        print(f"LocalCluster of {workers}: started in {time.perf_counter() - start:.1f}s")
    units = {"photos": "files/s", "tiles": "files/s", "video": "x real time"}
    header = f"{'source':<8} {'mode':<20} {'seconds':>8} {'throughput':>18} {'tiles':>7}"
    print(header)
    for name, source in sources.items():
        # The modes take turns run by run, so that a change in the machine's load
        # falls on all of them alike.
        runs: dict[str, list[tuple[float, IndexReport]]] = {mode: [] for mode in clients}
        for _ in range(args.runs):
            for mode, client in clients.items():
                runs[mode].append(timed_index(source, client))
        for mode, timed in runs.items():
            seconds = statistics.median(seconds for seconds, _ in timed)
            report = timed[-1][1]
            if name == "video":
                rate = f"{VIDEO_SECONDS / seconds:.1f}x"
            else:
                rate = f"{report.added / seconds:,.0f}"
            print(f"{name:<8} {mode:<20} {seconds:8.2f} {rate:>10} {units[name]:<7} "
                  f"{report.tiles_added:7,}", flush=True)  # fmt: skip
    for mode, client in clients.items():
        if client is not None:
            overhead = median_of(args.runs, lambda c=client: task_overhead(c))
            print(f"overhead per empty task, {mode}: {overhead * 1000:.2f} ms")
            cluster = client.cluster
            client.close()
            assert cluster is not None
            cluster.close()
    chunks = described_chunks()
    with tempfile.TemporaryDirectory() as scratch:
        folders = [Path(scratch) / str(run) for run in range(args.runs)]
        rate = statistics.median(commit_rate(chunks, folder) for folder in folders)
    print(f"single writer's commit rate: {rate:,.0f} tiles/s")


if __name__ == "__main__":
    main()
