"""Indexing on a Dask cluster: ``index_library(..., cluster=...)``, ``index --cluster``.

The client (the process running ``mosaicfast index``) scans the sources, plans
tasks of about a second of work or more (batches of photos; long videos cut into
time ranges, each read from the keyframe before it) and submits them to the
cluster. Workers read the files from a path they all see (a shared folder) and
run the same per-file work as a local run (:mod:`mosaicfast.indexer`): decode,
cut, hash and describe. They return the tiles as NumPy arrays; the client stays
the library's single writer and commits the results through the same batch
writer, in the order a local run reads the files, so that tile ids, duplicates
and provenance come out the same whatever the number of workers.

A video's static-frame test compares each frame with the previous frame kept,
which may lie in an earlier time range: workers return every non-flat frame with
its grey probe and the client applies the test in time order, as one reader would.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.cluster import ClusterSpec, Task, connect, ordered_results, say
from .._util.lifetime import pause_point
from .._util.progress import progress_bar
from ..errors import ImageReadError
from ..io.video import SpliceOptions, SpliceStats, StaticFilter, splice, video_duration
from .indexer import _Chunk, _Entry, _photos_and_videos, _read_photo_chunk, _Tiles, _Todo

if TYPE_CHECKING:
    from .indexer import _BatchWriter, _StopOnInterrupt
    from .store import DescriptorKind, Library

__all__ = ["PHOTO_TASK_BYTES", "PHOTO_TASK_FILES", "SEGMENT_SECONDS", "read_on_cluster"]

#: A photo task holds files up to this many bytes in all (about a second of decoding
#: for camera JPEGs), and at most this many files (about a second for small tiles).
PHOTO_TASK_BYTES = 32 << 20
PHOTO_TASK_FILES = 1024
#: Seconds of video per task: several seconds of work for 1080p, and the decoding
#: from the keyframe before each range is a small part of it.
SEGMENT_SECONDS = 60.0


@dataclass
class _Segment:
    """What a worker read of one time range of a video: every sampled frame's time,
    and the non-flat frames' times, grey probes and tiles (``crops`` per frame)."""

    sampled: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    probes: NDArray[np.float32] | None = None
    tiles: _Tiles | None = None
    decoded_until: float | None = None
    error: str | None = None
    unreadable: str | None = None
    unseen: str | None = None


def _unseen(path: Path) -> str | None:
    """Why a worker cannot see ``path`` (it is not on a folder shared with the client)."""
    if os.path.lexists(path):
        return None
    return (
        f"not found on the Dask worker on {socket.gethostname()} (is the folder shared "
        "at the same path there?); not recorded, the next run tries again"
    )


def _photo_task(
    items: list[_Todo],
    thumb_size: int,
    kinds: Sequence[DescriptorKind],
    max_image_pixels: int | None,
) -> tuple[_Chunk, list[tuple[Path, str]]]:
    """On a worker: read a batch of photos as a local run does; list those not seen."""
    pause_point("cluster-task")
    Image.MAX_IMAGE_PIXELS = max_image_pixels
    unseen = [(item.path, reason) for item in items if (reason := _unseen(item.path))]
    missing = {path for path, _ in unseen}
    chunk = _read_photo_chunk([i for i in items if i.path not in missing], thumb_size, kinds)
    return chunk, unseen


def _video_task(
    path: Path,
    thumb_size: int,
    kinds: Sequence[DescriptorKind],
    options: SpliceOptions,
    start: float,
    end: float | None,
) -> _Segment:
    """On a worker: sample the video from ``start`` to ``end`` (None: its end); every
    non-flat frame is kept here, the static test is the client's."""
    pause_point("cluster-task")
    segment = _Segment(unseen=_unseen(path))
    if segment.unseen:
        return segment
    stats = SpliceStats()
    keep_all = replace(options, static_difference=0.0)
    frames = []
    try:
        for frame in splice(
            path, thumb_size, keep_all, stats, start=start, end=end, on_time=segment.sampled.append
        ):
            frames.append(frame)
    except ImageReadError as err:
        segment.unreadable = err.reason
        return segment
    segment.decoded_until, segment.error = stats.decoded_until, stats.error
    if frames:
        segment.times = [frame.time for frame in frames]
        segment.probes = np.stack([frame.probe for frame in frames])  # type: ignore[misc]
        tiles = [tile for frame in frames for tile in frame.tiles]
        times: list[float | None] = [frame.time for frame in frames for _ in frame.tiles]
        thumbs = np.stack([pixels for pixels, _ in tiles])
        segment.tiles = _Tiles.describe(thumbs, [box for _, box in tiles], times, kinds)
    return segment


@dataclass
class _Task:
    """A planned task: the function and its arguments, and the source it reads."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    files: int
    video: _VideoAssembly | None = None
    last: bool = False

    @property
    def call(self) -> Task:
        return Task("video" if self.video else "photos", self.function, self.args)


def _photo_tasks(photos: list[_Todo], lib: Library, max_pixels: int | None) -> list[_Task]:
    """Consecutive photos in tasks of up to PHOTO_TASK_BYTES and PHOTO_TASK_FILES."""
    tasks: list[_Task] = []
    batch: list[_Todo] = []
    size = 0
    for item in photos:
        if batch and (size + item.size > PHOTO_TASK_BYTES or len(batch) >= PHOTO_TASK_FILES):
            tasks.append(
                _Task(_photo_task, (batch, lib.thumb_size, lib.descriptor_kinds, max_pixels), 0)
            )
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        tasks.append(
            _Task(_photo_task, (batch, lib.thumb_size, lib.descriptor_kinds, max_pixels), 0)
        )
    for task in tasks:
        task.files = len(task.args[0])
    return tasks


def _segment_bounds(start: float, duration: float | None, step: float) -> list[float | None]:
    """Where the time ranges of a video end: every SEGMENT_SECONDS, on the sampling
    instants (multiples of ``step``), the last one open (None)."""
    if duration is None:
        return [None]
    per_range = max(1, round(SEGMENT_SECONDS / step))
    first = round(start / step)
    count = max(1, math.ceil((duration - start) / (per_range * step)))
    return [(first + k * per_range) * step for k in range(1, count)] + [None]


def _video_tasks(
    item: _Todo, lib: Library, options: SpliceOptions, writer: _BatchWriter
) -> list[_Task]:
    """A video's time ranges, in order (one range when the client cannot open it: the
    worker finds why, and the error is recorded in its turn)."""
    assembly = _VideoAssembly(item, options, writer)
    try:
        duration = video_duration(item.path)
    except ImageReadError:
        duration = None
    start = item.resume_after or 0.0
    ends = _segment_bounds(start, duration, 1.0 / options.fps)
    starts = [start, *ends[:-1]]
    tasks = [
        _Task(
            _video_task,
            (item.path, lib.thumb_size, lib.descriptor_kinds, options, a, b),
            0,
            assembly,
        )
        for a, b in zip(starts, ends, strict=True)
    ]
    tasks[-1].files, tasks[-1].last = 1, True
    return tasks


class _VideoAssembly:
    """Puts a video's time ranges back together, in order, as one reader would have
    read it: drops the frame two ranges both took, applies the static test, and
    hands each kept frame and the final record to the writer."""

    def __init__(self, item: _Todo, options: SpliceOptions, writer: _BatchWriter) -> None:
        self.item, self.writer = item, writer
        self.static = StaticFilter(options.static_difference)
        self.stats = SpliceStats()
        self.last = -math.inf
        self.done = False

    def entry(self, status: str, **fields: Any) -> _Entry:
        item = self.item
        return _Entry(item.path, "video", item.size, item.mtime_ns, status, **fields)

    def add(self, segment: _Segment, last: bool) -> None:
        if self.done:
            return
        if segment.unseen or segment.unreadable:
            self._stop(segment.unseen, segment.unreadable)
            return
        stats = self.stats
        new = [t for t in segment.sampled if t > self.last]
        stats.sampled += len(new)
        kept = [j for j, t in enumerate(segment.times) if t > self.last]
        stats.flat += len(new) - len(kept)
        crops = len(segment.tiles) // len(segment.times) if segment.tiles is not None else 0
        for j in kept:
            assert segment.probes is not None and segment.tiles is not None
            if self.static.is_static(segment.probes[j]):
                stats.static += 1
                continue
            stats.kept += 1
            tiles = _rows(segment.tiles, range(j * crops, (j + 1) * crops))
            time = segment.times[j]
            self.writer.add(_Chunk([self.entry("partial", done_until=time)], tiles, [0] * crops))
        if new:
            self.last = stats.last_time = new[-1]
        stats.decoded_until = segment.decoded_until or stats.decoded_until
        if segment.error is not None or last:
            self._finish(segment.error)

    def _count(self) -> None:
        report = self.writer.report
        report.frames_sampled += self.stats.sampled
        report.frames_flat += self.stats.flat
        report.frames_static += self.stats.static

    def _finish(self, error: str | None) -> None:
        self.done = True
        self._count()
        self.writer.report.videos += 1
        if error is not None:
            error = f"{error}; the tiles before it were kept"
        self.writer.add(_Chunk([self.entry("ok", error=error, done_until=self.stats.last_time)]))

    def _stop(self, unseen: str | None, unreadable: str | None) -> None:
        """A range could not be read: a worker did not see the file (reported, not
        recorded: the next run resumes), or FFmpeg could not open it (recorded)."""
        self.done = True
        self._count()
        if unreadable is not None:
            self.writer.add(_Chunk([self.entry("error", error=unreadable)]))
        else:
            self.writer.report.failed += 1
            self.writer.skip(self.item.path, unseen or "")


def _rows(tiles: _Tiles, rows: range) -> _Tiles:
    """The tiles ``rows`` of a stack."""
    part = slice(rows.start, rows.stop)
    return _Tiles(
        tiles.thumbs[part],
        tiles.boxes[part],
        tiles.times[part],
        tiles.pixel_hashes[part],
        tiles.phashes[part],
        {kind: values[part] for kind, values in tiles.descriptors.items()},
    )


def read_on_cluster(
    cluster: ClusterSpec,
    todo: list[_Todo],
    lib: Library,
    options: SpliceOptions,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    """Read ``todo`` on the cluster and commit the results through ``writer``, in the
    order a local run reads them (photos, then videos, each in scan order)."""
    photos, videos = _photos_and_videos(todo)
    tasks = _photo_tasks(photos, lib, Image.MAX_IMAGE_PIXELS)
    with connect(cluster, say=say if progress else None) as client:
        for item in videos:
            tasks += _video_tasks(item, lib, options, writer)
        with progress_bar(len(todo), "index", "file", enabled=progress) as bar:
            for index, result in ordered_results(client, [task.call for task in tasks]):
                task = tasks[index]
                _commit(task, result, writer)
                bar.update(task.files)
                bar.set_postfix_str(f"task {index + 1}/{len(tasks)}", refresh=False)
                if stop.requested:
                    return


def _commit(task: _Task, result: Any, writer: _BatchWriter) -> None:
    """Hand a task's result (or the error that ended it) to the writer."""
    failed = result if isinstance(result, BaseException) else None
    reason = f"the Dask task reading it failed ({type(failed).__name__}: {failed}); not recorded"
    if task.video is not None:
        task.video.add(_Segment(unseen=reason) if failed else result, task.last)
        return
    if failed:
        for item in task.args[0]:
            writer.report.failed += 1
            writer.skip(item.path, reason)
        return
    chunk, unseen = result
    for path, why in unseen:
        writer.report.failed += 1
        writer.skip(path, why)
    writer.add(chunk)
