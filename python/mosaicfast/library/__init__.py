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

from .indexer import IndexInterruptedError, IndexReport, index_library
from .maintenance import LibraryInfo, Problem, library_info, verify_library
from .store import Library, LibraryError, LibraryLockedError, TileList, TileRows

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
