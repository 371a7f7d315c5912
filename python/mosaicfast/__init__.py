"""mosaicfast: fast, faithful photo mosaics from big photo libraries.

The hot loops (descriptors, search) run in the Rust extension
:mod:`mosaicfast._core`; this package does the I/O, the planning and the API.
"""

from importlib.metadata import PackageNotFoundError, version

from .api import Mosaic, build
from .errors import ImageReadError, MosaicfastError
from .grid import GridPlan
from .indexer import IndexReport, index_library
from .library import Library, LibraryError, LibraryLockedError
from .tiles import TileSource

try:
    __version__ = version("mosaicfast")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "BatchResult",
    "GridPlan",
    "ImageReadError",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryLockedError",
    "Mosaic",
    "MosaicfastError",
    "TileSource",
    "__version__",
    "build",
    "build_many",
    "index_library",
]


def __getattr__(name: str) -> object:
    """``build_many`` and ``BatchResult`` load :mod:`mosaicfast.cluster` on first use,
    so that a run on one machine does not."""
    if name in ("BatchResult", "build_many"):
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
