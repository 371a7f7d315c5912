"""Type stubs for the Rust extension ``mosaicfast._core``."""

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BUILD_PROFILE",
    "KERNEL_VAR",
    "MAX_GRID",
    "MAX_THREADS",
    "VALUE_MAX",
    "VALUE_MIN",
    "VERSION",
    "blend_tiles",
    "box_downsample",
    "cell_descriptors",
    "check_threads",
    "default_threads",
    "enlarged_cell_descriptors",
    "improve_assignment",
    "luma_spread",
    "optimal_assignment",
    "optimal_certified",
    "paint_band",
    "penalised_greedy",
    "perceptual_hashes",
    "probe_leaves",
    "rank_candidates",
    "release_free_memory",
    "resize",
    "search_kernel",
    "search_kernels",
    "search_leaves",
    "search_topk",
    "ssim_candidates",
    "tile_descriptors",
]

BUILD_PROFILE: str
KERNEL_VAR: str
MAX_GRID: int
MAX_THREADS: int
VALUE_MIN: int
VALUE_MAX: int
VERSION: str

def tile_descriptors(
    tiles: NDArray[np.uint8], grid: int, *, space: str = "lab", threads: int | None = None
) -> NDArray[np.int16]: ...
def luma_spread(tiles: NDArray[np.uint8], *, threads: int | None = None) -> NDArray[np.float32]: ...
def cell_descriptors(
    image: NDArray[np.uint8],
    rows: int,
    cols: int,
    grid: int,
    *,
    space: str = "lab",
    threads: int | None = None,
) -> NDArray[np.int16]: ...
def enlarged_cell_descriptors(
    image: NDArray[np.uint8],
    width: int,
    height: int,
    rows: int,
    cols: int,
    grid: int,
    *,
    space: str = "lab",
    threads: int | None = None,
) -> NDArray[np.int16] | None: ...
def search_topk(
    cells: NDArray[np.int16],
    tiles: NDArray[np.int16],
    k: int,
    *,
    offsets: NDArray[np.int64] | None = None,
    scale: int = 1,
    threads: int | None = None,
    kernel: str | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
def box_downsample(
    images: NDArray[np.uint8], factor: int, *, threads: int | None = None
) -> NDArray[np.uint8]: ...
def perceptual_hashes(
    thumbs: NDArray[np.uint8], *, threads: int | None = None
) -> NDArray[np.uint64]: ...
def probe_leaves(
    points: NDArray[np.float32],
    lower: NDArray[np.float32],
    upper: NDArray[np.float32],
    counts: NDArray[np.int64],
    shortlist: int,
    *,
    threads: int | None = None,
) -> NDArray[np.int64]: ...
def search_leaves(
    cells: NDArray[np.int16],
    tiles: NDArray[np.int16],
    starts: NDArray[np.int64],
    ids: NDArray[np.int64],
    probes: NDArray[np.int64],
    k: int,
    *,
    threads: int | None = None,
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
    shape: tuple[int, int],
    max_uses: int | None = None,
    min_distance: int = 0,
    weights: NDArray[np.uint32] | None = None,
    neighbours: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
def improve_assignment(
    cand: NDArray[np.int64],
    cost: NDArray[np.float64],
    assignment: NDArray[np.int64],
    n_tiles: int,
    *,
    penalty: float,
    shape: tuple[int, int],
    max_uses: int | None = None,
    min_distance: int = 0,
    weights: NDArray[np.uint32] | None = None,
    neighbours: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    max_passes: int,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], dict[str, Any]]: ...
def rank_candidates(
    entries: NDArray[np.int64],
    scores: NDArray[np.float64],
    distances: NDArray[np.int64],
    n_tiles: int,
    *,
    orientations: int,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.float64], NDArray[np.int64]]: ...
def optimal_assignment(
    cand: NDArray[np.int64], cost: NDArray[np.float64], n_tiles: int, capacity: int
) -> tuple[NDArray[np.int64], float, NDArray[np.float64], NDArray[np.float64], int]: ...
def optimal_certified(
    cells: NDArray[np.int16],
    tiles: NDArray[np.int16],
    capacity: int,
    *,
    orientations: int = 1,
    progress: Callable[[dict[str, Any]], object] | None = None,
    threads: int | None = None,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.uint8],
    NDArray[np.int64],
    int,
    NDArray[np.int64],
    NDArray[np.int64],
    dict[str, Any],
]: ...
def blend_tiles(
    tiles: NDArray[np.uint8],
    targets: NDArray[np.uint8],
    alpha: float,
    *,
    threads: int | None = None,
) -> NDArray[np.uint8]: ...
def paint_band(
    tiles: NDArray[np.uint8],
    index: NDArray[np.int64],
    out: NDArray[np.uint8],
    *,
    orientation: NDArray[np.uint8] | None = None,
    under: NDArray[np.uint8] | None = None,
    blend: float = 0.0,
    overlay: float = 0.0,
    threads: int | None = None,
) -> None: ...
def resize(
    images: NDArray[np.uint8],
    width: int,
    height: int,
    *,
    filter: str = "lanczos",
    row_start: int = 0,
    row_stop: int | None = None,
    pillow13: bool = True,
    threads: int | None = None,
) -> NDArray[np.uint8]: ...
def check_threads(threads: int) -> None: ...
def default_threads() -> int: ...
def release_free_memory() -> None: ...
def search_kernel() -> str: ...
def search_kernels() -> list[str]: ...
