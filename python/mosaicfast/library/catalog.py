"""The catalog's statements, each a named operation on an open SQLite connection.

The indexer, the maintenance and the salvage code say what they want done to the catalog
(:func:`record_batch`, :func:`remove_sources`, :func:`tile_counts` ...) and write no
SQL of their own; the tables are described in ``docs/library.md`` and created by
:func:`mosaicfast.library.store.write_schema`. Reads go through
:meth:`Library.read <mosaicfast.library.store.Library.read>` (which turns a damaged
catalog into a ``LibraryError``), writes through ``Library.transaction()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

__all__ = [
    "KeptTile",
    "SourceRow",
    "add_roots",
    "dangling_duplicates",
    "drop_tiles",
    "empty_sources",
    "impossible_tile_rows",
    "integrity_problems",
    "kept_tiles",
    "next_tile_id",
    "record_batch",
    "release_duplicates",
    "remove_sources",
    "restore_sources",
    "restore_tiles",
    "roots",
    "set_next_slot",
    "source_counts",
    "source_files",
    "source_ids",
    "source_paths",
    "source_rows",
    "sources_from_slot",
    "tile_counts",
    "tile_slots",
    "tiles_in_use",
    "tiles_with_sources",
    "unreadable_sources",
]


class SourceRow(NamedTuple):
    """A row of the ``sources`` table, as the indexer compares it with the disk."""

    id: int
    path: Any  # str or bytes; anything else in a damaged catalog
    size: int
    mtime_ns: int
    status: str
    error: str | None
    done_until: float | None


class KeptTile(NamedTuple):
    """A tile in use (not a duplicate), as the duplicate finder needs it."""

    id: int
    slot: int
    pixel_hash: bytes
    phash: int


# --- the indexer ---------------------------------------------------------------------


def source_rows(db: sqlite3.Connection) -> list[SourceRow]:
    """Every source."""
    rows = db.execute("SELECT id, path, size, mtime_ns, status, error, done_until FROM sources")
    return [SourceRow(*row) for row in rows]


def roots(db: sqlite3.Connection) -> list[Any]:
    """The folders indexed (catalog-encoded paths)."""
    return [root for (root,) in db.execute("SELECT path FROM roots")]


def add_roots(db: sqlite3.Connection, roots: Iterable[str | bytes]) -> None:
    """Remember folders as indexed (catalog-encoded paths), once each."""
    db.executemany("INSERT OR IGNORE INTO roots VALUES (?)", [(root,) for root in roots])


def remove_sources(db: sqlite3.Connection, source_ids: list[int]) -> None:
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
            release_duplicates(db, [tile])
        else:
            db.execute("UPDATE tiles SET duplicate_of = ? WHERE id = ?", (heir[old], tile))
    db.execute("DELETE FROM tiles WHERE source_id IN (SELECT id FROM gone)")
    db.execute("DELETE FROM sources WHERE id IN (SELECT id FROM gone)")


def kept_tiles(db: sqlite3.Connection) -> list[KeptTile]:
    """The tiles in use (not duplicates), by id."""
    rows = db.execute(
        "SELECT id, slot, pixel_hash, phash FROM tiles WHERE duplicate_of IS NULL ORDER BY id"
    )
    return [KeptTile(*row) for row in rows]


def tiles_in_use(db: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """``(id, slot, source_id, left, top, right, bottom, frame_time)`` of the tiles in
    use, by id, as the rows come (frame_time NaN for photos)."""
    return db.execute(
        """SELECT id, slot, source_id, left, top, right, bottom, IFNULL(frame_time, 'NaN')
           FROM tiles WHERE duplicate_of IS NULL ORDER BY id"""
    )


def source_paths(db: sqlite3.Connection) -> Iterator[tuple[int, Any]]:
    """``(id, path)`` of every source, as the rows come."""
    return db.execute("SELECT id, path FROM sources")


def next_tile_id(db: sqlite3.Connection) -> int:
    """The id the next tile gets."""
    (value,) = db.execute("SELECT value FROM meta WHERE key = 'next_tile_id'").fetchall()[0]
    return int(value)


def record_batch(
    db: sqlite3.Connection,
    sources: Sequence[tuple[Any, ...]],
    tiles: Sequence[tuple[Any, ...]],
    *,
    next_slot: int,
    next_tile_id: int,
) -> None:
    """Record a batch of the indexer: its sources (new, or a finished or failed one
    replacing its row), their tiles, and the counters past them.

    ``sources`` rows are ``(path, kind, size, mtime_ns, content_hash, status, error,
    done_until)``; ``tiles`` rows ``(id, source path, slot, left, top, right, bottom,
    frame_time, pixel_hash, phash, duplicate_of, duplicate_kind)``.
    """
    db.executemany(
        """INSERT INTO sources (path, kind, size, mtime_ns, content_hash, status, error,
                                done_until)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (path) DO UPDATE SET status = excluded.status,
               error = excluded.error, done_until = excluded.done_until""",
        sources,
    )
    db.executemany(
        """INSERT INTO tiles (id, source_id, slot, left, top, right, bottom, frame_time,
                              pixel_hash, phash, duplicate_of, duplicate_kind)
           VALUES (?, (SELECT id FROM sources WHERE path = ?),
                   ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        tiles,
    )
    db.executemany(
        "UPDATE meta SET value = ? WHERE key = ?",
        [(str(next_slot), "next_slot"), (str(next_tile_id), "next_tile_id")],
    )


def set_descriptors(db: sqlite3.Connection, version: int, descriptors: str) -> None:
    """Record the stored descriptor arrays (JSON ``[[space, grid], ...]``) and the
    format ``version`` that lists them this way (replacing format 1's lab ``grids``)."""
    db.execute("DELETE FROM meta WHERE key IN ('grids', 'descriptors')")
    db.execute("INSERT INTO meta VALUES ('descriptors', ?)", (descriptors,))
    db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),))


# --- counts ----------------------------------------------------------------------------


def source_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Readable sources by kind (``image``, ``video``, ``video (unfinished)``)."""
    return dict(
        db.execute(
            "SELECT CASE status WHEN 'partial' THEN kind || ' (unfinished)' ELSE kind END,"
            " COUNT(*) FROM sources WHERE status != 'error' GROUP BY 1"
        )
    )


def unreadable_sources(db: sqlite3.Connection) -> list[tuple[Any, str]]:
    """``(path, reason)`` of the sources that could not be read (fully), by path."""
    return db.execute(
        "SELECT path, error FROM sources WHERE error IS NOT NULL ORDER BY path"
    ).fetchall()


def tile_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Tiles by kind: ``in use``, ``exact`` and ``near`` duplicates."""
    return dict(
        db.execute(
            "SELECT COALESCE(duplicate_kind, 'in use'), COUNT(*) FROM tiles GROUP BY duplicate_kind"
        )
    )


# --- verify and repair -----------------------------------------------------------------


def integrity_problems(db: sqlite3.Connection) -> list[str]:
    """SQLite's own check of the file: the first five problems, none if sound."""
    result = db.execute("PRAGMA integrity_check(5)").fetchall()
    return [] if result == [("ok",)] else [str(row[0]) for row in result]


def sources_from_slot(db: sqlite3.Connection, slot: int) -> list[int]:
    """The sources of the tiles at array slots ``slot`` and after."""
    return [s for (s,) in db.execute("SELECT source_id FROM tiles WHERE slot >= ?", (slot,))]


def set_next_slot(db: sqlite3.Connection, slot: int) -> None:
    """Where the committed array rows end."""
    db.execute("UPDATE meta SET value = ? WHERE key = 'next_slot'", (str(slot),))


def impossible_tile_rows(db: sqlite3.Connection, next_slot: int) -> list[tuple[int, Any]]:
    """``(tile id, source id)`` of tile rows holding values no writer makes (damage
    SQLite's checks cannot see): no source, a slot outside the committed arrays, an
    empty or non-integer crop box, a malformed pixel hash or source path."""
    return db.execute(
        """SELECT t.id, t.source_id FROM tiles t LEFT JOIN sources s ON s.id = t.source_id
           WHERE s.id IS NULL OR typeof(t.slot) != 'integer' OR t.slot < 0 OR t.slot >= ?
              OR typeof(t.left) != 'integer' OR typeof(t.top) != 'integer'
              OR typeof(t.right) != 'integer' OR typeof(t.bottom) != 'integer'
              OR t.left < 0 OR t.top < 0 OR t.right <= t.left OR t.bottom <= t.top
              OR typeof(t.pixel_hash) != 'blob' OR length(t.pixel_hash) != 16
              OR typeof(s.path) NOT IN ('text', 'blob')""",
        (next_slot,),
    ).fetchall()


def drop_tiles(db: sqlite3.Connection, tile_ids: Sequence[int]) -> None:
    """Delete tile rows; their duplicates stand on their own again."""
    gone = [(t,) for t in tile_ids]
    db.executemany(
        "UPDATE tiles SET duplicate_of = NULL, duplicate_kind = NULL WHERE duplicate_of = ?",
        gone,
    )
    db.executemany("DELETE FROM tiles WHERE id = ?", gone)


def tiles_with_sources(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """``(slot, pixel_hash, source_id, source path, left, top, right, bottom,
    frame_time)`` of every tile, by slot."""
    return db.execute(
        """SELECT t.slot, t.pixel_hash, t.source_id, s.path, t.left, t.top, t.right, t.bottom,
                  t.frame_time
           FROM tiles t JOIN sources s ON s.id = t.source_id ORDER BY t.slot"""
    ).fetchall()


def tile_slots(db: sqlite3.Connection) -> list[int]:
    """The array slot of every tile, ascending."""
    return [s for (s,) in db.execute("SELECT slot FROM tiles ORDER BY slot")]


def dangling_duplicates(db: sqlite3.Connection) -> list[int]:
    """Duplicates whose tile is missing or is itself a duplicate."""
    rows = db.execute(
        """SELECT d.id FROM tiles d LEFT JOIN tiles k ON k.id = d.duplicate_of
           WHERE d.duplicate_of IS NOT NULL AND (k.id IS NULL OR k.duplicate_of IS NOT NULL)"""
    )
    return [t for (t,) in rows]


def release_duplicates(db: sqlite3.Connection, tile_ids: Sequence[int]) -> None:
    """Make these tiles stand on their own (no longer duplicates)."""
    db.executemany(
        "UPDATE tiles SET duplicate_of = NULL, duplicate_kind = NULL WHERE id = ?",
        [(t,) for t in tile_ids],
    )


def empty_sources(db: sqlite3.Connection) -> list[int]:
    """Readable photos that have no tile (a lost tile row)."""
    rows = db.execute(
        """SELECT s.id FROM sources s LEFT JOIN tiles t ON t.source_id = s.id
           WHERE s.status = 'ok' AND s.kind = 'image' AND t.id IS NULL"""
    )
    return [s for (s,) in rows]


def source_files(db: sqlite3.Connection) -> list[tuple[Any, int, int]]:
    """``(path, size, mtime_ns)`` of every source as indexed."""
    return db.execute("SELECT path, size, mtime_ns FROM sources").fetchall()


# --- rebuilding a damaged catalog ------------------------------------------------------


def restore_sources(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert whole ``sources`` rows (all nine columns) salvaged from a damaged catalog,
    leaving out those that break a constraint of the table; how many went in."""
    return _insert_whole_rows(db, "sources", 9, rows)


def restore_tiles(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert whole ``tiles`` rows (all twelve columns) salvaged from a damaged catalog,
    leaving out those that break a constraint of the table; how many went in."""
    return _insert_whole_rows(db, "tiles", 12, rows)


def _insert_whole_rows(
    db: sqlite3.Connection, table: str, columns: int, rows: Sequence[tuple[Any, ...]]
) -> int:
    before = db.total_changes
    marks = ", ".join("?" * columns)
    db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
    return db.total_changes - before


def source_ids(db: sqlite3.Connection) -> list[int]:
    """The id of every source."""
    return [i for (i,) in db.execute("SELECT id FROM sources")]
