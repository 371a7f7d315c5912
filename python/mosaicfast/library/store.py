"""The persistent tile library: an SQLite catalog plus append-only pixel arrays.

A writer appends and flushes array rows before the catalog transaction that records
them, so a process killed at any moment leaves at most an uncommitted tail, which
the next writer cuts off; readers work while a writer appends. Nothing is pickled.
The folder's files, the catalog's tables and the protocol: ``docs/library.md``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, overload
from urllib.parse import quote

import numpy as np
from numpy.typing import NDArray

from .._util.arrays import sorted_distinct
from .._util.lifetime import pause_point
from ..errors import MosaicfastError
from ..io.paths import from_catalog, os_reason
from ..io.sources import TileSource
from ..kernels.descriptors import MAX_GRID, SPACES, descriptor_size, tile_descriptors
from ..options import IndexOptions
from . import catalog

__all__ = [
    "DEFAULT_DESCRIPTORS",
    "DEFAULT_THUMB_SIZE",
    "FORMAT_VERSION",
    "MAX_THUMB_SIZE",
    "READABLE_VERSIONS",
    "DescriptorKind",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "Settings",
    "TileList",
    "TileRows",
    "WaitHandler",
    "check_version",
    "connect_catalog",
    "damaged",
    "read_settings",
    "write_schema",
    "writer_lock",
]

#: The version a writer leaves: 2 lists the stored descriptor arrays by space and grid
#: (meta key ``descriptors``); 1 stored lab ones only (meta key ``grids``).
FORMAT_VERSION = 2
#: Versions this mosaicfast opens; a writer upgrades a version-1 library to 2.
READABLE_VERSIONS = (1, 2)
_T = TypeVar("_T")
DEFAULT_THUMB_SIZE: int = IndexOptions.thumb_size
CATALOG = "catalog.sqlite"
THUMBS = "thumbs.u8"
LOCK = "lock"
_DESCRIBE_CHUNK = 4096
#: Largest thumbnail side a catalog may declare (index --thumb-size allows 1024).
MAX_THUMB_SIZE = 4096

_PARTIAL = ".partial"
_DESCRIPTOR_FILE = re.compile(r"desc-(?:(?P<space>[a-z]+)-)?g(?P<grid>[0-9]+)\.i16")


class DescriptorKind(NamedTuple):
    """One stored descriptor array: every tile's descriptor in ``space`` at ``grid``."""

    space: str
    grid: int

    @property
    def file(self) -> str:
        """The array's file name: ``desc-g{grid}.i16`` for lab (the name format 1
        gave it), ``desc-{space}-g{grid}.i16`` for the other spaces."""
        prefix = "desc-" if self.space == "lab" else f"desc-{self.space}-"
        return f"{prefix}g{self.grid}.i16"

    @property
    def values(self) -> int:
        """Values (int16) in one tile's descriptor."""
        return descriptor_size(self.grid, self.space)

    @property
    def valid(self) -> bool:
        return (
            self.space in SPACES
            and 1 <= self.grid <= MAX_GRID
            and (self.space != "ylab" or self.grid % 2 == 0)
        )

    @classmethod
    def of_file(cls, name: str) -> DescriptorKind | None:
        """The kind whose array file is ``name``, or None if ``name`` names none."""
        match = _DESCRIPTOR_FILE.fullmatch(name)
        if match is None:
            return None
        kind = cls(match["space"] or "lab", int(match["grid"]))
        return kind if kind.valid and kind.file == name else None

    def __str__(self) -> str:
        return f"{self.space} at grid {self.grid}"


#: What a new library stores: ``lab`` at grid 5 (``build --descriptor lab``, near
#: duplicates) and ``ylab`` at grid 8 (the build's default); a writer adds those an
#: older library lacks.
DEFAULT_DESCRIPTORS = (DescriptorKind("lab", 5), DescriptorKind("ylab", 8))

WaitHandler = Callable[[str], None]
"""Told, as ``on_wait(message)``, that another process holds a library's lock."""

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


class TileList(Sequence[TileSource]):
    """The tiles of a library as a sequence of :class:`TileSource`, made on demand.

    A library holds hundreds of thousands of tiles and a mosaic uses a few thousand;
    only the ones looked at become objects.
    """

    def __init__(self, rows: TileRows) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> TileSource: ...
    @overload
    def __getitem__(self, index: slice) -> list[TileSource]: ...
    def __getitem__(self, index: int | slice) -> TileSource | list[TileSource]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rows = self._rows
        if not -len(rows) <= index < len(rows):
            raise IndexError(f"tile {index} out of range for {len(rows)} tiles")
        time = float(rows.times[index])
        left, top, right, bottom = (int(v) for v in rows.boxes[index])
        return TileSource(
            Path(rows.source_paths[int(rows.source_ids[index])]),
            (left, top, right, bottom),
            tile_id=int(rows.ids[index]),
            time=None if math.isnan(time) else time,
        )


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
        settings = read_settings(db)
        self.thumb_size = settings.thumb_size
        self.descriptor_kinds = settings.descriptors

    # -- opening -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        thumb_size: int = DEFAULT_THUMB_SIZE,
        descriptors: Sequence[tuple[str, int]] = DEFAULT_DESCRIPTORS,
    ) -> Library:
        """Create an empty library at ``path`` (a new or empty folder), open for writing.

        ``descriptors`` are the ``(space, grid)`` descriptor arrays it stores; at least
        one must be ``lab`` (near-duplicate detection compares lab grids).
        """
        path = Path(path)
        if (path / CATALOG).exists():
            raise LibraryError(f"{path}: a library already exists here")
        _make_folder(path)
        return cls._create_locked(path, _acquire_lock(path), thumb_size, descriptors)

    @classmethod
    def _create_locked(
        cls, path: Path, lock: int, thumb_size: int, descriptors: Sequence[tuple[str, int]]
    ) -> Library:
        kinds = tuple(sorted({DescriptorKind(*d) for d in descriptors}))
        problem = _settings_problem(thumb_size, kinds)
        if problem is not None:
            _release_lock(lock)
            raise LibraryError(f"{path}: cannot create a library: {problem}")
        try:
            db = connect_catalog(path / CATALOG)
            write_schema(db, Settings(thumb_size, kinds, 0, 1))
        except sqlite3.Error as err:
            _release_lock(lock)
            raise LibraryError(f"{path}: cannot create the catalog ({err})") from err
        return cls(path, db, lock)

    @classmethod
    def open(
        cls, path: str | Path, *, write: bool = False, on_wait: WaitHandler | None = None
    ) -> Library:
        """Open an existing library; ``write=True`` takes the writer's lock.

        Opening for writing also runs SQLite's quick check of the catalog, so that no
        writer adds to a damaged one.

        Parameters
        ----------
        path : str or Path
            The library folder.
        write : bool, default False
            Open for writing, holding the writer's lock.
        on_wait : callable, optional
            With ``write``: when another process holds the lock, call
            ``on_wait(message)`` and wait for it, instead of raising.

        Raises
        ------
        LibraryError
            If there is no library at ``path``, it has another format version, or its
            catalog is damaged.
        LibraryLockedError
            If ``write`` and another process holds the lock (and no ``on_wait``).
        """
        path = Path(path)
        if not (path / CATALOG).is_file():
            raise LibraryError(f"{path}: no mosaicfast library here (no {CATALOG})")
        lock = _acquire_lock(path, on_wait) if write else None
        return cls._open_locked(path, lock)

    @classmethod
    def _open_locked(cls, path: Path, lock: int | None) -> Library:
        db = None
        try:
            db = connect_catalog(path / CATALOG, readonly=lock is None)
            check_version(path, _meta_value(db, "format_version"))
            if lock is not None:
                _require_sound(db, path)
            library = cls(path, db, lock)
            if lock is not None:
                library.cut_uncommitted_tail()
            return library
        except (sqlite3.DatabaseError, LibraryError, OSError) as err:
            if db is not None:
                db.close()
            _release_lock(lock)
            if isinstance(err, LibraryError):
                raise
            raise damaged(path, err) from err

    @classmethod
    def open_or_create(
        cls,
        path: str | Path,
        *,
        thumb_size: int = DEFAULT_THUMB_SIZE,
        descriptors: Sequence[tuple[str, int]] = DEFAULT_DESCRIPTORS,
        on_wait: WaitHandler | None = None,
    ) -> Library:
        """Open ``path`` for writing, creating the library if it does not exist.

        With ``on_wait``, a library another process is writing (or creating) is waited
        for, as in :meth:`open`.
        """
        path = Path(path)
        _make_folder(path)
        lock = _acquire_lock(path, on_wait)
        if (path / CATALOG).exists():
            return cls._open_locked(path, lock)
        return cls._create_locked(path, lock, thumb_size, descriptors)

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

    def row_bytes(self, name: str) -> int:
        """Bytes of one slot in the array file ``name``."""
        if name == THUMBS:
            return self.thumb_size * self.thumb_size * 3
        kind = DescriptorKind.of_file(name)
        if kind is None:
            raise ValueError(f"{name!r} is no array of a library")
        return kind.values * 2

    def array_files(self) -> list[str]:
        return [THUMBS, *(kind.file for kind in self.descriptor_kinds)]

    @property
    def duplicate_descriptor(self) -> DescriptorKind:
        """The stored descriptors near-duplicate detection compares: the coarsest lab."""
        return min(k for k in self.descriptor_kinds if k.space == "lab")

    def next_slot(self) -> int:
        with self._catalog():
            return read_settings(self._db).next_slot

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
        try:
            for name, rows in arrays.items():
                self._write_rows(name, first, rows)
                pause_point("arrays-written")
        except LibraryError:
            self.cut_uncommitted_tail()  # a full disk leaves no partial rows behind
            raise
        return first

    def overwrite_rows(self, name: str, first: int, rows: NDArray[Any]) -> None:
        """Write ``rows`` over committed slots from ``first`` on, flushed to disk.

        Only for repairs (writer's lock held): committed rows are otherwise never
        rewritten, which is what lets readers work while a writer appends.
        """
        if not self.writable:
            raise LibraryError(f"{self.path}: opened read-only")
        self._write_rows(name, first, rows)

    def _write_rows(self, name: str, first: int, rows: NDArray[Any]) -> None:
        """Write ``rows`` at slot ``first`` of array ``name`` and flush them to disk;
        LibraryError if the disk is full or the file cannot be written."""
        data = memoryview(np.ascontiguousarray(rows).tobytes())
        offset = first * self.row_bytes(name)
        try:
            fd = os.open(self.array_path(name), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                while data:
                    written = os.pwrite(fd, data, offset)
                    if written == 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    data, offset = data[written:], offset + written
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise LibraryError(
                f"{self.array_path(name)}: cannot write ({os_reason(err)}); the tiles "
                "committed before are kept: run the command again once this is fixed"
            ) from err

    def check_arrays(self, slots: NDArray[np.int64]) -> None:
        """LibraryError, naming the repair, if an array file is missing or shorter than
        ``slots`` need: a build refuses a damaged library up front, whichever of its
        arrays it reads."""
        need = int(slots.max()) + 1 if len(slots) else 0
        for name in self.array_files():
            file = self.array_path(name)
            try:
                rows = file.stat().st_size // self.row_bytes(name)
            except OSError:
                rows = -1
            if rows < need:
                raise LibraryError(
                    f"{file}: missing or shorter than the catalog says; "
                    f"run `mosaicfast library verify --repair {self.path}`"
                )

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
        flat = out.reshape(len(slots), size // out.itemsize).view(np.uint8)
        file = self.array_path(name)
        try:
            with open(file, "rb", buffering=0) as handle:
                rows = os.fstat(handle.fileno()).st_size // size
                if len(slots) and (slots.min() < 0 or slots.max() >= rows):
                    raise LibraryError(
                        f"{file}: shorter than the catalog says; "
                        f"run `mosaicfast library verify --repair {self.path}`"
                    )
                for start, stop in _runs(slots):
                    count = stop - start
                    first = int(slots[start])
                    data = os.pread(handle.fileno(), count * size, first * size)
                    if len(data) != count * size:
                        raise LibraryError(
                            f"{file}: shorter than the catalog says; "
                            f"run `mosaicfast library verify --repair {self.path}`"
                        )
                    flat[start:stop] = np.frombuffer(data, np.uint8).reshape(count, size)
        except OSError as err:
            raise LibraryError(
                f"{file}: {os_reason(err)}; run `mosaicfast library verify --repair {self.path}`"
            ) from err
        return out

    # -- catalog -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the catalog, committed on success."""
        if not self.writable:
            raise LibraryError(f"{self.path}: opened read-only")
        with self._catalog(), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

    def read(self, operation: Callable[..., _T], *args: Any) -> _T:
        """``operation(connection, *args)``: a read of :mod:`~mosaicfast.library.catalog`
        on the catalog; LibraryError if the catalog is damaged."""
        with self._catalog():
            return operation(self._db, *args)

    @contextmanager
    def _catalog(self) -> Iterator[None]:
        """Turn the errors of a damaged catalog into a LibraryError saying what to do."""
        try:
            yield
        except sqlite3.OperationalError as err:  # full disk, I/O error: not damage
            raise LibraryError(f"{self.path}: the catalog cannot be used ({err})") from err
        except sqlite3.DatabaseError as err:
            raise damaged(self.path, err) from err

    def tiles_in_use(self) -> TileRows:
        """Every tile that is not a duplicate, by tile id (one consistent snapshot).

        Raises
        ------
        LibraryError
            If the catalog is damaged: unreadable, a row of the wrong type, a slot
            outside the committed arrays, an empty crop box, a tile without a source.
        """
        with self._catalog(), self._db:
            self._db.execute("BEGIN")
            next_slot = read_settings(self._db).next_slot
            try:
                table = np.fromiter(catalog.tiles_in_use(self._db), dtype=_TILE_COLUMNS)
            except (ValueError, TypeError, OverflowError) as err:
                raise sqlite3.DatabaseError(
                    f"a tile row has a value of the wrong type ({err})"
                ) from err
            paths = {i: from_catalog(p) for i, p in catalog.source_paths(self._db)}
            _check_tile_rows(table, next_slot, paths)
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

    def descriptors(
        self, grid: int, slots: NDArray[np.int64], *, space: str = "lab"
    ) -> NDArray[np.int16] | None:
        """Stored descriptors in ``space`` at ``grid`` for ``slots``, or None if the
        library stores none."""
        kind = DescriptorKind(space, grid)
        if kind not in self.descriptor_kinds:
            return None
        return self.read_rows(kind.file, slots)

    def tile_descriptors(
        self,
        grid: int,
        slots: NDArray[np.int64],
        *,
        space: str = "lab",
        threads: int | None = None,
    ) -> NDArray[np.int16]:
        """Descriptors at ``grid`` in ``space`` of the tiles in ``slots``: stored ones
        when the library keeps them, else computed from the thumbnails."""
        stored = self.descriptors(grid, slots, space=space)
        if stored is not None:
            return stored
        kind = DescriptorKind(space, grid)
        out = np.empty((len(slots), kind.values), np.int16)
        for start, rows in self.described_chunks(kind, slots, threads=threads):
            out[start : start + len(rows)] = rows
        return out

    def described_chunks(
        self, kind: DescriptorKind, slots: NDArray[np.int64], *, threads: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.int16]]]:
        """``(start, descriptors)`` of ``slots[start:]`` a chunk at a time, computed from
        the thumbnails (memory stays a chunk's thumbnails)."""
        for start in range(0, len(slots), _DESCRIBE_CHUNK):
            thumbs = self.thumbnails(slots[start : start + _DESCRIBE_CHUNK])
            yield start, tile_descriptors(thumbs, kind.grid, space=kind.space, threads=threads)

    # -- descriptor arrays written whole -----------------------------------------

    def store_missing_descriptors(self, kinds: Sequence[DescriptorKind]) -> list[DescriptorKind]:
        """Add the arrays of ``kinds`` the library lacks, computed from the thumbnails
        of every committed slot; return the kinds added.

        Each array is appended a chunk at a time (flushed) to ``FILE.partial``, renamed
        into place when complete, and only then listed in the catalog (which makes the
        library format 2): a killed upgrade leaves a partial file that is never read as
        an array, and the next writer goes on from its last whole row.
        """
        missing = [k for k in kinds if k not in self.descriptor_kinds]
        for kind in missing:
            self.write_descriptor_array(kind, resume=True)
        if missing:
            added = tuple(sorted({*self.descriptor_kinds, *missing}))
            with self.transaction() as db:
                catalog.set_descriptors(db, FORMAT_VERSION, _descriptors_json(added))
            self.descriptor_kinds = added
        return missing

    def partial_arrays(self) -> list[Path]:
        """The partial files of descriptor arrays an interrupted run was computing."""
        return sorted(self.path.glob("desc-*.i16" + _PARTIAL))

    def write_descriptor_array(self, kind: DescriptorKind, *, resume: bool = False) -> None:
        """Compute the array of ``kind`` for every committed slot from the thumbnails and
        put it in place atomically (the rename of a flushed ``.partial`` file);
        ``resume`` keeps the whole rows a killed run left in the partial file."""
        if not self.writable:
            raise LibraryError(f"{self.path}: opened read-only")
        final = self.array_path(kind.file)
        partial = final.with_name(final.name + _PARTIAL)
        size = kind.values * 2
        slots = self.next_slot()
        done = min(partial.stat().st_size // size, slots) if resume and partial.exists() else 0
        try:
            with open(partial, "r+b" if done else "wb") as handle:
                handle.truncate(done * size)
                handle.seek(done * size)
                todo = np.arange(done, slots, dtype=np.int64)
                for _, rows in self.described_chunks(kind, todo):
                    handle.write(rows.tobytes())
                    handle.flush()
                    os.fsync(handle.fileno())
                    pause_point("descriptors-chunk-written")
            os.replace(partial, final)
            _fsync_folder(self.path)
        except OSError as err:
            raise LibraryError(
                f"{final}: cannot write ({os_reason(err)}); the library is unchanged: "
                "run the command again once this is fixed"
            ) from err

    def roots(self) -> list[str]:
        return sorted(from_catalog(root) for root in self.read(catalog.roots))

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


def connect_catalog(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the catalog file ``path`` (WAL journal unless ``readonly``)."""
    # Percent-encoded bytes: any file name, even with '?', '#' or bytes that are not
    # UTF-8, names the same file.
    uri = "file:" + quote(os.fsencode(path)) + ("?mode=ro" if readonly else "")
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    if not readonly:
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a killed process; the array rows it
        # names were fsynced before it.
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _check_tile_rows(table: NDArray[Any], next_slot: int, paths: dict[Any, Any]) -> None:
    """Raise sqlite3.DatabaseError for tile rows no writer makes (a damaged catalog)."""
    slots = table["slot"]
    boxes_ok = (
        (table["left"] >= 0)
        & (table["top"] >= 0)
        & (table["right"] > table["left"])
        & (table["bottom"] > table["top"])
    )
    if ((slots < 0) | (slots >= next_slot)).any():
        raise sqlite3.DatabaseError("a tile's slot lies outside the committed arrays")
    if len(sorted_distinct(slots)) != len(slots):
        raise sqlite3.DatabaseError("two tiles share a slot")
    if not boxes_ok.all():
        raise sqlite3.DatabaseError("a tile's crop box is empty or negative")
    if not all(isinstance(paths.get(s), str) for s in table["source"].tolist()):
        raise sqlite3.DatabaseError("a tile has no source")


@dataclass(frozen=True)
class Settings:
    """A library's settings, from its catalog's meta table."""

    thumb_size: int
    descriptors: tuple[DescriptorKind, ...]
    next_slot: int
    next_tile_id: int


def read_settings(db: sqlite3.Connection) -> Settings:
    """The settings in the meta table; sqlite3.DatabaseError if missing or out of range."""
    meta = dict(db.execute("SELECT key, value FROM meta"))
    try:
        if "descriptors" in meta:  # format 2
            kinds = [DescriptorKind(str(s), int(g)) for s, g in json.loads(meta["descriptors"])]
        else:  # format 1: lab grids
            kinds = [DescriptorKind("lab", int(g)) for g in json.loads(meta["grids"])]
        settings = Settings(
            int(meta["thumb_size"]),
            tuple(sorted(set(kinds))),
            int(meta["next_slot"]),
            int(meta["next_tile_id"]),
        )
    except (KeyError, ValueError, TypeError, OverflowError, RecursionError) as err:
        raise sqlite3.DatabaseError(f"the library's settings are damaged ({err!r})") from err
    problem = _settings_problem(settings.thumb_size, settings.descriptors)
    if problem is not None or settings.next_slot < 0 or settings.next_tile_id < 1:
        raise sqlite3.DatabaseError(f"the library's settings are out of range ({settings})")
    return settings


def _settings_problem(thumb_size: int, kinds: Sequence[DescriptorKind]) -> str | None:
    """What is wrong with a library's thumbnail size and descriptor arrays, if anything."""
    if not 8 <= thumb_size <= MAX_THUMB_SIZE:
        return f"thumbnail size must be 8 to {MAX_THUMB_SIZE} pixels, got {thumb_size}"
    bad = [k for k in kinds if not k.valid]
    if bad:
        return f"no such descriptor: {bad[0].space} at grid {bad[0].grid}"
    if not any(k.space == "lab" for k in kinds):
        return "the descriptors must include a lab grid (near duplicates compare it)"
    return None


def check_version(path: Path, version: object) -> None:
    """LibraryError unless this mosaicfast reads library format ``version``."""
    if str(version) not in map(str, READABLE_VERSIONS):
        raise LibraryError(
            f"{path}: library format version {version}, but this mosaicfast reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}; re-index the sources "
            "into a new library"
        )


def _descriptors_json(kinds: Sequence[DescriptorKind]) -> str:
    return json.dumps([[k.space, k.grid] for k in kinds])


def write_schema(db: sqlite3.Connection, settings: Settings) -> None:
    """Create the tables of an empty catalog and store ``settings``."""
    with db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("format_version", str(FORMAT_VERSION)),
                ("thumb_size", str(settings.thumb_size)),
                ("descriptors", _descriptors_json(settings.descriptors)),
                ("next_slot", str(settings.next_slot)),
                ("next_tile_id", str(settings.next_tile_id)),
            ],
        )


def damaged(path: Path, err: BaseException) -> LibraryError:
    """The error for a catalog that cannot be read, saying what to do."""
    return LibraryError(
        f"{path}: the catalog cannot be read ({err}); "
        f"`mosaicfast library verify --repair {path}` rebuilds it"
    )


def _require_sound(db: sqlite3.Connection, path: Path) -> None:
    """Raise LibraryError if SQLite's quick check finds the catalog damaged."""
    result = db.execute("PRAGMA quick_check(1)").fetchall()
    if result != [("ok",)]:
        raise damaged(path, sqlite3.DatabaseError(str(result[0][0])))


def _fsync_folder(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LibraryError(f"{path}: cannot create the library folder ({os_reason(err)})") from err


def _meta_value(db: sqlite3.Connection, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise sqlite3.DatabaseError(f"meta key {key!r} is missing")
    return str(row[0])


def _acquire_lock(path: Path, on_wait: WaitHandler | None = None) -> int:
    """Take the writer's lock of the library at ``path``; record our PID in it.

    If another process holds it: LibraryLockedError, or with ``on_wait``, tell
    ``on_wait`` and wait for it (Ctrl-C still stops the wait).
    """
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise LibraryError(f"{path}: cannot take the writer's lock ({os_reason(err)})") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        if on_wait is None:
            os.close(fd)
            raise LibraryLockedError(
                f"{path}: the library is locked by process {holder} (another mosaicfast "
                "is writing it); wait for it to finish"
            ) from None
        on_wait(f"{path}: process {holder} is updating this library; waiting for it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the writer's lock of the library folder ``path`` for the ``with`` block."""
    fd = _acquire_lock(path)
    try:
        yield
    finally:
        _release_lock(fd)


def _release_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)
