"""Where mosaicfast keeps its cache: the tile libraries of ``build --tiles DIR``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cache_dir", "folder_library"]


def cache_dir() -> Path:
    """The cache folder.

    ``$MOSAICFAST_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mosaicfast``, else
    ``~/.cache/mosaicfast``.
    """
    explicit = os.environ.get("MOSAICFAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mosaicfast"


def folder_library(roots: Sequence[str | Path]) -> Path:
    """The cache library of a set of tile folders and files (keyed by their real paths)."""
    key = b"\n".join(sorted(os.fsencode(os.path.realpath(r)) for r in roots))
    digest = hashlib.blake2b(key, digest_size=8).hexdigest()
    return cache_dir() / "libraries" / digest
