"""Writing a mosaic's manifest: for every cell, the tile placed there and where it came from."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import MosaicfastError
from .output import atomic_path
from .tiles import TileSource
from .video import format_time

__all__ = [
    "MANIFEST_SUFFIXES",
    "check_manifest_path",
    "manifest_rows",
    "read_assignment",
    "write_manifest",
]

MANIFEST_SUFFIXES = (".json", ".csv")
FIELDS = ("row", "col", "tile", "source", "time", "flipped", "left", "top", "right", "bottom")


def manifest_rows(
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    flipped: NDArray[np.bool_] | None = None,
) -> Iterator[dict[str, Any]]:
    """One record per cell, row-major: position, tile id, source and crop box.

    ``tile`` is the library's tile id; ``source`` the file, followed by
    ``@HH:MM:SS`` for a tile cut from a video, whose ``time`` (seconds) is given too;
    ``flipped`` says whether the tile is used mirrored.
    """
    rows, cols = assignment.shape
    for r in range(rows):
        for c in range(cols):
            source = sources[int(assignment[r, c])]
            left, top, right, bottom = source.box
            where = str(source.path)
            if source.time is not None:
                where += "@" + format_time(source.time)
            yield {
                "row": r,
                "col": c,
                "tile": source.tile_id if source.tile_id is not None else int(assignment[r, c]),
                "source": where,
                "time": source.time,
                "flipped": bool(flipped[r, c]) if flipped is not None else False,
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
    """The ``(rows, cols)`` tile ids of a manifest written by :func:`write_manifest`."""
    path = check_manifest_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            cells = json.loads(text)["cells"]
        else:
            cells = list(csv.DictReader(text.splitlines()))
        rows = 1 + max(int(c["row"]) for c in cells)
        cols = 1 + max(int(c["col"]) for c in cells)
        grid = np.full((rows, cols), -1, np.int64)
        for cell in cells:
            grid[int(cell["row"]), int(cell["col"])] = int(cell["tile"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MosaicfastError(f"{path}: not a mosaicfast manifest ({err})") from err
    if (grid < 0).any():
        raise MosaicfastError(f"{path}: the manifest does not cover every cell of its grid")
    return grid


def write_manifest(
    path: str | Path,
    assignment: NDArray[np.int64],
    sources: Sequence[TileSource],
    *,
    flipped: NDArray[np.bool_] | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write the manifest as JSON or CSV, chosen by the file's suffix.

    JSON holds ``{"meta": ..., "cells": [...]}``; CSV one line per cell with the
    columns ``row, col, tile, source, left, top, right, bottom``.
    """
    path = check_manifest_path(path)
    suffix = path.suffix.lower()
    records = manifest_rows(assignment, sources, flipped)
    with atomic_path(path) as tmp:
        if suffix == ".json":
            payload = {"meta": meta or {}, "cells": list(records)}
            tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        else:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=FIELDS)
                writer.writeheader()
                writer.writerows(records)
