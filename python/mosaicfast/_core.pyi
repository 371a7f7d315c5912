"""Type stubs for the Rust extension ``mosaicfast._core``."""

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_GRID",
    "VALUE_MAX",
    "VALUE_MIN",
    "cell_descriptors",
    "default_threads",
    "search_kernel",
    "search_topk",
    "tile_descriptors",
]

MAX_GRID: int
VALUE_MIN: int
VALUE_MAX: int

def tile_descriptors(
    tiles: NDArray[np.uint8], grid: int, *, threads: int | None = None
) -> NDArray[np.int16]: ...
def cell_descriptors(
    image: NDArray[np.uint8], rows: int, cols: int, grid: int, *, threads: int | None = None
) -> NDArray[np.int16]: ...
def search_topk(
    cells: NDArray[np.int16], tiles: NDArray[np.int16], k: int, *, threads: int | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
def default_threads() -> int: ...
def search_kernel() -> str: ...
