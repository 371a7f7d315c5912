"""Finding tile photos, and remembering where each tile came from.

:func:`scan_images` finds the photos in folders; a :class:`TileSource` records
the file and crop of a tile, so that it can be rendered again at any size.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MosaicfastError
from .images import IMAGE_SUFFIXES, Box, load_square

__all__ = ["SkipHandler", "TileSource", "scan_images"]

SkipHandler = Callable[[Path, str], None]
"""Called with a path that was left out and the reason, e.g. ``"permission denied"``."""


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
    tile_id : int, optional
        The tile's id in its library.
    time : float, optional
        For a tile cut from a video, the frame's time in seconds.
    """

    path: Path
    box: Box
    tile_id: int | None = None
    time: float | None = None

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
