"""``mosaicfast index``: bring a tile library up to date with folders of photos and videos.

Only new and changed files are read (a file is unchanged when its size and
modification time are); files that disappeared are taken out of the library.
Photos are decoded on all cores, one tile each; videos are cut into tiles a few
frames per second (see :mod:`mosaicfast.io.video`). Every batch of tiles is
written to the arrays and then committed to the catalog in one transaction, so
a run killed at any moment loses at most the batch in flight, and the next run
carries on from there: a video from the last frame committed. Ctrl-C stops
after the file (or frame) in hand, once everything read is committed.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.lifetime import INTERRUPT_SIGNALS, pause_point
from .._util.parallel import AHEAD_PER_WORKER, ordered_map
from .._util.progress import progress_bar
from ..errors import ImageReadError, MosaicfastError
from ..io.images import IMAGE_SUFFIXES
from ..io.paths import from_catalog, non_regular_reason, os_reason, to_catalog
from ..io.sources import SkipHandler, scan_images
from ..io.video import VIDEO_SUFFIXES, SpliceOptions, SpliceStats, splice
from ..options import IndexOptions
from . import catalog
from .dedupe import NearIndex
from .reading import _Chunk, _Entry, _read_photo_chunk, _setup_worker_process, _Tiles, _Todo
from .store import (
    DEFAULT_DESCRIPTORS,
    DEFAULT_THUMB_SIZE,
    THUMBS,
    Library,
    LibraryError,
    WaitHandler,
)

__all__ = [
    "DEFAULT_NEAR_DISTANCE",
    "IndexInterruptedError",
    "IndexReport",
    "index_library",
]

DEFAULT_NEAR_DISTANCE: int = IndexOptions.near_distance
#: Tiles per committed batch.
_BATCH = 256
#: Photos per task. For threads, enough that the NumPy calls per task (pHash) cost little
#: beside the photos (8 -> 32: 12% less CPU for 2,000 files); for processes, enough that
#: pickling the results costs little, few enough that the last task, on whichever
#: worker, ends soon after the others (128 -> 64: 2,000 files 1.72 -> 1.38 s, medians
#: of 5 at load 5.3, the same CPU).
_THREAD_CHUNK = 32
_PROCESS_CHUNK = 64
#: Jobs with fewer photos than this read them on threads in this process; larger ones on
#: a thread of this process and worker processes for the other cores. Each worker
#: imports the reading half of the package first (0.14 s of CPU), which pays once there
#: are enough files for the Python that holds the GIL on threads (Pillow's header
#: parsing, our checks, the hashes) to cost more than that. Measured on the idle 2-core
#: machine (benches/NOTES.md, "Threads or processes, again"), `index_library` of 128-px
#: JPEGs in a fresh process, medians of 3-5, processes against threads: 200 files
#: 0.27 s against 0.21 s; 300 files 0.29 against 0.28; 400 files 0.26 against 0.37;
#: 1,000 files 0.59 against 0.92; 2,000 files 0.83 against 1.41. On a busy machine
#: threads win further up (the same NOTES, earlier sections); the threshold follows the
#: idle figures, where a user waits.
_PROCESS_MIN_FILES = 400


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    removed: int = 0
    failed: int = 0
    tiles_added: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    videos: int = 0
    frames_sampled: int = 0
    frames_flat: int = 0
    frames_static: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{self.scanned:,} files scanned: {self.added:,} indexed, {self.unchanged:,} "
            f"unchanged, {self.removed:,} removed, {self.failed:,} unreadable; "
            f"{self.tiles_added:,} tiles added ({self.exact_duplicates:,} exact and "
            f"{self.near_duplicates:,} near duplicates set aside) in {self.seconds:.1f}s"
        )
        if self.videos:
            text += (
                f"; {self.videos:,} videos: {self.frames_sampled:,} frames sampled, "
                f"{self.frames_flat:,} flat and {self.frames_static:,} static skipped"
            )
        return text


class IndexInterruptedError(MosaicfastError):
    """Ctrl-C stopped an index run; everything finished before it was committed."""

    def __init__(self, report: IndexReport) -> None:
        self.report = report
        super().__init__(
            f"interrupted: {report.added:,} files and {report.tiles_added:,} tiles committed; "
            "run the same command again to continue"
        )


def index_library(
    library: str | Path,
    sources: Sequence[str | Path] = (),
    *,
    thumb_size: int = DEFAULT_THUMB_SIZE,
    descriptors: Sequence[tuple[str, int]] = DEFAULT_DESCRIPTORS,
    near_distance: int | None = DEFAULT_NEAR_DISTANCE,
    video: SpliceOptions | None = None,
    max_image_pixels: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    on_skip: SkipHandler | None = None,
    on_wait: WaitHandler | None = None,
    cluster: str | Any | None = None,
) -> IndexReport:
    """Create or update the library at ``library`` from folders and files of photos and videos.

    Parameters
    ----------
    library : str or Path
        The library folder; created if it does not exist.
    sources : sequence of str or Path
        Folders (searched recursively) and files. Empty: the folders and files
        indexed before.
    thumb_size : int, default 64
        Side of the stored thumbnails, 32 to 1024, for a new library (ignored when it
        exists).
    descriptors : sequence of (str, int), default (("lab", 5), ("ylab", 8))
        The ``(space, grid)`` descriptor arrays a new library stores (at least one
        ``lab``). An existing library that lacks one of the defaults gets it, computed
        from its thumbnails, before anything is read.
    near_distance : int or None, default 4
        Largest pHash Hamming distance of near duplicates, 0 to 16; None keeps near
        duplicates.
    video : SpliceOptions, optional
        How videos are sampled and cut (default: 1 frame per second, 2 squares each).
    max_image_pixels : int, optional
        Refuse images with more pixels than this (decompression-bomb guard); default
        Pillow's limit.
    workers : int, optional
        Decoding threads (or processes, for many photos), 1 to
        :data:`~mosaicfast.kernels.MAX_THREADS`; default one per core.
    progress : bool
        Show progress bars.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each file that cannot be used (or, for a
        damaged video, used only up to the damage).
    on_wait : callable, optional
        When another process is writing the library: called as ``on_wait(message)``,
        and the run waits for the lock (without it, LibraryLockedError).
    cluster : str or distributed.Client, optional
        Read the files on a Dask cluster instead (see :mod:`mosaicfast.library.cluster`): a
        scheduler's address (``"tcp://host:8786"``), ``"local"`` or ``"local:N"`` (a
        local cluster of N worker processes, started and stopped here), or a
        connected ``distributed.Client``. The library comes out the same; ``workers``
        is then unused. Needs ``pip install 'mosaicfast[distributed]'``.

    Returns
    -------
    IndexReport

    Raises
    ------
    MosaicfastError
        An option out of its range (:class:`~mosaicfast.options.IndexOptions`), before
        any work.
    LibraryLockedError
        If another process is writing the library (and no ``on_wait``).
    IndexInterruptedError
        On Ctrl-C or SIGTERM, after committing the work finished.
    """
    IndexOptions(  # every rule of these options, checked by the model the CLI's flags come from
        thumb_size=thumb_size,
        near_distance=IndexOptions.near_distance if near_distance is None else near_distance,
        max_image_pixels=max_image_pixels,
        threads=workers,
    )
    start = time.perf_counter()
    report = IndexReport()
    video = video or SpliceOptions()

    def skip(path: Path, reason: str) -> None:
        report.skipped.append((path, reason))
        if on_skip is not None:
            on_skip(path, reason)

    with (
        Library.open_or_create(
            library, thumb_size=thumb_size, descriptors=descriptors, on_wait=on_wait
        ) as lib,
        _PixelLimit(max_image_pixels),
    ):
        lib.store_missing_descriptors(DEFAULT_DESCRIPTORS)
        roots = [os.path.abspath(s) for s in sources] or lib.roots()
        if not roots:
            raise MosaicfastError(f"{library}: no sources given and none indexed before")
        paths = scan_images(*roots, suffixes=IMAGE_SUFFIXES | VIDEO_SUFFIXES, on_skip=skip)
        report.scanned = len(paths)
        todo = _sync_catalog(lib, roots, paths, report, skip, 1.0 / video.fps)
        with _StopOnInterrupt() as stop:
            if todo:
                writer = _BatchWriter(lib, near_distance, report, skip)
                if cluster is not None:
                    from .cluster import read_on_cluster

                    read_on_cluster(cluster, todo, lib, video, progress, writer, stop)
                else:
                    _read_locally(todo, lib, video, workers, progress, writer, stop)
                writer.flush()
        if stop.requested:
            report.seconds = time.perf_counter() - start
            raise IndexInterruptedError(report)
    report.seconds = time.perf_counter() - start
    return report


def _read_locally(
    todo: list[_Todo],
    lib: Library,
    video: SpliceOptions,
    workers: int | None,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    """Read the photos, then the videos, on this machine."""
    photos, videos = _photos_and_videos(todo)
    _read_photos(photos, lib, workers, progress, writer, stop)
    for item in videos:
        if stop.requested:
            break
        _read_video(item, lib, video, progress, writer, stop)


def _photos_and_videos(todo: list[_Todo]) -> tuple[list[_Todo], list[_Todo]]:
    """The photos and the videos among ``todo``, each in scan order."""
    photos: list[_Todo] = []
    videos: list[_Todo] = []
    for item in todo:
        is_video = os.path.splitext(item.path)[1].lower() in VIDEO_SUFFIXES
        (videos if is_video else photos).append(item)
    return photos, videos


class _StopOnInterrupt:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a request to stop after the file or frame
    in hand.

    A KeyboardInterrupt could land in the middle of a batch being written; a flag
    checked between files lets the run stop where nothing is half done. Outside the
    main thread (where signal handlers cannot be set) the signals are left as they are.
    """

    def __init__(self) -> None:
        self.requested = False
        self._saved: dict[int, object] = {}

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            for number in INTERRUPT_SIGNALS:
                self._saved[number] = signal.signal(number, self._request)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._saved.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


class _PixelLimit:
    """Sets Pillow's decompression-bomb limit for the duration of a ``with`` block."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.saved = Image.MAX_IMAGE_PIXELS

    def __enter__(self) -> None:
        if self.limit is not None:
            Image.MAX_IMAGE_PIXELS = self.limit

    def __exit__(self, *exc: object) -> None:
        Image.MAX_IMAGE_PIXELS = self.saved


def _sync_catalog(
    lib: Library,
    roots: list[str],
    paths: list[Path],
    report: IndexReport,
    skip: Callable[[Path, str], None],
    video_step: float,
) -> list[_Todo]:
    """Drop sources that vanished or changed; return the files to read or finish."""
    rows = lib.read(catalog.source_rows)
    known = {from_catalog(row.path): row for row in rows if isinstance(row.path, (str, bytes))}
    scanned = {str(p): p for p in paths}
    todo: list[_Todo] = []
    # A row whose name is not a name (a damaged catalog) can only be dropped.
    stale: list[int] = [row.id for row in rows if not isinstance(row.path, (str, bytes))]
    for key, path in scanned.items():
        try:
            st = path.stat()
        except OSError as err:
            report.failed += 1
            skip(path, os_reason(err))
            continue
        reason = non_regular_reason(st.st_mode)
        if reason is not None:  # replaced since the scan
            report.failed += 1
            skip(path, reason)
            continue
        row = known.get(key)
        if row is not None and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
            status, error = row.status, row.error
            if status == "partial":
                resume = _resume_time(row.done_until, video_step)
                todo.append(_Todo(path, st.st_size, st.st_mtime_ns, resume_after=resume))
                continue
            report.unchanged += 1
            if error is not None:
                report.failed += status == "error"
                skip(path, error)
            continue
        if row is not None:
            stale.append(row.id)
        todo.append(_Todo(path, st.st_size, st.st_mtime_ns))
    vanished = [
        row.id
        for key, row in known.items()
        if key not in scanned and any(_is_under(key, root) for root in roots)
    ]
    report.removed = len(vanished)
    with lib.transaction() as db:
        catalog.add_roots(db, [to_catalog(r) for r in roots])
        catalog.remove_sources(db, stale + vanished)
    return todo


def _resume_time(done_until: float | None, step: float) -> float:
    """The first sampling instant after the last frame committed (instants are k * step)."""
    if done_until is None:
        return 0.0
    return (math.floor(done_until / step + 1e-9) + 1) * step


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _read_photos(
    todo: list[_Todo],
    lib: Library,
    workers: int | None,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    """Read photos in chunks on worker threads, or for big jobs on a thread and worker
    processes.

    Decoding releases the GIL, but the Python around it does not; worker processes
    (fresh interpreters beside a thread of this process, see
    :func:`~mosaicfast._util.parallel.ordered_map`) also run that part in parallel,
    which pays for their start-up only from :data:`_PROCESS_MIN_FILES` files on. Either
    way the library comes out the same, byte for byte: chunks are committed in order.
    """
    workers = workers or os.cpu_count() or 1
    processes = workers > 1 and len(todo) >= _PROCESS_MIN_FILES
    # A small job still gives every thread a few tasks.
    size = _PROCESS_CHUNK if processes else _thread_chunk(len(todo), workers)
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    # The kinds as plain tuples: a worker process then needs no import of the store.
    kinds = [(kind.space, kind.grid) for kind in lib.descriptor_kinds]
    read = partial(_read_photo_chunk, thumb_size=lib.thumb_size, kinds=kinds)
    results = ordered_map(
        read,
        chunks,
        workers=workers,
        processes=processes,
        initializer=_setup_worker_process if processes else None,
        initargs=(Image.MAX_IMAGE_PIXELS, os.getpid()),
    )
    with progress_bar(len(todo), "photos", "file", enabled=progress) as bar:
        for chunk in results:
            writer.add(chunk)
            bar.update(len(chunk.entries))
            if stop.requested:
                return


def _thread_chunk(files: int, workers: int) -> int:
    """Photos per task on threads: :data:`_THREAD_CHUNK`, or fewer so that each worker
    gets at least :data:`~mosaicfast._util.parallel.AHEAD_PER_WORKER` tasks."""
    return max(1, min(_THREAD_CHUNK, -(-files // (AHEAD_PER_WORKER * workers))))


def _read_video(
    item: _Todo,
    lib: Library,
    options: SpliceOptions,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    """Cut one video into tiles, committing as it goes (status 'partial' until done)."""
    report = writer.report

    def entry(status: str, **fields: object) -> _Entry:
        return _Entry(item.path, "video", item.size, item.mtime_ns, status, **fields)  # type: ignore[arg-type]

    stats = SpliceStats()
    start = item.resume_after or 0.0
    frames = splice(item.path, lib.thumb_size, options, stats, start=start)
    try:
        with progress_bar(0, item.path.name, "s", enabled=progress) as bar:
            for frame in frames:
                bar.total = round(stats.duration or 0)
                bar.n = round(frame.time)
                bar.refresh()
                thumbs = np.stack([pixels for pixels, _ in frame.tiles])
                boxes = [box for _, box in frame.tiles]
                tiles = _Tiles.describe(
                    thumbs, boxes, [frame.time] * len(boxes), lib.descriptor_kinds
                )
                owners = [0] * len(boxes)
                writer.add(_Chunk([entry("partial", done_until=frame.time)], tiles, owners))
                if stop.requested:
                    return
    except ImageReadError as err:
        writer.add(_Chunk([entry("error", error=err.reason)]))
        return
    finally:
        report.frames_sampled += stats.sampled
        report.frames_flat += stats.flat
        report.frames_static += stats.static
    report.videos += 1
    error = stats.error
    if error is not None:
        error = f"{error}; the tiles before it were kept"
    writer.add(_Chunk([entry("ok", error=error, done_until=stats.last_time)]))


class _BatchWriter:
    """Collects read sources and commits them to the library a batch at a time."""

    def __init__(
        self,
        lib: Library,
        near_distance: int | None,
        report: IndexReport,
        skip: Callable[[Path, str], None],
    ) -> None:
        self.lib = lib
        self.report = report
        self.skip = skip
        self.chunks: list[_Chunk] = []
        self.pending = 0
        self.colour = lib.duplicate_descriptor
        self.exact: dict[bytes, int] = {}
        self.near = NearIndex(near_distance) if near_distance is not None else None
        self._load_tiles_in_use()

    def _load_tiles_in_use(self) -> None:
        rows = self.lib.read(catalog.kept_tiles)
        if not rows:
            return
        ids, slots, hashes, phashes = zip(*rows, strict=True)
        self.exact = dict(zip(hashes, ids, strict=True))
        if self.near is not None:
            colours = self.lib.read_rows(self.colour.file, np.array(slots, np.int64))
            for tile_id, phash, colour in zip(ids, phashes, colours, strict=True):
                self.near.add(tile_id, _unsigned(phash), colour)

    def add(self, chunk: _Chunk) -> None:
        self.chunks.append(chunk)
        self.pending += max(len(chunk.entries), len(chunk.tiles or ()))
        if self.pending >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.chunks:
            return
        chunks, self.chunks, self.pending = self.chunks, [], 0
        entries = [entry for chunk in chunks for entry in chunk.entries]
        parts = [chunk.tiles for chunk in chunks if chunk.tiles is not None]
        tiles = _Tiles.concatenate(parts) if parts else None
        owners = [to_catalog(chunk.entries[o].path) for chunk in chunks for o in chunk.owners]
        first = self.lib.next_slot()
        next_id = self._next_tile_id()
        tile_rows = self._tile_rows(tiles, owners, first, next_id) if tiles else []
        added = len(tile_rows)
        sources = [
            (
                to_catalog(e.path),
                e.kind,
                e.size,
                e.mtime_ns,
                e.content_hash,
                e.status,
                e.error,
                e.done_until,
            )
            for e in entries
        ]
        with self.lib.transaction() as db:
            catalog.record_batch(
                db, sources, tile_rows, next_slot=first + added, next_tile_id=next_id + added
            )
        pause_point("batch-committed")
        self._report(entries, added)

    def _report(self, entries: list[_Entry], tiles: int) -> None:
        self.report.tiles_added += tiles
        for entry in entries:
            if entry.status == "partial":
                continue
            if entry.status == "error":
                self.report.failed += 1
            else:
                self.report.added += 1
            if entry.error is not None:
                self.skip(entry.path, entry.error)

    def _tile_rows(
        self, tiles: _Tiles, owners: list[str | bytes], first: int, next_id: int
    ) -> list[tuple]:
        """Write the thumbnails and descriptors; return the catalog rows of the tiles."""
        arrays: dict[str, NDArray] = {THUMBS: tiles.thumbs}
        for stored in self.lib.descriptor_kinds:
            arrays[stored.file] = tiles.descriptors[stored]
        colours = tiles.descriptors[self.colour]
        rows = []
        for i, (path, box, frame_time) in enumerate(
            zip(owners, tiles.boxes, tiles.times, strict=True)
        ):
            tile_id, phash, pixel_hash = next_id + i, int(tiles.phashes[i]), tiles.pixel_hashes[i]
            duplicate_of, kind = self._duplicate(tile_id, pixel_hash, phash, colours[i])
            rows.append(
                (tile_id, path, first + i, *box, frame_time, pixel_hash, _signed(phash),
                 duplicate_of, kind)
            )  # fmt: skip
        written = self.lib.append_rows(arrays)
        if written != first:
            raise LibraryError(f"{self.lib.path}: the library changed under this writer")
        return rows

    def _next_tile_id(self) -> int:
        return self.lib.read(catalog.next_tile_id)

    def _duplicate(
        self, tile_id: int, pixel_hash: bytes, phash: int, colour: NDArray[np.int16]
    ) -> tuple[int | None, str | None]:
        """Classify a new tile, and make it findable if it is kept."""
        if pixel_hash in self.exact:
            self.report.exact_duplicates += 1
            return self.exact[pixel_hash], "exact"
        if self.near is not None:
            match = self.near.find(phash, colour)
            if match is not None:
                self.report.near_duplicates += 1
                return match, "near"
            self.near.add(tile_id, phash, colour)
        self.exact[pixel_hash] = tile_id
        return None, None


def _signed(value: int) -> int:
    """A 64-bit hash as SQLite's signed INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
