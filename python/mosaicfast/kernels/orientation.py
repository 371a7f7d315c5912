"""Orientations of a tile: the eight ways a square can be laid (mirror images and
quarter turns), as one ``uint8`` code the core's painting reads.

Code ``c`` (0 to 7): the tile mirrored left to right if bit 0 is set, then turned
``c >> 1`` quarter turns counter-clockwise, as ``np.rot90(np.fliplr(a) if c & 1 else a,
c >> 1)``. Code 0 is the tile as it is, 1 its mirror image.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["QUARTER_TURNS", "code", "orient", "searched", "split"]

#: Ways a square can be turned by quarter turns (0 to 3 of them).
QUARTER_TURNS = 4


def code(flipped: ArrayLike | None, turns: ArrayLike | None) -> NDArray[np.uint8] | None:
    """The codes of tiles mirrored (``flipped``) and then turned ``turns`` quarter turns
    counter-clockwise (either may be None: none is); None when both are."""
    if flipped is None and turns is None:
        return None
    mirror = np.zeros((), np.uint8) if flipped is None else np.asarray(flipped, np.uint8)
    quarter = np.zeros((), np.uint8) if turns is None else np.asarray(turns, np.uint8) % 4
    return np.ascontiguousarray(mirror | quarter << 1, dtype=np.uint8)


def searched(mirror: bool, turn: bool) -> tuple[int, ...]:
    """The codes a search lays each tile in, in the order of its blocks of entries:
    upright, then (with ``mirror``) mirrored, each then (with ``turn``) turned once,
    twice and three times."""
    mirrors = (0, 1) if mirror else (0,)
    turns = range(QUARTER_TURNS) if turn else range(1)
    return tuple(m | t << 1 for t in turns for m in mirrors)


def split(codes: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]:
    """``(flipped, turns)`` of orientation codes."""
    values = np.asarray(codes, np.uint8)
    return (values & 1).astype(np.bool_), (values >> 1).astype(np.uint8)


def orient(stack: NDArray, orientation: int) -> NDArray:
    """``stack`` ``(n, h, w, ...)`` of square images (or grids of them) in orientation
    ``orientation``: a view."""
    if orientation & 1:
        stack = stack[:, :, ::-1]
    return np.rot90(stack, orientation >> 1, axes=(1, 2))
