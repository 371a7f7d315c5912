"""``mosaicfast library info`` and ``library verify``: what a library holds, and whether
it is consistent (and, with ``repair``, making it so)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .descriptors import tile_descriptors
from .indexer import remove_sources
from .library import THUMBS, Library, LibraryError
from .paths import from_catalog

__all__ = ["LibraryInfo", "Problem", "library_info", "verify_library"]

_CHUNK = 4096


@dataclass
class LibraryInfo:
    """Counts and sizes of a library."""

    path: Path
    thumb_size: int
    grids: tuple[int, ...]
    sources: dict[str, int]
    unreadable: list[tuple[str, str]]
    tiles: int
    in_use: int
    exact_duplicates: int
    near_duplicates: int
    disk_bytes: int
    roots: list[str]

    def lines(self, *, max_unreadable: int = 20) -> list[str]:
        """The report, one line a fact."""
        per_tile = self.disk_bytes / self.tiles if self.tiles else 0
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.sources.items())) or "none"
        lines = [
            f"library:     {self.path}",
            f"sources:     {kinds}; {len(self.unreadable):,} unreadable",
            f"tiles:       {self.tiles:,} ({self.in_use:,} in use, {self.exact_duplicates:,} "
            f"exact and {self.near_duplicates:,} near duplicates set aside)",
            f"thumbnails:  {self.thumb_size} x {self.thumb_size} px; descriptors at grid "
            + ", ".join(map(str, self.grids)),
            f"disk:        {self.disk_bytes / 1e6:,.1f} MB ({per_tile / 1e3:.1f} kB per tile)",
            "roots:       " + (", ".join(self.roots) or "none"),
        ]
        for path, reason in self.unreadable[:max_unreadable]:
            lines.append(f"unreadable:  {path}: {reason}")
        if len(self.unreadable) > max_unreadable:
            lines.append(f"unreadable:  ... and {len(self.unreadable) - max_unreadable:,} more")
        return lines


def library_info(path: str | Path) -> LibraryInfo:
    """Read the counts of the library at ``path`` (while a writer may be running)."""
    with Library.open(path) as lib:
        kinds = Counter(
            dict(
                lib.query(
                    "SELECT CASE status WHEN 'partial' THEN kind || ' (unfinished)' ELSE kind END,"
                    " COUNT(*) FROM sources WHERE status != 'error' GROUP BY 1"
                )
            )
        )
        unreadable = lib.query(
            "SELECT path, error FROM sources WHERE error IS NOT NULL ORDER BY path"
        )
        counts = dict(
            lib.query(
                "SELECT COALESCE(duplicate_kind, 'in use'), COUNT(*) FROM tiles "
                "GROUP BY duplicate_kind"
            )
        )
        return LibraryInfo(
            path=lib.path,
            thumb_size=lib.thumb_size,
            grids=lib.grids,
            sources=dict(kinds),
            unreadable=[(from_catalog(p), str(e)) for p, e in unreadable],
            tiles=sum(counts.values()),
            in_use=counts.get("in use", 0),
            exact_duplicates=counts.get("exact", 0),
            near_duplicates=counts.get("near", 0),
            disk_bytes=lib.disk_bytes(),
            roots=lib.roots(),
        )


@dataclass
class Problem:
    """One inconsistency found by :func:`verify_library`."""

    message: str
    repaired: bool = False


@dataclass
class _Findings:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, message: str, repaired: bool) -> None:
        self.problems.append(Problem(message, repaired))


def verify_library(path: str | Path, *, repair: bool = False) -> tuple[list[Problem], list[str]]:
    """Check the library at ``path``; with ``repair``, fix what can be fixed.

    Checks: SQLite's own integrity check; every array holds the committed slots
    (a longer tail is what a killed writer leaves; a shorter one is damage);
    every tile's slot is committed; stored descriptors equal those recomputed
    from the thumbnails; duplicates point at a tile in use; every readable source
    has a tile. Repair truncates tails, recomputes descriptors, re-points
    duplicates, and removes damaged tiles with their sources, so the next
    ``mosaicfast index`` reads those files again.

    Returns
    -------
    problems : list of Problem
        What is wrong (and whether it was repaired).
    notes : list of str
        Facts that are not problems, e.g. sources changed on disk since indexing.
    """
    findings = _Findings()
    with Library.open(path) as lib:
        _check_uncommitted_tails(lib, findings, repair)
    with Library.open(path, write=repair) as lib:
        _check_sqlite(lib, findings)
        _check_array_lengths(lib, findings, repair)
        _check_descriptors(lib, findings, repair)
        _check_duplicates(lib, findings, repair)
        _check_sources(lib, findings, repair)
    return findings.problems, findings.notes


def _check_sqlite(lib: Library, findings: _Findings) -> None:
    result = lib.query("PRAGMA integrity_check")
    if result != [("ok",)]:
        findings.problem(f"catalog integrity check failed: {result[:3]}", repaired=False)


def _array_rows(lib: Library, name: str) -> tuple[int, int]:
    """Whole rows in an array file, and its size in bytes."""
    file = lib.array_path(name)
    size = file.stat().st_size if file.exists() else 0
    return size // lib.row_bytes(name), size


def _check_uncommitted_tails(lib: Library, findings: _Findings, repair: bool) -> None:
    """Rows past the committed slots: what a killed writer leaves (a writer cuts them)."""
    committed = lib.next_slot()
    for name in lib.array_files():
        extra = _array_rows(lib, name)[1] - committed * lib.row_bytes(name)
        if extra > 0:
            findings.problem(
                f"{name}: {extra:,} bytes past the committed slots (left by an interrupted writer)",
                repaired=repair,
            )


def _check_array_lengths(lib: Library, findings: _Findings, repair: bool) -> None:
    committed = lib.next_slot()
    for name in lib.array_files():
        rows, _ = _array_rows(lib, name)
        if rows < committed and name == THUMBS:
            damaged = lib.query("SELECT source_id FROM tiles WHERE slot >= ?", (rows,))
            if repair:
                with lib.transaction() as db:
                    remove_sources(db, sorted({s for (s,) in damaged}))
            findings.problem(
                f"{name}: {committed - rows:,} committed slots are missing; "
                f"{len(damaged):,} tiles lost their thumbnails",
                repaired=repair,
            )
        elif rows < committed:
            findings.problem(f"{name}: {committed - rows:,} committed rows missing", repair)
            if repair:
                _rewrite_descriptors(lib, name)
    stray = lib.query("SELECT COUNT(*) FROM tiles WHERE slot >= ?", (committed,))[0][0]
    if stray:
        findings.problem(f"{stray:,} tiles point past the committed slots", repaired=False)


def _check_descriptors(lib: Library, findings: _Findings, repair: bool) -> None:
    slots = np.array(
        [s for (s,) in lib.query("SELECT slot FROM tiles ORDER BY slot")], dtype=np.int64
    )
    for grid in lib.grids:
        name = Library.descriptor_file(grid)
        bad = 0
        try:
            for start in range(0, len(slots), _CHUNK):
                chunk = slots[start : start + _CHUNK]
                stored = lib.read_rows(name, chunk)
                fresh = tile_descriptors(lib.thumbnails(chunk), grid)
                bad += int((stored != fresh).any(axis=1).sum())
        except LibraryError as err:
            findings.problem(f"{name}: cannot be compared with the thumbnails ({err})", False)
            continue
        if bad:
            findings.problem(f"{name}: {bad:,} descriptors do not match their thumbnails", repair)
            if repair:
                _rewrite_descriptors(lib, name)


def _rewrite_descriptors(lib: Library, name: str) -> None:
    """Recompute a descriptor array from the thumbnails, for every committed slot."""
    grid = int(name.removeprefix("desc-g").removesuffix(".i16"))
    rows = np.zeros((lib.next_slot(), 3 * grid * grid), np.int16)
    slots = np.array([s for (s,) in lib.query("SELECT slot FROM tiles ORDER BY slot")], np.int64)
    for start in range(0, len(slots), _CHUNK):
        chunk = slots[start : start + _CHUNK]
        rows[chunk] = tile_descriptors(lib.thumbnails(chunk), grid)
    with open(lib.array_path(name), "wb") as handle:
        handle.write(rows.tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def _check_duplicates(lib: Library, findings: _Findings, repair: bool) -> None:
    dangling = lib.query(
        """SELECT d.id FROM tiles d LEFT JOIN tiles k ON k.id = d.duplicate_of
           WHERE d.duplicate_of IS NOT NULL AND (k.id IS NULL OR k.duplicate_of IS NOT NULL)"""
    )
    if dangling:
        findings.problem(f"{len(dangling):,} duplicates point at no tile in use", repair)
        if repair:
            with lib.transaction() as db:
                db.executemany(
                    "UPDATE tiles SET duplicate_of = NULL, duplicate_kind = NULL WHERE id = ?",
                    dangling,
                )


def _check_sources(lib: Library, findings: _Findings, repair: bool) -> None:
    empty = lib.query(
        """SELECT s.id FROM sources s LEFT JOIN tiles t ON t.source_id = s.id
           WHERE s.status = 'ok' AND s.kind = 'image' AND t.id IS NULL"""
    )
    if empty:
        findings.problem(f"{len(empty):,} readable sources have no tile", repair)
        if repair:
            with lib.transaction() as db:
                remove_sources(db, [s for (s,) in empty])
    changed = 0
    for path, size, mtime_ns in lib.query("SELECT path, size, mtime_ns FROM sources"):
        try:
            st = os.stat(from_catalog(path))
        except OSError:
            changed += 1
            continue
        changed += (st.st_size, st.st_mtime_ns) != (size, mtime_ns)
    if changed:
        findings.notes.append(
            f"{changed:,} sources are missing or changed on disk since they were indexed; "
            "run `mosaicfast index` to update the library"
        )
