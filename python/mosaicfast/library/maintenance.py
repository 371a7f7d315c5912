"""``mosaicfast library info`` and ``library verify``: what a library holds, and whether
it is consistent (and, with ``repair``, making it so)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from ..io.paths import from_catalog
from ..io.sources import TileSource
from . import catalog
from .dedupe import pixel_hashes
from .salvage import rebuild_catalog
from .store import CATALOG, THUMBS, DescriptorKind, Library, LibraryError

__all__ = ["LibraryInfo", "Problem", "library_info", "verify_library"]

_CHUNK = 4096


@dataclass
class LibraryInfo:
    """Counts and sizes of a library."""

    path: Path
    thumb_size: int
    descriptors: tuple[DescriptorKind, ...]
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
            f"thumbnails:  {self.thumb_size} x {self.thumb_size} px; descriptors "
            + ", ".join(map(str, self.descriptors)),
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
        kinds = Counter(lib.read(catalog.source_counts))
        unreadable = lib.read(catalog.unreadable_sources)
        counts = lib.read(catalog.tile_counts)
        return LibraryInfo(
            path=lib.path,
            thumb_size=lib.thumb_size,
            descriptors=lib.descriptor_kinds,
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

    Checks: the catalog (SQLite's integrity check, its settings, every tile row's
    values); every array holds the committed slots (a longer tail is what a killed
    writer leaves; a shorter one, or a missing file, is damage); every thumbnail
    hashes to the pixel hash stored when it was indexed; stored descriptors equal
    those recomputed from the thumbnails; duplicates point at a tile in use; every
    readable source has a tile.

    Repair rebuilds a damaged catalog from the rows that can be read
    (:func:`~mosaicfast.library.salvage.rebuild_catalog`), truncates tails, re-reads damaged
    thumbnails from their photos when those still give the stored pixels, removes
    the tiles that cannot be recovered with their sources (so the next
    ``mosaicfast index`` reads those files again), recomputes descriptors and
    re-points duplicates. It then verifies again: anything still wrong is returned
    as a problem not repaired.

    Returns
    -------
    problems : list of Problem
        What is wrong (and whether it was repaired).
    notes : list of str
        Facts that are not problems, e.g. sources changed on disk since indexing.

    Raises
    ------
    LibraryError
        If there is no library at ``path``, or (with ``repair``) its catalog cannot be
        rebuilt, saying what to do.
    """
    path = Path(path)
    if not (path / CATALOG).is_file():
        raise LibraryError(f"{path}: no mosaicfast library here (no {CATALOG})")
    findings = _Findings()
    damage = _catalog_damage(path)
    if damage is not None:
        if not repair:
            findings.problem(f"the catalog is damaged ({damage})", repaired=False)
            return findings.problems, findings.notes
        kept = rebuild_catalog(path)
        with Library.open(path) as lib:
            roots = lib.roots()
        todo = (
            "the next `mosaicfast index` reads the files whose tiles were lost again"
            if roots
            else f"the indexed folders are not known any more: run `mosaicfast index "
            f"SOURCE... --library {path}` with them"
        )
        findings.problem(
            f"the catalog was damaged ({damage}); rebuilt from what could be read: "
            f"{kept.summary()}; {todo}",
            repaired=True,
        )
    _check_library(path, findings, repair)
    if repair and findings.problems:
        again = _Findings()
        _check_library(path, again, repair=False)
        for problem in again.problems:
            findings.problem(f"still wrong after repair: {problem.message}", repaired=False)
    return findings.problems, findings.notes


def _catalog_damage(path: Path) -> str | None:
    """What SQLite or the settings say is wrong with the catalog, or None if it is sound."""
    try:
        with Library.open(path) as lib:
            problems = lib.read(catalog.integrity_problems)
            if problems:
                return "; ".join(problems)
    except LibraryError as err:
        if "format version" in str(err):
            raise
        return str(err.__cause__ or err)
    return None


def _check_library(path: Path, findings: _Findings, repair: bool) -> None:
    with Library.open(path) as lib:
        _check_uncommitted_tails(lib, findings, repair)
    with Library.open(path, write=repair) as lib:
        if repair:
            _drop_partial_arrays(lib, findings)
        # The pixel and descriptor checks read every tile's rows: only once they exist.
        if _check_thumbnail_length(lib, findings, repair) and _check_tile_rows(
            lib, findings, repair
        ):
            _check_pixels(lib, findings, repair)
            _check_descriptors(lib, findings, repair)
        _check_duplicates(lib, findings, repair)
        _check_sources(lib, findings, repair)


def _drop_partial_arrays(lib: Library, findings: _Findings) -> None:
    """Remove what an interrupted upgrade computed: the next ``index`` would go on from
    it, but a repair may rewrite the thumbnails it was computed from."""
    partial = lib.partial_arrays()
    for file in partial:
        file.unlink()
    if partial:
        findings.notes.append(
            f"{len(partial)} partly computed descriptor arrays of an interrupted upgrade "
            "removed; the next `mosaicfast index` computes them again"
        )


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


def _check_thumbnail_length(lib: Library, findings: _Findings, repair: bool) -> bool:
    """Thumbnails missing at the end (a truncated or deleted file): their tiles are lost;
    repair takes them out and ends the committed slots where the file ends. Whether
    every committed slot now has its thumbnail."""
    committed = lib.next_slot()
    rows, _ = _array_rows(lib, THUMBS)
    if rows >= committed:
        return True
    damaged = lib.read(catalog.sources_from_slot, rows)
    findings.problem(
        f"{THUMBS}: cut short or deleted, {committed - rows:,} committed slots missing; "
        f"{len(damaged):,} tiles lost their thumbnails"
        + ("; the next `mosaicfast index` reads their files again" if repair else ""),
        repaired=repair,
    )
    if repair:
        with lib.transaction() as db:
            catalog.remove_sources(db, sorted(set(damaged)))
            catalog.set_next_slot(db, rows)
        lib.cut_uncommitted_tail()
    return repair


def _check_tile_rows(lib: Library, findings: _Findings, repair: bool) -> bool:
    """Tile rows with values no writer makes (damage SQLite's checks cannot see); whether
    none is left."""
    bad = lib.read(catalog.impossible_tile_rows, lib.next_slot())
    if not bad:
        return True
    findings.problem(f"{len(bad):,} tile rows hold impossible values", repaired=repair)
    if repair:
        with lib.transaction() as db:
            catalog.remove_sources(db, sorted({s for _, s in bad if isinstance(s, int)}))
            # Their duplicates (rows of sound sources) stand on their own again.
            catalog.drop_tiles(db, [t for t, _ in bad])
    return repair


def _check_pixels(lib: Library, findings: _Findings, repair: bool) -> None:
    """Every thumbnail against the pixel hash stored when it was indexed (damaged bytes,
    swapped slots). Repair reads the photo again where it still gives those pixels."""
    rows = lib.read(catalog.tiles_with_sources)
    slots = np.array([r[0] for r in rows], np.int64)
    wrong = []
    for start in range(0, len(rows), _CHUNK):
        hashes = pixel_hashes(lib.thumbnails(slots[start : start + _CHUNK]))
        wrong += [
            row for row, h in zip(rows[start : start + _CHUNK], hashes, strict=True) if h != row[1]
        ]
    if not wrong:
        return
    message = f"{len(wrong):,} thumbnails do not match their pixel hash (damaged or swapped)"
    if not repair:
        findings.problem(message, repaired=False)
        return
    lost = set()
    for slot, stored, source, path, left, top, right, bottom, time in wrong:
        tile = TileSource(Path(from_catalog(path)), (left, top, right, bottom), time=time)
        try:
            pixels = tile.load(lib.thumb_size)
        except (ImageReadError, ValueError):
            pixels = None
        if pixels is not None and pixel_hashes(pixels[None])[0] == stored:
            lib.overwrite_rows(THUMBS, slot, pixels[None])
        else:
            lost.add(source)
    if lost:
        with lib.transaction() as db:
            catalog.remove_sources(db, sorted(lost))
    outcome = f"{len(wrong) - len(lost):,} read again from their photos"
    if lost:
        outcome += (
            f"; the tiles of {len(lost):,} sources that no longer give them taken out "
            "(the next `mosaicfast index` reads those files again)"
        )
    findings.problem(f"{message}: {outcome}", repaired=True)


def _check_descriptors(lib: Library, findings: _Findings, repair: bool) -> None:
    slots = np.array(lib.read(catalog.tile_slots), dtype=np.int64)
    committed = lib.next_slot()
    for kind in lib.descriptor_kinds:
        rows, _ = _array_rows(lib, kind.file)
        if rows < committed:
            findings.problem(f"{kind.file}: {committed - rows:,} committed rows missing", repair)
        else:
            bad = 0
            for start, fresh in lib.described_chunks(kind, slots):
                stored = lib.read_rows(kind.file, slots[start : start + len(fresh)])
                bad += int((stored != fresh).any(axis=1).sum())
            if not bad:
                continue
            findings.problem(
                f"{kind.file}: {bad:,} descriptors do not match their thumbnails", repair
            )
        if repair:
            lib.write_descriptor_array(kind)


def _check_duplicates(lib: Library, findings: _Findings, repair: bool) -> None:
    dangling = lib.read(catalog.dangling_duplicates)
    if dangling:
        findings.problem(f"{len(dangling):,} duplicates point at no tile in use", repair)
        if repair:
            with lib.transaction() as db:
                catalog.release_duplicates(db, dangling)


def _check_sources(lib: Library, findings: _Findings, repair: bool) -> None:
    empty = lib.read(catalog.empty_sources)
    if empty:
        findings.problem(f"{len(empty):,} readable sources have no tile", repair)
        if repair:
            with lib.transaction() as db:
                catalog.remove_sources(db, empty)
    changed = 0
    for path, size, mtime_ns in lib.read(catalog.source_files):
        try:
            st = os.stat(from_catalog(path))
        except (OSError, ValueError, TypeError):  # gone, or a damaged name
            changed += 1
            continue
        changed += (st.st_size, st.st_mtime_ns) != (size, mtime_ns)
    if changed:
        findings.notes.append(
            f"{changed:,} sources are missing or changed on disk since they were indexed; "
            "run `mosaicfast index` to update the library"
        )
