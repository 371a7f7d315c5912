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

from ..errors import MosaicfastError
from .images import IMAGE_SUFFIXES, Box, load_square
from .paths import non_regular_reason, os_reason
from .video import load_video_square

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
        if self.time is not None:
            return load_video_square(self.path, self.time, self.box, size)
        pixels, _ = load_square(self.path, size, box=self.box)
        return pixels


def scan_images(
    *roots: str | Path,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
    on_skip: SkipHandler | None = None,
) -> list[Path]:
    """List the image (or other) files in folders (recursively) and among single files.

    Parameters
    ----------
    *roots : str or Path
        Folders to search and files to take.
    suffixes : frozenset of str
        Lower-case suffixes to keep, with the dot; default
        :data:`~mosaicfast.io.images.IMAGE_SUFFIXES`.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for a folder that cannot be listed
        (``"permission denied"``), for a file given by name whose suffix is not in
        ``suffixes``, and for anything with such a suffix that is not a regular file
        (a named pipe, a device, a socket, a broken symbolic link), given by name or
        found in a folder: reading those could block or never end.

    Returns
    -------
    list of Path
        Files whose suffix, in any case, is in ``suffixes``, each once, sorted
        by their POSIX path string. Files and folders whose name starts with ``"."``
        are left out of folder searches. Symlinked folders are followed, each real
        folder only once, so symlink loops end. The files are not opened: one that is
        not really an image is listed, and reported when it is read.

    Raises
    ------
    MosaicfastError
        If a root does not exist or cannot be examined.
    """
    found: set[Path] = set()
    visited_dirs: set[str] = set()
    skip = on_skip or _ignore
    for root in map(Path, roots):
        mode = _root_mode(root)
        if stat.S_ISDIR(mode):
            found.update(_files_in_tree(root, suffixes, visited_dirs, skip))
        elif root.suffix.lower() not in suffixes:
            skip(root, "file name does not end in a known image or video suffix")
        elif (reason := non_regular_reason(mode)) is not None:
            skip(root, reason)
        else:
            found.add(root)
    return sorted(found, key=Path.as_posix)


def _ignore(path: Path, reason: str) -> None:
    """The skip handler of callers that do not ask to be told."""


def _root_mode(root: Path) -> int:
    """``st_mode`` of `root` (symlinks followed); MosaicfastError if it does not exist or
    cannot be examined."""
    try:
        return root.stat().st_mode
    except FileNotFoundError:
        raise MosaicfastError(f"{root}: no such file or folder") from None
    except OSError as exc:
        raise MosaicfastError(f"{root}: {os_reason(exc)}") from exc


def _files_in_tree(
    root: Path, suffixes: frozenset[str], visited_dirs: set[str], skip: SkipHandler
) -> Iterator[Path]:
    """Files with `suffixes` in the folder tree under `root`, skipping `visited_dirs`;
    entries with those suffixes that are not regular files are reported to `skip`."""
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in visited_dirs:
            continue
        visited_dirs.add(real)
        try:
            subdirs, files, others = _list_dir(directory)
        except OSError as exc:
            skip(directory, os_reason(exc))
            continue
        stack.extend(reversed(subdirs))  # depth first, by name: a deterministic walk
        yield from (f for f in files if f.suffix.lower() in suffixes)
        for path, reason in others:
            if path.suffix.lower() in suffixes:
                skip(path, reason)


def _list_dir(directory: Path) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """The visible subfolders (by name), regular files, and other entries with the
    reason they are not read (named pipes, devices, sockets, broken symlinks) of
    `directory`, symlinks followed."""
    subdirs: list[Path] = []
    files: list[Path] = []
    others: list[tuple[Path, str]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = directory / entry.name
            if entry.is_dir():
                subdirs.append(path)
            elif entry.is_file():
                files.append(path)
            else:
                others.append((path, _entry_reason(entry)))
    return sorted(subdirs), files, sorted(others)


def _entry_reason(entry: os.DirEntry[str]) -> str:
    """Why a folder entry that is neither a folder nor a regular file is not read."""
    try:
        return non_regular_reason(entry.stat().st_mode) or "not a regular file"
    except FileNotFoundError:
        return "broken symbolic link"
    except OSError as exc:
        return os_reason(exc)
