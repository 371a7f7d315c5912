"""Type stubs for the Rust extension ``mosaicfast._core``."""

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_GRID",
    "VALUE_MAX",
    "VALUE_MIN",
    "blend_tiles",
    "cell_descriptors",
    "default_threads",
    "optimal_assignment",
    "penalised_greedy",
    "search_kernel",
    "search_topk",
    "ssim_candidates",
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
def ssim_candidates(
    cells: NDArray[np.float32],
    tiles: NDArray[np.float32],
    candidates: NDArray[np.int64],
    *,
    data_range: float,
    win_size: int = 7,
    sigma: float | None = None,
    sample_covariance: bool = True,
    threads: int | None = None,
) -> NDArray[np.float32]: ...
def penalised_greedy(
    cand: NDArray[np.int64],
    cost: NDArray[np.float64],
    order: NDArray[np.int64],
    fixed: NDArray[np.int64],
    n_tiles: int,
    *,
    penalty: float,
    grid: tuple[int, int],
    max_uses: int | None = None,
    min_distance: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
def optimal_assignment(
    cand: NDArray[np.int64], cost: NDArray[np.float64], n_tiles: int, capacity: int
) -> tuple[NDArray[np.int64], float, NDArray[np.float64], NDArray[np.float64], int]: ...
def blend_tiles(
    tiles: NDArray[np.uint8],
    targets: NDArray[np.uint8],
    alpha: float,
    *,
    threads: int | None = None,
) -> NDArray[np.uint8]: ...
def default_threads() -> int: ...
def search_kernel() -> str: ...
