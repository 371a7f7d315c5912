"""Rebuilding a damaged catalog from the rows that can still be read.

SQLite reports damage (flipped bytes, a truncated page) as an error on whatever
query touches it. :func:`rebuild_catalog` reads each table by ranges of row ids,
halving a range that fails until the readable rows are found, keeps the rows whose
values a writer could have made, infers the library's settings from its arrays
when the meta table is lost, and writes a fresh catalog in place of the damaged
one. Tiles that point nowhere are left out; ``library verify --repair`` then
checks every kept tile against its pixel hash, and ``index`` reads the files
whose tiles were lost again.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..io.paths import from_catalog
from . import catalog
from .store import (
    CATALOG,
    FORMAT_VERSION,
    MAX_THUMB_SIZE,
    THUMBS,
    DescriptorKind,
    LibraryError,
    Settings,
    check_version,
    connect_catalog,
    read_settings,
    write_schema,
    writer_lock,
)

__all__ = ["Salvage", "rebuild_catalog", "salvage_rows"]

#: Past damage, readable rows are searched up to this many row ids further.
_MAX_ROWID = 1 << 62
#: Rows read per query where the table reads well.
_BATCH = 512

_COLUMNS = {
    "meta": ("key", "value"),
    "roots": ("path",),
    "sources": (
        "id", "path", "kind", "size", "mtime_ns", "content_hash", "status", "error", "done_until",
    ),
    "tiles": (
        "id", "source_id", "slot", "left", "top", "right", "bottom", "frame_time", "pixel_hash",
        "phash", "duplicate_of", "duplicate_kind",
    ),
}  # fmt: skip


@dataclass
class Salvage:
    """What a rebuild kept and lost."""

    sources: int = 0
    tiles: int = 0
    lost_rows: int = 0

    def summary(self) -> str:
        return (
            f"{self.sources:,} sources and {self.tiles:,} tiles kept, "
            f"{self.lost_rows:,} unreadable or invalid rows left out"
        )


def salvage_rows(db: sqlite3.Connection, table: str) -> tuple[list[tuple[Any, ...]], int]:
    """The rows of ``table`` that can be read, and how many damaged stretches were skipped.

    Rows are read in order of row id, in batches, then one by one near damage; past a
    row that cannot be read, the next row id from which reading works again is found
    by doubling steps and bisection, so no readable row is lost.
    """
    names = ", ".join(_COLUMNS[table])
    sql = f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"

    def read(after: int, limit: int) -> list[tuple[Any, ...]] | None:
        """Rows past ``after``, in order; None where the damage shows (an error, or a
        b-tree so broken that it gives row ids out of order)."""
        try:
            batch = db.execute(sql, (after, limit)).fetchall()
        except sqlite3.DatabaseError:
            return None
        ids = [after, *(r[0] for r in batch)]
        return batch if all(a < b for a, b in pairwise(ids)) else None

    rows: list[tuple[Any, ...]] = []
    lost = 0
    after: int | None = -1
    while after is not None:
        batch = read(after, _BATCH)
        if batch is None:
            batch = read(after, 1)
        if batch is None:
            lost += 1
            after = _readable_after(read, after)
        elif batch:
            rows.extend(r[1:] for r in batch)
            after = batch[-1][0]
        else:
            after = None
    return rows, lost


def _readable_after(read: Callable[[int, int], list[Any] | None], after: int) -> int | None:
    """The smallest position past ``after`` from which ``read`` works (None: none)."""
    step = 1
    while read(after + step, 1) is None:
        step *= 2
        if after + step > _MAX_ROWID:
            return None
    failing, working = after + step // 2, after + step
    while working - failing > 1:
        middle = (failing + working) // 2
        if read(middle, 1) is None:
            failing = middle
        else:
            working = middle
    return working


def rebuild_catalog(path: str | Path) -> Salvage:
    """Replace the damaged catalog of the library at ``path`` by one rebuilt from the
    rows that can be read, holding the writer's lock.

    Raises
    ------
    LibraryError
        If the library's settings can be neither read nor inferred from its arrays,
        saying what to do instead.
    """
    path = Path(path)
    with writer_lock(path):
        tables = _read_tables(path / CATALOG)
        meta = {k: v for k, v in tables["meta"][0] if isinstance(k, str)}
        settings = _settings(path, meta, tables)
        result = Salvage(lost_rows=sum(lost for _, lost in tables.values()))
        fresh = path / (CATALOG + ".rebuilt")
        fresh.unlink(missing_ok=True)
        db = sqlite3.connect(fresh)
        try:
            write_schema(db, settings)
            _copy_rows(db, tables, settings, result)
        finally:
            db.close()
        for suffix in ("-wal", "-shm"):  # they belong to the damaged file
            (path / (CATALOG + suffix)).unlink(missing_ok=True)
        os.replace(fresh, path / CATALOG)
    return result


def _read_tables(catalog: Path) -> dict[str, tuple[list[tuple[Any, ...]], int]]:
    """The salvaged rows of every table (none, if the file is no database at all)."""
    try:
        old = connect_catalog(catalog, readonly=True)
    except sqlite3.DatabaseError:
        return {name: ([], 1) for name in _COLUMNS}
    try:
        return {name: salvage_rows(old, name) for name in _COLUMNS}
    finally:
        old.close()


def _settings(
    path: Path, meta: dict[str, Any], tables: dict[str, tuple[list[tuple[Any, ...]], int]]
) -> Settings:
    """The salvaged settings, each missing one inferred from the arrays."""
    check_version(path, meta.get("format_version", FORMAT_VERSION))
    scratch = sqlite3.connect(":memory:")
    scratch.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    scratch.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    try:
        settings = read_settings(scratch)
    except sqlite3.DatabaseError:
        settings = _inferred_settings(path, meta, tables)
    finally:
        scratch.close()
    ids = [r[0] for r in tables["tiles"][0] if isinstance(r[0], int)]
    return Settings(
        settings.thumb_size,
        settings.descriptors,
        settings.next_slot,
        max([settings.next_tile_id, *(i + 1 for i in ids)]),
    )


def _inferred_settings(
    path: Path, meta: dict[str, Any], tables: dict[str, tuple[list[tuple[Any, ...]], int]]
) -> Settings:
    """Settings from the array files: the descriptors from the descriptor files present,
    the thumbnail side from the thumbnail and lab descriptor files' sizes."""
    kinds = sorted(k for f in path.glob("desc-*.i16") if (k := DescriptorKind.of_file(f.name)))
    labs = [k for k in kinds if k.space == "lab"]
    thumbs = path / THUMBS
    side = None
    if labs and thumbs.exists():
        rows = (path / labs[0].file).stat().st_size // (2 * labs[0].values)
        per_row = thumbs.stat().st_size / rows / 3 if rows else 0
        root = math.isqrt(int(per_row)) if per_row == int(per_row) else 0
        side = root if root * root == per_row and 8 <= root <= MAX_THUMB_SIZE else None
    if side is None:
        roots = " ".join(str(from_catalog(r[0])) for r in tables["roots"][0]) or "SOURCE..."
        raise LibraryError(
            f"{path}: the catalog is damaged beyond repair (the library's settings are lost); "
            f"move the folder away and index again: mosaicfast index {roots} --library {path}"
        )
    return Settings(side, tuple(kinds), thumbs.stat().st_size // (3 * side * side), 1)


def _copy_rows(
    db: sqlite3.Connection,
    tables: dict[str, tuple[list[tuple[Any, ...]], int]],
    settings: Settings,
    result: Salvage,
) -> None:
    """Insert the salvaged roots, sources and tiles a writer could have made."""
    sources = [r for r in tables["sources"][0] if _valid_source(r)]
    tiles = [r for r in tables["tiles"][0] if _valid_tile(r, settings.next_slot)]
    with db:
        catalog.add_roots(db, [r[0] for r in tables["roots"][0] if isinstance(r[0], (str, bytes))])
        result.sources = catalog.restore_sources(db, sources)
        known = set(catalog.source_ids(db))
        result.tiles = catalog.restore_tiles(db, [r for r in tiles if r[1] in known])
    result.lost_rows += (
        len(tables["sources"][0]) - result.sources + len(tables["tiles"][0]) - result.tiles
    )


def _valid_source(row: tuple[Any, ...]) -> bool:
    ident, path, kind, size, mtime, _, status, error, done = row
    return (
        isinstance(ident, int)
        and isinstance(path, (str, bytes))
        and kind in ("image", "video")
        and isinstance(size, int)
        and isinstance(mtime, int)
        and status in ("ok", "error", "partial")
        and (error is None or isinstance(error, str))
        and (done is None or isinstance(done, (int, float)))
    )


def _valid_tile(row: tuple[Any, ...], next_slot: int) -> bool:
    ident, source, slot, left, top, right, bottom, time, pixel_hash, phash, dup, kind = row
    numbers = (ident, source, slot, left, top, right, bottom, phash)
    return (
        all(isinstance(v, int) for v in numbers)
        and 0 <= slot < next_slot
        and 0 <= left < right
        and 0 <= top < bottom
        and (time is None or isinstance(time, (int, float)))
        and isinstance(pixel_hash, bytes)
        and len(pixel_hash) == 16
        and (dup is None or isinstance(dup, int))
        and kind in (None, "exact", "near")
    )
