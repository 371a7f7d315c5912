"""mosaicfast: fast, faithful photo mosaics from big photo libraries.

The hot loops (descriptors, search) run in the Rust extension
:mod:`mosaicfast._core`; this package does the I/O, the planning and the API.
"""

from importlib.metadata import PackageNotFoundError, version

from .api import Mosaic, build
from .cluster import BatchResult, build_many
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
