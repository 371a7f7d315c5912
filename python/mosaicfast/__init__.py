"""mosaicfast: fast, faithful photo mosaics from big photo libraries.

The hot loops (descriptors, search) run in the Rust extension
:mod:`mosaicfast._core`; this package does the I/O, the planning and the API.
"""

from . import kernels
from .api import Mosaic, build
from .errors import ImageReadError, MosaicfastError
from .io.sources import TileSource
from .library.indexer import IndexReport, index_library
from .library.store import Library, LibraryError, LibraryLockedError
from .options import BuildOptions, IndexOptions, MatchOptions, PlanOptions, RenderOptions
from .plan import GridPlan

#: The package's version: Cargo.toml's (pyproject.toml takes it from there), built
#: into the core, so that start-up need not import ``importlib.metadata`` to read it.
__version__: str = kernels.VERSION

__all__ = [
    "BatchResult",
    "BuildOptions",
    "GridPlan",
    "ImageReadError",
    "IndexOptions",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "MatchOptions",
    "Mosaic",
    "MosaicfastError",
    "PlanOptions",
    "RenderOptions",
    "TileSource",
    "__version__",
    "build",
    "build_many",
    "index_library",
]


def __getattr__(name: str) -> object:
    """``build_many`` and ``BatchResult`` load :mod:`mosaicfast.batch` on first use,
    so that a run on one machine does not."""
    if name in ("BatchResult", "build_many"):
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
