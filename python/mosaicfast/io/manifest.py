"""Writing a mosaic's manifest: for every cell, the tile placed there and where it came from."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MosaicfastError
from ._atomic import atomic_group, atomic_path
from .paths import os_reason
from .sources import TileSource
from .video import format_time

__all__ = [
    "MANIFEST_SUFFIXES",
    "check_grid_fits",
    "check_manifest_path",
    "manifest_beside",
    "manifest_rows",
    "read_assignment",
    "read_cells",
    "read_grid",
    "write_manifest",
]

MANIFEST_SUFFIXES = (".json", ".csv")
FIELDS = (
    "row", "col", "tile", "source", "time", "flipped", "rotation", "left", "top", "right",
    "bottom",
)  # fmt: skip
#: The columns of an adaptive mosaic's manifest: each cell's left, top and side in pixels.
CELL_FIELDS = ("x", "y", "size", *FIELDS[2:])

CellList = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]
"""``(x, y, size)``: left, top and side in output pixels of cells of several sizes."""


def manifest_rows(
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    flipped: NDArray[np.bool_] | None = None,
    cells: CellList | None = None,
    turns: NDArray[np.uint8] | None = None,
) -> Iterator[dict[str, Any]]:
    """One record per cell, row-major: position, tile id, source and crop box.

    ``tile`` is the library's tile id; ``source`` the file, followed by
    ``@HH:MM:SS`` for a tile cut from a video, whose ``time`` (seconds) is given too;
    ``flipped`` says whether the tile is used mirrored, ``rotation`` by how many degrees
    it is then turned counter-clockwise (0, 90, 180 or 270). The position is ``row`` and
    ``col`` on a grid, or with ``cells`` (one per entry of the 1-D ``assignment``)
    ``x``, ``y`` and ``size`` in output pixels.
    """
    tiles = assignment.ravel()
    mirrored = np.zeros(len(tiles), bool) if flipped is None else flipped.ravel()
    degrees = np.zeros(len(tiles), int) if turns is None else 90 * (turns.ravel() % 4).astype(int)
    if cells is None:
        rows, cols = assignment.shape
        where = ({"row": r, "col": c} for r in range(rows) for c in range(cols))
    else:
        where = ({"x": int(x), "y": int(y), "size": int(s)} for x, y, s in zip(*cells, strict=True))
    for i, place in enumerate(where):
        source = sources[int(tiles[i])]
        left, top, right, bottom = source.box
        name = str(source.path)
        if source.time is not None:
            name += "@" + format_time(source.time)
        yield {
            **place,
            "tile": source.tile_id if source.tile_id is not None else int(tiles[i]),
            "source": name,
            "time": source.time,
            "flipped": bool(mirrored[i]),
            "rotation": int(degrees[i]),
            "left": left,
            "top": top,
            "right": right,
            "bottom": bottom,
        }


def check_manifest_path(path: str | Path) -> Path:
    """Check that ``path`` names a manifest format (.json or .csv); return it as a Path."""
    path = Path(path)
    if path.suffix.lower() not in MANIFEST_SUFFIXES:
        raise MosaicfastError(f"{path}: a manifest must end in .json or .csv")
    return path


def read_assignment(path: str | Path) -> NDArray[np.int64]:
    """The ``(rows, cols)`` tile ids of a manifest written by :func:`write_manifest`.

    Raises
    ------
    MosaicfastError
        If the file cannot be read or is not a whole manifest: malformed, a cell
        given twice or missing (a truncated file), or fewer cells than the grid its
        JSON ``meta`` declares.
    """
    return _read_grids(path, _tile)[0]


def read_grid(
    path: str | Path,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.uint8]]:
    """``(assignment, flipped, turns)``: the ``(rows, cols)`` grids of a manifest's tile
    ids (as :func:`read_assignment`), of whether each cell's tile is mirrored and of how
    many quarter turns counter-clockwise it is then turned (its ``flipped`` and
    ``rotation``, see :func:`manifest_rows`), from one reading of the file.

    A cell without ``flipped`` or ``rotation`` (a manifest written before ``rotate`` has
    no ``rotation``) holds its tile as it is.

    Raises
    ------
    MosaicfastError
        As :func:`read_assignment`, and for a ``flipped`` that is not true or false or a
        ``rotation`` that is not 0, 90, 180 or 270.
    """
    tiles, flipped, turns = _read_grids(path, _tile, _flipped, _turns)
    return tiles, flipped.astype(np.bool_), turns.astype(np.uint8)


def _read_grids(path: str | Path, *values: Callable[[Any], int]) -> list[NDArray[np.int64]]:
    """For each function of ``values``, the grid of its value of each cell of the manifest
    ``path`` (checked to cover each cell of the grid once)."""
    path = check_manifest_path(path)
    cells, declared = _manifest_cells(path)
    if cells and isinstance(cells[0], dict) and "size" in cells[0]:
        raise MosaicfastError(
            f"{path}: the manifest of an adaptive mosaic (cells of several sizes) has no grid "
            "of cells; evaluate reads it, the report does not yet"
        )
    try:
        return [_cell_grid(cells, declared, value) for value in values]
    except (ValueError, KeyError, TypeError) as err:
        raise MosaicfastError(f"{path}: not a whole mosaicfast manifest ({err})") from err


def read_cells(
    path: str | Path,
) -> tuple[CellList, NDArray[np.int64], tuple[int, int] | None] | None:
    """The cells ``(x, y, size)`` and tile ids of an adaptive mosaic's manifest, in
    its order, and the ``(rows, cols)`` of the plain grid they came from (declared by
    a JSON manifest's meta, else None); None for the manifest of a grid (see
    :func:`read_assignment`).

    Raises
    ------
    MosaicfastError
        If the file cannot be read, or its cells are malformed, overlap or leave a
        hole in the rectangle they span.
    """
    path = check_manifest_path(path)
    cells, declared = _manifest_cells(path)
    if not (cells and isinstance(cells[0], dict) and "size" in cells[0]):
        return None
    try:
        values = np.array(
            [[_count(c[k], k) for k in ("x", "y", "size", "tile")] for c in cells], np.int64
        )
        x, y, size, tiles = values.T
        if size.min() < 1:
            raise ValueError("a cell of size 0")
        width, height = int((x + size).max()), int((y + size).max())
        covered = np.zeros((height, width), np.int32)
        for left, top, side in zip(x.tolist(), y.tolist(), size.tolist(), strict=True):
            covered[top : top + side, left : left + side] += 1
        if (covered != 1).any():
            raise ValueError("the cells overlap or leave a hole")
    except (ValueError, KeyError, TypeError) as err:
        raise MosaicfastError(f"{path}: not a whole mosaicfast manifest ({err})") from err
    return (x, y, size), tiles, declared


def _manifest_cells(path: Path) -> tuple[list[Any], tuple[int, int] | None]:
    """The cell records of a manifest and the ``(rows, cols)`` its JSON meta declares."""
    import csv  # csv manifests only: not at start-up

    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot read the manifest ({os_reason(err)})") from err
    try:
        if path.suffix.lower() == ".json":
            return _json_cells(text)
        return list(csv.DictReader(text.splitlines())), None
    except (csv.Error, ValueError, KeyError, TypeError, RecursionError) as err:
        raise MosaicfastError(f"{path}: not a whole mosaicfast manifest ({err})") from err


def _json_cells(text: str) -> tuple[list[Any], tuple[int, int] | None]:
    """The cells of a JSON manifest and the ``(rows, cols)`` its meta declares, if any."""
    payload = json.loads(text)
    if not isinstance(payload, dict) or not isinstance(payload.get("cells"), list):
        raise ValueError("no list of cells")
    meta = payload.get("meta")
    if isinstance(meta, dict) and "rows" in meta and "cols" in meta:
        return payload["cells"], (_count(meta["rows"], "rows"), _count(meta["cols"], "cols"))
    return payload["cells"], None


def _cell_grid(
    cells: list[Any], declared: tuple[int, int] | None, value: Callable[[Any], int]
) -> NDArray[np.int64]:
    """The grid of ``value(cell)`` (a whole number) of the cells, checked to cover each
    cell exactly once."""
    placed = [(_count(c["row"], "row"), _count(c["col"], "col"), value(c)) for c in cells]
    if not placed:
        raise ValueError("no cells")
    rows = 1 + max(r for r, _, _ in placed)
    cols = 1 + max(c for _, c, _ in placed)
    if declared is not None:
        if rows > declared[0] or cols > declared[1]:
            raise ValueError(f"a cell lies outside the {declared[0]} x {declared[1]} grid")
        rows, cols = declared
    if rows * cols != len(placed):
        raise ValueError(f"{len(placed):,} cells listed for a grid of {rows} x {cols} cells")
    grid = np.full((rows, cols), -1, np.int64)
    for r, c, number in placed:
        grid[r, c] = number
    if (grid < 0).any():
        raise ValueError("a cell is listed twice and another is missing")
    return grid


def _tile(cell: Any) -> int:
    """A manifest cell's tile id."""
    return _count(cell["tile"], "tile")


def _flipped(cell: Any) -> int:
    """1 if a manifest cell's tile is mirrored (JSON ``true``, CSV ``True``), else 0."""
    value = cell.get("flipped")
    if value is True or value == "True":
        return 1
    if value is None or value is False or value == "False":
        return 0
    raise ValueError(f"flipped {repr(value)[:40]} is not true or false")


def _turns(cell: Any) -> int:
    """The quarter turns of a manifest cell's tile, from its ``rotation`` in degrees."""
    value = cell.get("rotation")
    degrees = 0 if value is None else _count(value, "rotation")
    if degrees not in (0, 90, 180, 270):
        raise ValueError(f"rotation {degrees} is not 0, 90, 180 or 270")
    return degrees // 90


def _count(value: object, name: str) -> int:
    """A whole number >= 0 from JSON (an int) or CSV (its digits)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    raise ValueError(f"{name} {repr(value)[:40]} is not a whole number from 0 to 2**63")


def check_grid_fits(path: str | Path, grid: NDArray[np.int64], size: tuple[int, int]) -> None:
    """Check that a mosaic of ``size`` ``(width, height)`` is the manifest's grid of
    square tiles; MosaicfastError naming ``path`` if not (a partial manifest, or the
    manifest of another mosaic)."""
    rows, cols = grid.shape
    width, height = size
    if width % cols or height % rows or width // cols != height // rows:
        raise MosaicfastError(
            f"{path}: a {width}x{height} mosaic is not a grid of {cols}x{rows} square tiles; "
            "the manifest is partial or belongs to another mosaic"
        )


def write_manifest(
    path: str | Path,
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    *,
    flipped: NDArray[np.bool_] | None = None,
    turns: NDArray[np.uint8] | None = None,
    meta: dict[str, Any] | None = None,
    cells: CellList | None = None,
) -> None:
    """Write the manifest as JSON or CSV, chosen by the file's suffix, atomically.

    JSON holds ``{"meta": ..., "cells": [...]}``; CSV one line per cell with the
    columns of :data:`FIELDS` (:data:`CELL_FIELDS` with ``cells``, see
    :func:`manifest_rows`). A source name that is not UTF-8 keeps its bytes: as
    ``\\udcXX`` escapes in JSON (which JSON readers turn back into the same name),
    as the raw bytes in CSV.

    Raises
    ------
    MosaicfastError
        If the file cannot be written (the reason named; no partial file is left).
    """
    with manifest_beside(
        path, assignment, sources, flipped=flipped, turns=turns, meta=meta, cells=cells
    ):
        pass


@contextmanager
def manifest_beside(
    path: str | Path,
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    *,
    flipped: NDArray[np.bool_] | None = None,
    turns: NDArray[np.uint8] | None = None,
    meta: dict[str, Any] | None = None,
    cells: CellList | None = None,
) -> Iterator[None]:
    """Write the manifest (see :func:`write_manifest`) to a temporary file first, and put
    it in place when the ``with`` block succeeds: a mosaic written in the block and its
    manifest appear together, or neither does."""
    import csv

    path = check_manifest_path(path)
    records = manifest_rows(assignment, sources, flipped, cells, turns)
    try:
        with atomic_group(), atomic_path(path) as tmp:
            if path.suffix.lower() == ".json":
                payload = {"meta": meta or {}, "cells": list(records)}
                tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
            else:
                with tmp.open("w", newline="", encoding="utf-8", errors="surrogateescape") as out:
                    writer = csv.DictWriter(
                        out, fieldnames=FIELDS if cells is None else CELL_FIELDS
                    )
                    writer.writeheader()
                    writer.writerows(records)
            yield
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot write the manifest ({os_reason(err)})") from None
