"""mosaicfast: fast, faithful photo mosaics from big photo libraries.

The hot loops (descriptors, search) run in the Rust extension
:mod:`mosaicfast._core`; this package does the I/O, the planning and the API.

The public names below are loaded on first use (``__getattr__``), so that a command
pays at start-up only for the modules it runs: ``mosaicfast --help`` none of them, a
build not the library maintenance nor the batches.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import kernels as kernels
    from .api import Mosaic, build
    from .batch import BatchResult, build_many
    from .errors import ImageReadError, MosaicfastError
    from .io.sources import TileSource
    from .library.indexer import IndexReport, index_library
    from .library.store import Library, LibraryError, LibraryLockedError
    from .options import BuildOptions, IndexOptions, MatchOptions, PlanOptions, RenderOptions
    from .plan import GridPlan

    #: The package's version: Cargo.toml's (pyproject.toml takes it from there), built
    #: into the core (``kernels.VERSION``), so that start-up need not import
    #: ``importlib.metadata`` to read it.
    __version__: str

#: Where each public name lives, relative to this package.
_EXPORTS: dict[str, str] = {
    "BatchResult": ".batch",
    "BuildOptions": ".options",
    "GridPlan": ".plan",
    "ImageReadError": ".errors",
    "IndexOptions": ".options",
    "IndexReport": ".library.indexer",
    "Library": ".library.store",
    "LibraryError": ".library.store",
    "LibraryLockedError": ".library.store",
    "MatchOptions": ".options",
    "Mosaic": ".api",
    "MosaicfastError": ".errors",
    "PlanOptions": ".options",
    "RenderOptions": ".options",
    "TileSource": ".io.sources",
    "build": ".api",
    "build_many": ".batch",
    "index_library": ".library.indexer",
}

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
    """A public name, ``__version__`` or the :mod:`~mosaicfast.kernels` module, imported
    on first use."""
    if name == "kernels":
        return import_module(".kernels", __name__)
    if name == "__version__":
        return import_module(".kernels", __name__).VERSION
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "kernels"})
