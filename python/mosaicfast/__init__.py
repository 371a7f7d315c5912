"""mosaicfast: fast, faithful photo mosaics from big photo libraries.

The hot loops (descriptors, search) run in the Rust extension
:mod:`mosaicfast._core`; this package does the I/O, the planning and the API.
"""

from ._util.version import __version__
from .api import Mosaic, build
from .errors import ImageReadError, MosaicfastError
from .io.sources import TileSource
from .library.indexer import IndexReport, index_library
from .library.store import Library, LibraryError, LibraryLockedError
from .plan import GridPlan

__all__ = [
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
    "index_library",
]
