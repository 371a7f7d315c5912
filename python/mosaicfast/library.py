"""The persistent tile library: an SQLite catalog plus append-only pixel arrays.

A library is a folder::

    catalog.sqlite    sources, tiles and settings (WAL journal, no server)
    thumbs.u8         every tile's thumbnail, (slot, size, size, 3) uint8, raw
    desc-g5.i16       every tile's colour-grid descriptor at grid 5, (slot, 75) int16
    lock              held (flock) by the one process writing the library

Arrays are addressed by *slot*. Slots are only ever appended: a writer writes and
fsyncs the new rows first, then commits the catalog transaction that records them
and advances ``next_slot``. A process killed at any moment therefore leaves at most
an uncommitted tail past ``next_slot``, which the next writer cuts off; readers
only look below the ``next_slot`` they read, so they can work while a writer
appends. Nothing is pickled: the catalog is SQL, the arrays raw little-endian
numbers.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .descriptors import descriptor_size, tile_descriptors
from .errors import MosaicfastError

__all__ = [
    "DEFAULT_GRIDS",
    "DEFAULT_THUMB_SIZE",
    "FORMAT_VERSION",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "TileRows",
]

FORMAT_VERSION = 1
DEFAULT_THUMB_SIZE = 64
DEFAULT_GRIDS = (5,)
CATALOG = "catalog.sqlite"
THUMBS = "thumbs.u8"
LOCK = "lock"
_DESCRIBE_CHUNK = 4096

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (path TEXT PRIMARY KEY);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'partial')),
    error TEXT,
    done_until REAL
);
CREATE TABLE tiles (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    slot INTEGER NOT NULL UNIQUE,
    left INTEGER NOT NULL,
    top INTEGER NOT NULL,
    right INTEGER NOT NULL,
    bottom INTEGER NOT NULL,
    frame_time REAL,
    pixel_hash BLOB NOT NULL,
    phash INTEGER NOT NULL,
    duplicate_of INTEGER REFERENCES tiles(id),
    duplicate_kind TEXT CHECK (duplicate_kind IN ('exact', 'near'))
);
CREATE INDEX tiles_by_source ON tiles(source_id);
CREATE INDEX tiles_by_duplicate ON tiles(duplicate_of);
"""


class LibraryError(MosaicfastError):
    """A library that cannot be created, opened or used as asked."""


class LibraryLockedError(LibraryError):
    """Another process is writing the library."""


@dataclass(frozen=True)
class TileRows:
    """The tiles in use (not duplicates), ordered by tile id, as columns.

    Attributes
    ----------
    ids, slots, source_ids : numpy.ndarray
        ``int64`` tile ids, array slots and source ids.
    boxes : numpy.ndarray
        ``(n, 4)`` crop boxes in the source's full-resolution upright pixels.
    times : numpy.ndarray
        ``float64`` frame times in seconds for tiles cut from videos, NaN for photos.
    source_paths : dict of int to str
        The path of every source, by source id.
    """

    ids: NDArray[np.int64]
    slots: NDArray[np.int64]
    source_ids: NDArray[np.int64]
    boxes: NDArray[np.int64]
    times: NDArray[np.float64]
    source_paths: dict[int, str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def paths(self) -> list[str]:
        """The source path of every tile."""
        return [self.source_paths[s] for s in self.source_ids.tolist()]


_TILE_COLUMNS = np.dtype(
    [
        ("id", "<i8"),
        ("slot", "<i8"),
        ("source", "<i8"),
        ("left", "<i8"),
        ("top", "<i8"),
        ("right", "<i8"),
        ("bottom", "<i8"),
        ("time", "<f8"),
    ]
)


class Library:
    """A tile library folder, open for reading or (holding its lock) for writing.

    Use :meth:`open` or :meth:`create`; close with :meth:`close` or a ``with`` block.
    """

    def __init__(self, path: Path, db: sqlite3.Connection, lock: int | None) -> None:
        self.path = path
        self._db = db
        self._lock = lock
        meta = dict(db.execute("SELECT key, value FROM meta"))
        self.thumb_size = int(meta["thumb_size"])
        self.grids: tuple[int, ...] = tuple(json.loads(meta["grids"]))

    # -- opening -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        thumb_size: int = DEFAULT_THUMB_SIZE,
        grids: Sequence[int] = DEFAULT_GRIDS,
    ) -> Library:
        """Create an empty library at ``path`` (a new or empty folder), open for writing."""
        path = Path(path)
        if thumb_size < 8:
            raise LibraryError(f"thumbnail size must be at least 8 pixels, got {thumb_size}")
        if (path / CATALOG).exists():
            raise LibraryError(f"{path}: a library already exists here")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LibraryError(f"{path}: cannot create the library folder ({err})") from err
        lock = _acquire_lock(path)
        db = _connect(path / CATALOG)
        with db:
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("format_version", str(FORMAT_VERSION)),
                    ("thumb_size", str(thumb_size)),
                    ("grids", json.dumps(sorted(set(grids)))),
                    ("next_slot", "0"),
                    ("next_tile_id", "1"),
                ],
            )
        return cls(path, db, lock)

    @classmethod
    def open(cls, path: str | Path, *, write: bool = False) -> Library:
        """Open an existing library; ``write=True`` takes the writer's lock.

        Raises
        ------
        LibraryError
            If there is no library at ``path`` or it has another format version.
        LibraryLockedError
            If ``write`` and another process holds the lock.
        """
        path = Path(path)
        if not (path / CATALOG).is_file():
            raise LibraryError(f"{path}: no mosaicfast library here (no {CATALOG})")
        lock = _acquire_lock(path) if write else None
        try:
            db = _connect(path / CATALOG, readonly=not write)
            version = _meta_value(db, "format_version")
        except sqlite3.DatabaseError as err:
            _release_lock(lock)
            raise LibraryError(f"{path}: the catalog cannot be read ({err})") from err
        if version != str(FORMAT_VERSION):
            db.close()
            _release_lock(lock)
            raise LibraryError(
                f"{path}: library format version {version}, but this mosaicfast reads "
                f"version {FORMAT_VERSION}; re-index the sources into a new library"
            )
        library = cls(path, db, lock)
        if write:
            library.cut_uncommitted_tail()
        return library

    @classmethod
    def open_or_create(
        cls,
        path: str | Path,
        *,
        thumb_size: int = DEFAULT_THUMB_SIZE,
        grids: Sequence[int] = DEFAULT_GRIDS,
    ) -> Library:
        """Open ``path`` for writing, creating the library if it does not exist."""
        if (Path(path) / CATALOG).exists():
            return cls.open(path, write=True)
        return cls.create(path, thumb_size=thumb_size, grids=grids)

    def close(self) -> None:
        """Close the catalog and release the lock."""
        self._db.close()
        _release_lock(self._lock)
        self._lock = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writable(self) -> bool:
        return self._lock is not None

    # -- arrays ------------------------------------------------------------------

    def array_path(self, name: str) -> Path:
        return self.path / name

    @staticmethod
    def descriptor_file(grid: int) -> str:
        return f"desc-g{grid}.i16"

    def row_bytes(self, name: str) -> int:
        """Bytes of one slot in the array file ``name``."""
        if name == THUMBS:
            return self.thumb_size * self.thumb_size * 3
        grid = int(name.removeprefix("desc-g").removesuffix(".i16"))
        return 3 * grid * grid * 2

    def array_files(self) -> list[str]:
        return [THUMBS, *(self.descriptor_file(g) for g in self.grids)]

    def next_slot(self) -> int:
        return int(_meta_value(self._db, "next_slot"))

    def cut_uncommitted_tail(self) -> None:
        """Truncate every array to the committed slots (what a killed writer left)."""
        slots = self.next_slot()
        for name in self.array_files():
            file = self.array_path(name)
            length = slots * self.row_bytes(name)
            if not file.exists():
                file.touch()
            if file.stat().st_size > length:
                os.truncate(file, length)

    def append_rows(self, arrays: dict[str, NDArray[Any]]) -> int:
        """Write rows at the end of each array file and flush them to disk.

        Returns the first slot written. The rows are not part of the library until
        the caller commits a transaction that sets ``next_slot`` past them.
        """
        first = self.next_slot()
        for name, rows in arrays.items():
            data = np.ascontiguousarray(rows).tobytes()
            fd = os.open(self.array_path(name), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, data, first * self.row_bytes(name))
                os.fsync(fd)
            finally:
                os.close(fd)
        return first

    def read_rows(self, name: str, slots: NDArray[np.int64]) -> NDArray[Any]:
        """The rows of ``slots`` from array ``name``, read in runs of consecutive slots.

        Plain reads (not a memory map) keep the process's memory to the rows asked for.
        Only the folder is used, not the catalog, so this also works after
        :meth:`close` (committed slots are never rewritten): a mosaic's tiles are read
        when it is painted, after ``build`` has closed the library.
        """
        size = self.row_bytes(name)
        dtype, shape = (
            (np.uint8, (self.thumb_size, self.thumb_size, 3))
            if name == THUMBS
            else (np.int16, (size // 2,))
        )
        out = np.empty((len(slots), *shape), dtype=dtype)
        flat = out.reshape(len(slots), -1).view(np.uint8)
        with open(self.array_path(name), "rb", buffering=0) as handle:
            for start, stop in _runs(slots):
                count = stop - start
                first = int(slots[start])
                data = os.pread(handle.fileno(), count * size, first * size)
                if len(data) != count * size:
                    raise LibraryError(
                        f"{self.array_path(name)}: shorter than the catalog says; "
                        "run `mosaicfast library verify --repair`"
                    )
                flat[start:stop] = np.frombuffer(data, np.uint8).reshape(count, size)
        return out

    # -- catalog -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the catalog, committed on success."""
        if not self.writable:
            raise LibraryError(f"{self.path}: opened read-only")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def tiles_in_use(self) -> TileRows:
        """Every tile that is not a duplicate, by tile id (one consistent snapshot)."""
        with self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute(
                """SELECT id, slot, source_id, left, top, right, bottom,
                          IFNULL(frame_time, 'NaN')
                   FROM tiles WHERE duplicate_of IS NULL ORDER BY id"""
            )
            table = np.fromiter(cursor, dtype=_TILE_COLUMNS)
            paths = dict(self._db.execute("SELECT id, path FROM sources"))
        return TileRows(
            ids=table["id"].copy(),
            slots=table["slot"].copy(),
            source_ids=table["source"].copy(),
            boxes=np.stack([table[c] for c in ("left", "top", "right", "bottom")], axis=1),
            times=table["time"].copy(),
            source_paths=paths,
        )

    def thumbnails(self, slots: NDArray[np.int64]) -> NDArray[np.uint8]:
        return self.read_rows(THUMBS, slots)

    def descriptors(self, grid: int, slots: NDArray[np.int64]) -> NDArray[np.int16] | None:
        """Stored descriptors at ``grid`` for ``slots``, or None if the library has none."""
        if grid not in self.grids:
            return None
        return self.read_rows(self.descriptor_file(grid), slots)

    def tile_descriptors(
        self, grid: int, slots: NDArray[np.int64], *, threads: int | None = None
    ) -> NDArray[np.int16]:
        """Descriptors at ``grid`` of the tiles in ``slots``: stored ones when the
        library keeps that grid, else computed from the thumbnails a chunk at a time."""
        stored = self.descriptors(grid, slots)
        if stored is not None:
            return stored
        out = np.empty((len(slots), descriptor_size(grid)), np.int16)
        for start in range(0, len(slots), _DESCRIBE_CHUNK):
            chunk = slots[start : start + _DESCRIBE_CHUNK]
            out[start : start + len(chunk)] = tile_descriptors(
                self.thumbnails(chunk), grid, threads=threads
            )
        return out

    def roots(self) -> list[str]:
        return [row[0] for row in self.query("SELECT path FROM roots ORDER BY path")]

    def disk_bytes(self) -> int:
        """Size on disk of every file of the library."""
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())


def _runs(slots: NDArray[np.int64]) -> Iterable[tuple[int, int]]:
    """``(start, stop)`` positions of runs of consecutive slot numbers."""
    if len(slots) == 0:
        return []
    breaks = np.flatnonzero(np.diff(slots) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(slots)]])
    return zip(starts.tolist(), stops.tolist(), strict=True)


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    if not readonly:
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a killed process; the array rows it
        # names were fsynced before it.
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _meta_value(db: sqlite3.Connection, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise sqlite3.DatabaseError(f"meta key {key!r} is missing")
    return str(row[0])


def _acquire_lock(path: Path) -> int:
    """Take the writer's lock of the library at ``path``; record our PID in it."""
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LibraryLockedError(
            f"{path}: the library is locked by process {holder} (another mosaicfast index "
            "is writing it); wait for it to finish"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _release_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)
