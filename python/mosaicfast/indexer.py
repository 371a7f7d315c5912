"""``mosaicfast index``: bring a tile library up to date with folders of photos and videos.

Only new and changed files are read (a file is unchanged when its size and
modification time are); files that disappeared are taken out of the library.
Photos are decoded on all cores, one tile each; videos are cut into tiles a few
frames per second (see :mod:`mosaicfast.video`). Every batch of tiles is
written to the arrays and then committed to the catalog in one transaction, so
a run killed at any moment loses at most the batch in flight, and the next run
carries on from there: a video from the last frame committed. Ctrl-C stops
after the file (or frame) in hand, once everything read is committed.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from . import descriptors
from .dedupe import NearIndex, perceptual_hashes, pixel_hashes
from .errors import ImageReadError, MosaicfastError
from .images import IMAGE_SUFFIXES, Box, load_square
from .library import DEFAULT_GRIDS, DEFAULT_THUMB_SIZE, THUMBS, Library, LibraryError
from .parallel import ordered_map
from .progress import progress_bar
from .tiles import SkipHandler, scan_images
from .video import VIDEO_SUFFIXES, SpliceOptions, SpliceStats, splice

__all__ = [
    "DEFAULT_NEAR_DISTANCE",
    "IndexInterruptedError",
    "IndexReport",
    "index_library",
    "remove_sources",
]

DEFAULT_NEAR_DISTANCE = 4
#: Tiles per committed batch.
_BATCH = 256
_READ_CHUNK = 1 << 20


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


@dataclass
class _Todo:
    """A file to read, and for an interrupted video the time to resume after."""

    path: Path
    stat: os.stat_result
    resume_after: float | None = None

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class _Entry:
    """A source's catalog record and the tiles read from it since the last commit."""

    path: Path
    kind: str
    size: int
    mtime_ns: int
    status: str
    error: str | None = None
    content_hash: str | None = None
    done_until: float | None = None
    tiles: list[tuple[NDArray[np.uint8], Box, float | None]] = field(default_factory=list)


def index_library(
    library: str | Path,
    sources: Sequence[str | Path] = (),
    *,
    thumb_size: int = DEFAULT_THUMB_SIZE,
    grids: Sequence[int] = DEFAULT_GRIDS,
    near_distance: int | None = DEFAULT_NEAR_DISTANCE,
    video: SpliceOptions | None = None,
    max_image_pixels: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    on_skip: SkipHandler | None = None,
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
        Side of the stored thumbnails, for a new library (ignored when it exists).
    grids : sequence of int, default (5,)
        Match resolutions whose descriptors are stored, for a new library.
    near_distance : int or None, default 4
        Largest pHash Hamming distance of near duplicates; None keeps near duplicates.
    video : SpliceOptions, optional
        How videos are sampled and cut (default: 1 frame per second, 2 squares each).
    max_image_pixels : int, optional
        Refuse images with more pixels than this (decompression-bomb guard); default
        Pillow's limit.
    workers : int, optional
        Decoding threads; default one per core.
    progress : bool
        Show progress bars.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each file that cannot be used (or, for a
        damaged video, used only up to the damage).

    Returns
    -------
    IndexReport

    Raises
    ------
    LibraryLockedError
        If another process is writing the library.
    IndexInterruptedError
        On Ctrl-C, after committing the work finished.
    """
    start = time.perf_counter()
    report = IndexReport()
    video = video or SpliceOptions()

    def skip(path: Path, reason: str) -> None:
        report.skipped.append((path, reason))
        if on_skip is not None:
            on_skip(path, reason)

    with (
        Library.open_or_create(library, thumb_size=thumb_size, grids=grids) as lib,
        _PixelLimit(max_image_pixels),
    ):
        roots = [os.path.abspath(s) for s in sources] or lib.roots()
        if not roots:
            raise MosaicfastError(f"{library}: no sources given and none indexed before")
        paths = scan_images(*roots, suffixes=IMAGE_SUFFIXES | VIDEO_SUFFIXES, on_skip=skip)
        report.scanned = len(paths)
        todo = _sync_catalog(lib, roots, paths, report, skip, 1.0 / video.fps)
        writer = _BatchWriter(lib, near_distance, report, skip)
        with _StopOnInterrupt() as stop:
            photos = [t for t in todo if not t.is_video]
            _read_photos(photos, lib.thumb_size, workers, progress, writer, stop)
            for item in (t for t in todo if t.is_video):
                if stop.requested:
                    break
                _read_video(item, lib.thumb_size, video, progress, writer, stop)
        writer.flush()
        if stop.requested:
            report.seconds = time.perf_counter() - start
            raise IndexInterruptedError(report)
    report.seconds = time.perf_counter() - start
    return report


class _StopOnInterrupt:
    """Turns Ctrl-C (SIGINT) into a request to stop after the file or frame in hand.

    A KeyboardInterrupt could land in the middle of a batch being written; a flag
    checked between files lets the run stop where nothing is half done. Outside the
    main thread (where signal handlers cannot be set) Ctrl-C is left as it is.
    """

    def __init__(self) -> None:
        self.requested = False
        self._saved: object = None

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._saved = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            signal.signal(signal.SIGINT, self._saved)  # type: ignore[arg-type]


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
    known = {
        row[1]: row
        for row in lib.query(
            "SELECT id, path, size, mtime_ns, status, error, done_until FROM sources"
        )
    }
    scanned = {str(p): p for p in paths}
    todo: list[_Todo] = []
    stale: list[int] = []
    for key, path in scanned.items():
        try:
            st = path.stat()
        except OSError as err:
            report.failed += 1
            skip(path, (err.strerror or str(err)).lower())
            continue
        row = known.get(key)
        unchanged = row is not None and (row[2], row[3]) == (st.st_size, st.st_mtime_ns)
        if unchanged and row[4] == "partial":
            todo.append(_Todo(path, st, resume_after=_resume_time(row[6], video_step)))
            continue
        if unchanged:
            report.unchanged += 1
            if row[5] is not None:
                report.failed += row[4] == "error"
                skip(path, row[5])
            continue
        if row is not None:
            stale.append(row[0])
        todo.append(_Todo(path, st))
    vanished = [
        row[0]
        for key, row in known.items()
        if key not in scanned and any(_is_under(key, root) for root in roots)
    ]
    report.removed = len(vanished)
    with lib.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO roots VALUES (?)", [(r,) for r in roots])
        remove_sources(db, stale + vanished)
    return todo


def _resume_time(done_until: float | None, step: float) -> float:
    """The first sampling instant after the last frame committed (instants are k * step)."""
    if done_until is None:
        return 0.0
    return (math.floor(done_until / step + 1e-9) + 1) * step


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def remove_sources(db, source_ids: list[int]) -> None:
    """Delete sources and their tiles; a duplicate of a deleted tile takes its place."""
    if not source_ids:
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM gone")
    db.executemany("INSERT INTO gone VALUES (?)", [(i,) for i in source_ids])
    orphans = db.execute(
        """SELECT d.id, d.duplicate_of FROM tiles d
           JOIN tiles k ON k.id = d.duplicate_of
           WHERE k.source_id IN (SELECT id FROM gone)
             AND d.source_id NOT IN (SELECT id FROM gone)
           ORDER BY d.duplicate_of, d.id"""
    ).fetchall()
    heir: dict[int, int] = {}
    for tile, old in orphans:
        if old not in heir:
            heir[old] = tile
            db.execute(
                "UPDATE tiles SET duplicate_of = NULL, duplicate_kind = NULL WHERE id = ?",
                (tile,),
            )
        else:
            db.execute("UPDATE tiles SET duplicate_of = ? WHERE id = ?", (heir[old], tile))
    db.execute("DELETE FROM tiles WHERE source_id IN (SELECT id FROM gone)")
    db.execute("DELETE FROM sources WHERE id IN (SELECT id FROM gone)")


def _read_photos(
    todo: list[_Todo],
    thumb_size: int,
    workers: int | None,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    read = partial(_read_photo, thumb_size=thumb_size)
    with progress_bar(len(todo), "photos", "file", enabled=progress) as bar:
        for entry in ordered_map(read, todo, workers=workers or os.cpu_count() or 1):
            writer.add(entry)
            bar.update()
            if stop.requested:
                return


def _read_photo(item: _Todo, thumb_size: int) -> _Entry:
    """Hash and decode one photo (runs in a worker thread)."""
    entry = _Entry(item.path, "image", item.stat.st_size, item.stat.st_mtime_ns, status="ok")
    try:
        entry.content_hash = _file_hash(item.path)
        thumb, box = load_square(item.path, thumb_size)
        entry.tiles.append((thumb, box, None))
    except ImageReadError as err:
        entry.status, entry.error = "error", err.reason
    except OSError as err:
        entry.status, entry.error = "error", (err.strerror or str(err)).lower()
    return entry


def _file_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_video(
    item: _Todo,
    thumb_size: int,
    options: SpliceOptions,
    progress: bool,
    writer: _BatchWriter,
    stop: _StopOnInterrupt,
) -> None:
    """Cut one video into tiles, committing as it goes (status 'partial' until done)."""
    report = writer.report
    st = item.stat

    def entry(status: str, **fields: object) -> _Entry:
        return _Entry(item.path, "video", st.st_size, st.st_mtime_ns, status, **fields)  # type: ignore[arg-type]

    stats = SpliceStats()
    start = item.resume_after or 0.0
    frames = splice(item.path, thumb_size, options, stats, start=start)
    try:
        with progress_bar(0, item.path.name, "s", enabled=progress) as bar:
            for frame in frames:
                bar.total = round(stats.duration or 0)
                bar.n = round(frame.time)
                bar.refresh()
                tiles = [(pixels, box, frame.time) for pixels, box in frame.tiles]
                writer.add(entry("partial", done_until=frame.time, tiles=tiles))
                if stop.requested:
                    return
    except ImageReadError as err:
        writer.add(entry("error", error=err.reason))
        return
    finally:
        report.frames_sampled += stats.sampled
        report.frames_flat += stats.flat
        report.frames_static += stats.static
    report.videos += 1
    error = stats.error
    if error is not None:
        error = f"{error}; the tiles before it were kept"
    writer.add(entry("ok", error=error, done_until=stats.last_time))


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
        self.batch: list[_Entry] = []
        self.pending_tiles = 0
        self.grid = lib.grids[0]
        self.exact: dict[bytes, int] = {}
        self.near = NearIndex(near_distance) if near_distance is not None else None
        self._load_tiles_in_use()

    def _load_tiles_in_use(self) -> None:
        rows = self.lib.query(
            "SELECT id, slot, pixel_hash, phash FROM tiles WHERE duplicate_of IS NULL ORDER BY id"
        )
        if not rows:
            return
        ids, slots, hashes, phashes = zip(*rows, strict=True)
        self.exact = dict(zip(hashes, ids, strict=True))
        if self.near is not None:
            colours = self.lib.descriptors(self.grid, np.array(slots, np.int64))
            assert colours is not None
            for tile_id, phash, colour in zip(ids, phashes, colours, strict=True):
                self.near.add(tile_id, _unsigned(phash), colour)

    def add(self, entry: _Entry) -> None:
        self.batch.append(entry)
        self.pending_tiles += max(1, len(entry.tiles))
        if self.pending_tiles >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch, self.pending_tiles = self.batch, [], 0
        tiles = [(entry.path, *tile) for entry in batch for tile in entry.tiles]
        first = self.lib.next_slot()
        next_id = self._next_tile_id()
        tile_rows = self._tile_rows(tiles, first, next_id) if tiles else []
        with self.lib.transaction() as db:
            db.executemany(
                """INSERT INTO sources (path, kind, size, mtime_ns, content_hash, status, error,
                                        done_until)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (path) DO UPDATE SET status = excluded.status,
                       error = excluded.error, done_until = excluded.done_until""",
                [
                    (str(e.path), e.kind, e.size, e.mtime_ns, e.content_hash, e.status, e.error,
                     e.done_until)
                    for e in batch
                ],
            )  # fmt: skip
            db.executemany(
                """INSERT INTO tiles (id, source_id, slot, left, top, right, bottom, frame_time,
                                      pixel_hash, phash, duplicate_of, duplicate_kind)
                   VALUES (?, (SELECT id FROM sources WHERE path = ?),
                           ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                tile_rows,
            )
            db.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [
                    (str(first + len(tiles)), "next_slot"),
                    (str(next_id + len(tiles)), "next_tile_id"),
                ],
            )
        self._report(batch, len(tiles))

    def _report(self, batch: list[_Entry], tiles: int) -> None:
        self.report.tiles_added += tiles
        for entry in batch:
            if entry.status == "partial":
                continue
            if entry.status == "error":
                self.report.failed += 1
            else:
                self.report.added += 1
            if entry.error is not None:
                self.skip(entry.path, entry.error)

    def _tile_rows(
        self,
        tiles: list[tuple[Path, NDArray[np.uint8], Box, float | None]],
        first: int,
        next_id: int,
    ) -> list[tuple]:
        """Write the thumbnails and descriptors; return the catalog rows of the tiles."""
        thumbs = np.stack([tile[1] for tile in tiles])
        arrays: dict[str, NDArray] = {THUMBS: thumbs}
        for grid in self.lib.grids:
            arrays[Library.descriptor_file(grid)] = descriptors.tile_descriptors(thumbs, grid)
        colours = arrays[Library.descriptor_file(self.grid)]
        hashes = pixel_hashes(thumbs)
        phashes = perceptual_hashes(thumbs)
        rows = []
        for i, (path, _, box, frame_time) in enumerate(tiles):
            tile_id, phash = next_id + i, int(phashes[i])
            duplicate_of, kind = self._duplicate(tile_id, hashes[i], phash, colours[i])
            rows.append(
                (tile_id, str(path), first + i, *box, frame_time, hashes[i], _signed(phash),
                 duplicate_of, kind)
            )  # fmt: skip
        written = self.lib.append_rows(arrays)
        if written != first:
            raise LibraryError(f"{self.lib.path}: the library changed under this writer")
        return rows

    def _next_tile_id(self) -> int:
        (value,) = self.lib.query("SELECT value FROM meta WHERE key = 'next_tile_id'")[0]
        return int(value)

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
