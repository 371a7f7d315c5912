"""The report's page: the viewer's static files and the data it shows, per cell and whole.

The per-cell data is written as ``data.js``, a script that sets
``window.MOSAIC_REPORT``: browsers refuse ``fetch()`` of local files from a page
opened from disk, but load scripts. It is compact at 100,000 cells: one array
of tile numbers and one of match scores (tenths of a CIEDE2000 unit) in cell
order, one string of a digit per cell, its tile's orientation code (none when no
tile is mirrored or turned), and one table of the distinct tiles used (source,
video time, library id, whether the file is missing), each name stored once. The
page puts every name on screen with ``textContent``, never as HTML.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..io.paths import printable
from ..quality import (
    PIXELS_PER_CELL,
    SSIM_WINDOW,
    Quality,
    ciede2000,
    diversity,
    srgb_to_lab,
    ssim_map,
)

__all__ = [
    "STATIC_FILES",
    "TARGET_SIDE",
    "CellSource",
    "cell_scores",
    "luma_ssim",
    "orientation_digits",
    "quality",
    "report_data",
    "source_columns",
    "write_page",
]

#: The viewer's files, copied from the package into every report.
STATIC_FILES = ("index.html", "viewer.js", "viewer.css")

#: Longest side of the copy of the target shown over the mosaic.
TARGET_SIDE = 2048

#: Pixels per cell side at which match scores are measured (as
#: :func:`mosaicfast.metrics.fidelity` measures the whole mosaic).
SCORE_PIXELS = PIXELS_PER_CELL

#: Rec. 601 luma weights, as :func:`mosaicfast.metrics.fidelity` takes SSIM on.
_LUMA = np.array([0.299, 0.587, 0.114])

#: Reduced pixels scored at a time: bounds the CIEDE2000 and SSIM temporaries (~100 MB).
_SCORE_CHUNK_PIXELS = 500_000


@dataclass(frozen=True)
class CellSource:
    """Where a tile of the report came from.

    Attributes
    ----------
    path : str
        The photo or video file.
    time : float, optional
        For a video frame, its time in seconds.
    tile_id : int, optional
        The tile's id in its library.
    """

    path: str
    time: float | None = None
    tile_id: int | None = None


def cell_scores(
    target: NDArray[np.uint8], mosaic: NDArray[np.uint8], rows: int, cols: int
) -> NDArray[np.float64]:
    """``(rows, cols)`` mean CIEDE2000 between each cell of the target and the mosaic,
    both given reduced to :data:`SCORE_PIXELS` pixels per cell (lower is better)."""
    p = SCORE_PIXELS
    out = np.empty((rows, cols))
    step = max(1, _SCORE_CHUNK_PIXELS // (cols * p * p))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        part = slice(start * p, stop * p)
        diff = ciede2000(srgb_to_lab(target[part]), srgb_to_lab(mosaic[part]))
        out[start:stop] = diff.reshape(stop - start, p, cols, p).mean(axis=(1, 3))
    return out


def quality(
    target: NDArray[np.uint8],
    mosaic: NDArray[np.uint8],
    scores: NDArray[np.float64],
    assignment: NDArray[np.int64],
) -> Quality:
    """The figures of :func:`mosaicfast.metrics.evaluate` from the target and the mosaic
    reduced to :data:`SCORE_PIXELS` per cell and the cells' scores: the mean CIEDE2000
    is the mean of the cells' (all cells have as many pixels), not computed twice."""
    return Quality(luma_ssim(target, mosaic), float(scores.mean()), *diversity(assignment))


def luma_ssim(target: NDArray[np.uint8], mosaic: NDArray[np.uint8]) -> float:
    """:func:`mosaicfast.metrics.ssim` of the luma of two RGB images, computed a band of
    rows at a time so that memory does not grow with the image.

    Each band is taken with the window's half-width of rows above and below, whose
    SSIM values are dropped: the values kept are those of the whole image's map, and
    the mean is over the same pixels (all but the map's border).
    """
    half = SSIM_WINDOW // 2
    height, width = target.shape[:2]
    step = max(1, _SCORE_CHUNK_PIXELS // width)
    total, count = 0.0, 0
    for start in range(half, height - half, step):
        stop = min(start + step, height - half)
        rows = slice(start - half, stop + half)
        kept = ssim_map(target[rows] @ _LUMA, mosaic[rows] @ _LUMA, 255.0)[half:-half, half:-half]
        total += float(kept.sum())
        count += kept.size
    return total / count


def report_data(
    *,
    size: tuple[int, int],
    tile_size: int,
    cells: NDArray[np.int64],
    orientation: NDArray[np.uint8] | None,
    sources: Sequence[CellSource],
    missing: Sequence[bool],
    scores: NDArray[np.float64],
    quality: dict[str, Any],
    options: dict[str, Any],
    timings: dict[str, float],
    title: str,
) -> dict[str, Any]:
    """Everything the page shows, as plain JSON values.

    ``cells`` is the ``(rows, cols)`` grid of indices into ``sources`` (the distinct
    tiles used), ``orientation`` the grid of the orientation codes of the cells' tiles
    (:mod:`~mosaicfast.kernels.orientation`; None: all as they are), ``missing`` flags
    the sources whose files are gone.
    """
    rows, cols = cells.shape
    return {
        "title": printable(title),
        "width": size[0],
        "height": size[1],
        "rows": rows,
        "cols": cols,
        "tileSize": tile_size,
        "cells": cells.ravel().tolist(),
        "orientation": orientation_digits(orientation),
        "scores": np.rint(scores.ravel() * 10).astype(np.int64).tolist(),
        "sources": source_columns(sources, missing),
        "quality": quality,
        "options": {key: _plain(value) for key, value in options.items()},
        "timings": {key: round(value, 3) for key, value in timings.items()},
    }


def orientation_digits(codes: NDArray[np.uint8] | None) -> str | None:
    """The orientation codes (0 to 7) of the cells as a string of one digit per cell, in
    cell order; None when no tile is mirrored or turned."""
    if codes is None or not codes.any():
        return None
    return (codes.ravel() + ord("0")).astype(np.uint8).tobytes().decode("ascii")


def source_columns(sources: Sequence[CellSource], missing: Sequence[bool]) -> dict[str, Any]:
    """The distinct tiles as columns: each folder named once in ``folders``, and per
    tile the index of its folder, its file name, video time (the column is None when
    no tile is a video frame) and library id; then the indices of the tiles whose
    files are missing."""
    folders: dict[str, int] = {}
    folder, name = [], []
    for source in sources:
        head, _, tail = printable(source.path).rpartition("/")
        head = head or ("/" if source.path.startswith("/") else ".")
        folder.append(folders.setdefault(head, len(folders)))
        name.append(tail)
    return {
        "folders": list(folders),
        "folder": folder,
        "name": name,
        "time": [s.time for s in sources] if any(s.time is not None for s in sources) else None,
        "tileId": [s.tile_id for s in sources],
        "missing": [i for i, gone in enumerate(missing) if gone],
    }


def _plain(value: Any) -> Any:
    """An option's value as JSON: names and paths as printable text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return printable(str(value))


def write_page(
    folder: Path, data: dict[str, Any], target: Image.Image, dzi: dict[str, Any]
) -> None:
    """Write the viewer (``index.html`` and its script and style), ``data.js`` and
    ``target.jpg`` into ``folder``."""
    static = resources.files(__package__).joinpath("static")
    for name in STATIC_FILES:
        with resources.as_file(static.joinpath(name)) as source:
            shutil.copyfile(source, folder / name)
    payload = json.dumps({**data, "dzi": dzi}, ensure_ascii=True, separators=(",", ":"))
    (folder / "data.js").write_text(f"window.MOSAIC_REPORT = {payload};\n", encoding="ascii")
    shown = target.convert("RGB")
    shown.thumbnail((TARGET_SIDE, TARGET_SIDE), Image.Resampling.LANCZOS)
    shown.save(folder / "target.jpg", format="JPEG", quality=85)
