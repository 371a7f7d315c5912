"""A folder of photos into square tile thumbnails.

:func:`scan_images` finds the photos, :func:`load_tiles` reads them in parallel
into one ``(n, size, size, 3)`` array and remembers where each tile came from
(:class:`TileSource`), so that a tile can be rendered again at another size.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .errors import ImageReadError, MosaicfastError
from .images import IMAGE_SUFFIXES, Box, load_square
from .progress import progress_bar

__all__ = ["SkipHandler", "TileSet", "TileSource", "load_tiles", "scan_images"]

SkipHandler = Callable[[Path, str], None]
"""Called with a path that was left out and the reason, e.g. ``"permission denied"``."""

# Tile loads submitted ahead of the one being collected, per worker thread: enough
# to keep every thread busy, few enough that waiting results stay small.
_LOADS_AHEAD_PER_WORKER = 4

_Loaded = tuple[np.ndarray, Box] | ImageReadError


@dataclass(frozen=True)
class TileSource:
    """Where a tile came from.

    Attributes
    ----------
    path : Path
        The image file.
    box : tuple of int
        ``(left, upper, right, lower)`` of the crop in the file's full-resolution,
        upright (EXIF-oriented) pixel coordinates.
    """

    path: Path
    box: Box

    def load(self, size: int) -> np.ndarray:
        """Render this tile again at `size` x `size` pixels.

        Parameters
        ----------
        size : int
            Side of the result in pixels.

        Returns
        -------
        numpy.ndarray
            ``uint8`` array of shape ``(size, size, 3)``, the same crop as the thumbnail.

        Raises
        ------
        ImageReadError
            If the file can no longer be read, or has shrunk below the crop box.
        """
        pixels, _ = load_square(self.path, size, box=self.box)
        return pixels


@dataclass
class TileSet:
    """Tile thumbnails and where they came from.

    Attributes
    ----------
    thumbs : numpy.ndarray
        ``uint8`` array of shape ``(n, size, size, 3)``.
    sources : list of TileSource
        ``sources[i]`` is where ``thumbs[i]`` came from.
    skipped : list of (Path, str)
        Files that could not be used, with the reason.
    """

    thumbs: np.ndarray
    sources: list[TileSource]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of tiles."""
        return len(self.sources)


def scan_images(*roots: str | Path, on_skip: SkipHandler | None = None) -> list[Path]:
    """List the image files in folders (recursively) and among single files.

    Parameters
    ----------
    *roots : str or Path
        Folders to search and files to take.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for a folder that cannot be listed
        (``"permission denied"``) and for a file given by name whose suffix is not in
        :data:`~mosaicfast.images.IMAGE_SUFFIXES`.

    Returns
    -------
    list of Path
        Files whose suffix, in any case, is in ``IMAGE_SUFFIXES``, each once, sorted
        by their POSIX path string. Files and folders whose name starts with ``"."``
        are left out of folder searches. Symlinked folders are followed, each real
        folder only once, so symlink loops end. The files are not opened: one that is
        not really an image is listed, and reported later by :func:`load_tiles`.

    Raises
    ------
    MosaicfastError
        If a root does not exist or cannot be examined.
    """
    found: set[Path] = set()
    visited_dirs: set[str] = set()
    for root in map(Path, roots):
        if _is_existing_dir(root):
            found.update(_images_in_tree(root, visited_dirs, on_skip))
        elif _has_image_suffix(root):
            found.add(root)
        elif on_skip is not None:
            on_skip(root, "file name does not end in an image suffix")
    return sorted(found, key=Path.as_posix)


def load_tiles(
    paths: Sequence[Path],
    size: int,
    *,
    workers: int | None = None,
    progress: bool = False,
    on_skip: SkipHandler | None = None,
) -> TileSet:
    """Load the centred square of each image as a ``size x size`` tile, in parallel.

    Parameters
    ----------
    paths : sequence of Path
        The image files, e.g. from :func:`scan_images`.
    size : int
        Side of each tile in pixels, at least 1.
    workers : int, optional
        Number of threads; defaults to ``os.cpu_count()``. Threads, not processes:
        Pillow releases the GIL while decoding and resizing.
    progress : bool, default False
        Show a progress bar on stderr.
    on_skip : callable, optional
        Called from the calling thread as ``on_skip(path, reason)`` for each file that
        cannot be read, in path order.

    Returns
    -------
    TileSet
        The tiles of the readable files, in the order of `paths` whatever the number of
        workers, and the skipped files with their reasons. A bad file never stops the
        load. If no file could be read the set is empty (``thumbs`` has shape
        ``(0, size, size, 3)``); raising a user-facing error for that is up to the caller.

    Raises
    ------
    ValueError
        If `size` or `workers` is smaller than 1.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    thumbs = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    sources: list[TileSource] = []
    skipped: list[tuple[Path, str]] = []
    load = partial(_load_tile, size=size)
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mosaicfast-tiles") as pool,
        progress_bar(len(paths), "tiles", "img", enabled=progress) as bar,
    ):
        results = _in_order(pool, load, paths, ahead=workers * _LOADS_AHEAD_PER_WORKER)
        for path, loaded in zip(paths, results, strict=True):
            if isinstance(loaded, ImageReadError):
                skipped.append((path, loaded.reason))
                if on_skip is not None:
                    on_skip(path, loaded.reason)
            else:
                pixels, box = loaded
                thumbs[len(sources)] = pixels
                sources.append(TileSource(path, box))
            bar.update()
    # Shrink in place rather than copy: no view of `thumbs` exists at this point.
    thumbs.resize((len(sources), size, size, 3), refcheck=False)
    return TileSet(thumbs, sources, skipped)


def _load_tile(path: Path, size: int) -> _Loaded:
    """The tile of `path` and its crop box, or the error that made it unusable."""
    try:
        return load_square(path, size)
    except ImageReadError as exc:
        return exc


def _in_order(
    pool: ThreadPoolExecutor,
    load: Callable[[Path], _Loaded],
    paths: Sequence[Path],
    ahead: int,
) -> Iterator[_Loaded]:
    """Yield ``load(path)`` for each path in order, running up to `ahead` loads at once."""
    pending: deque[Future[_Loaded]] = deque()
    for path in paths:
        pending.append(pool.submit(load, path))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _is_existing_dir(root: Path) -> bool:
    """Whether `root` is a folder; MosaicfastError if it does not exist or cannot be examined."""
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        raise MosaicfastError(f"{root}: no such file or folder") from None
    except OSError as exc:
        raise MosaicfastError(f"{root}: {_os_reason(exc)}") from exc
    return stat.S_ISDIR(mode)


def _images_in_tree(
    root: Path, visited_dirs: set[str], on_skip: SkipHandler | None
) -> Iterator[Path]:
    """Image files in the folder tree under `root`, skipping folders in `visited_dirs`."""
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in visited_dirs:
            continue
        visited_dirs.add(real)
        try:
            subdirs, files = _list_dir(directory)
        except OSError as exc:
            if on_skip is not None:
                on_skip(directory, _os_reason(exc))
            continue
        stack.extend(reversed(subdirs))  # depth first, by name: a deterministic walk
        yield from filter(_has_image_suffix, files)


def _list_dir(directory: Path) -> tuple[list[Path], list[Path]]:
    """The visible subfolders (by name) and files of `directory`, symlinks followed."""
    subdirs: list[Path] = []
    files: list[Path] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                subdirs.append(directory / entry.name)
            elif entry.is_file():
                files.append(directory / entry.name)
    return sorted(subdirs), files


def _has_image_suffix(path: Path) -> bool:
    """Whether the suffix of `path`, in any case, is in ``IMAGE_SUFFIXES``."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _os_reason(exc: OSError) -> str:
    """Short human reason for an OS error."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()
