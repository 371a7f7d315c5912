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

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


#: The module of each name, loaded on first use (``__getattr__``): a build has no use
#: for the maintenance at start-up, and an index's worker processes, which import
#: :mod:`~mosaicfast.library.reading`, none for the store or the indexer.
_MODULES = {
    **dict.fromkeys(("IndexInterruptedError", "IndexReport", "index_library"), "indexer"),
    **dict.fromkeys(("LibraryInfo", "Problem", "library_info", "verify_library"), "maintenance"),
    **dict.fromkeys(
        ("Library", "LibraryError", "LibraryLockedError", "TileList", "TileRows"), "store"
    ),
}


def __getattr__(name: str) -> object:
    """A public name, from its module on first use."""
    if name in _MODULES:
        return getattr(import_module(f".{_MODULES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
