"""The core usable on its own: arrays in, arrays out, the heavy work in the Rust core.

Each function normalises its inputs (dtype, layout), checks them and runs in the Rust
extension with the GIL released, on ``threads`` threads (one per core by default);
results never depend on the thread count. Nothing here reads or writes files.

- :mod:`~mosaicfast.kernels.descriptors`: colour-grid descriptors of tiles and cells, and
  the exact top-k search (``docs/descriptors.md``).
- :mod:`~mosaicfast.kernels.candidates`: the pruned search over a KD-tree of the
  descriptors (``docs/pruning.md``).
- :mod:`~mosaicfast.kernels.ssim`: windowed SSIM of cells against candidate tiles.
- :mod:`~mosaicfast.kernels.assign`: the penalised greedy and its local improvement, the
  optimal assignment over candidate lists and the certified optimum over every cell and
  tile.
- :mod:`~mosaicfast.kernels.blend`, :mod:`~mosaicfast.kernels.paint`: colour transfer
  and painting a band of cells.
- :mod:`~mosaicfast.kernels.resample`: Pillow's Lanczos and box filters, bit for bit.
"""

from .._core import (
    BUILD_PROFILE,
    KERNEL_VAR,
    VERSION,
    release_free_memory,
    search_kernel,
    search_kernels,
)
from ._checks import MAX_THREADS, check_threads
from .assign import (
    certified_optimum,
    hardest_first,
    improve_assignment,
    optimal_assignment,
    penalised_greedy,
)
from .blend import blend_tiles
from .candidates import CandidateIndex
from .descriptors import cell_descriptors, search_topk, tile_descriptors
from .paint import paint_band
from .resample import box_downsample, resize_image, resize_tiles
from .ssim import candidate_ssim, luminance

__all__ = [
    "BUILD_PROFILE",
    "KERNEL_VAR",
    "MAX_THREADS",
    "VERSION",
    "CandidateIndex",
    "blend_tiles",
    "box_downsample",
    "candidate_ssim",
    "cell_descriptors",
    "certified_optimum",
    "check_threads",
    "hardest_first",
    "improve_assignment",
    "luminance",
    "optimal_assignment",
    "paint_band",
    "penalised_greedy",
    "release_free_memory",
    "resize_image",
    "resize_tiles",
    "search_kernel",
    "search_kernels",
    "search_topk",
    "tile_descriptors",
]
