"""The tile library: the on-disk tile store, how tiles get into it and how it is kept.

- :mod:`~mosaicfast.library.store`: :class:`Library`, the SQLite catalog beside
  append-only pixel and descriptor arrays (``docs/library.md``).
- :mod:`~mosaicfast.library.indexer`: :func:`index_library`, folders of photos and
  videos into a library, incrementally and interruptibly.
- :mod:`~mosaicfast.library.dedupe`: exact and near duplicate tiles.
- :mod:`~mosaicfast.library.maintenance`, :mod:`~mosaicfast.library.salvage`:
  :func:`library_info`, :func:`verify_library` and the repair of a damaged catalog.
- :mod:`~mosaicfast.library.cache`: the per-folder-set libraries of ``build(sources=...)``.
"""

from typing import TYPE_CHECKING

from .indexer import IndexInterruptedError, IndexReport, index_library
from .store import Library, LibraryError, LibraryLockedError, TileList, TileRows

if TYPE_CHECKING:
    from .maintenance import LibraryInfo, Problem, library_info, verify_library

__all__ = [
    "IndexInterruptedError",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryInfo",
    "LibraryLockedError",
    "Problem",
    "TileList",
    "TileRows",
    "index_library",
    "library_info",
    "verify_library",
]


#: Loaded on first use (``__getattr__``): a build has no use for them at start-up.
_MAINTENANCE = frozenset({"LibraryInfo", "Problem", "library_info", "verify_library"})


def __getattr__(name: str) -> object:
    """The maintenance names, from :mod:`~mosaicfast.library.maintenance` on first use."""
    if name in _MAINTENANCE:
        from . import maintenance

        return getattr(maintenance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
