"""Finding tile photos, and remembering where each tile came from.

:func:`scan_images` finds the photos in folders; a :class:`TileSource` records
the file and crop of a tile, so that it can be rendered again at any size.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np

from .errors import MosaicfastError
from .images import IMAGE_SUFFIXES, Box, load_square
from .video import load_video_square

if TYPE_CHECKING:
    from .library import TileRows

__all__ = ["SkipHandler", "TileList", "TileSource", "os_reason", "scan_images"]

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


class TileList(Sequence[TileSource]):
    """The tiles of a library as a sequence of :class:`TileSource`, made on demand.

    A library holds hundreds of thousands of tiles and a mosaic uses a few thousand;
    only the ones looked at become objects.
    """

    def __init__(self, rows: TileRows) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> TileSource: ...
    @overload
    def __getitem__(self, index: slice) -> list[TileSource]: ...
    def __getitem__(self, index: int | slice) -> TileSource | list[TileSource]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rows = self._rows
        if not -len(rows) <= index < len(rows):
            raise IndexError(f"tile {index} out of range for {len(rows)} tiles")
        time = float(rows.times[index])
        left, top, right, bottom = (int(v) for v in rows.boxes[index])
        return TileSource(
            Path(rows.source_paths[int(rows.source_ids[index])]),
            (left, top, right, bottom),
            tile_id=int(rows.ids[index]),
            time=None if math.isnan(time) else time,
        )


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
        :data:`~mosaicfast.images.IMAGE_SUFFIXES`.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for a folder that cannot be listed
        (``"permission denied"``) and for a file given by name whose suffix is not in
        ``suffixes``.

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
    for root in map(Path, roots):
        if _is_existing_dir(root):
            found.update(_files_in_tree(root, suffixes, visited_dirs, on_skip))
        elif root.suffix.lower() in suffixes:
            found.add(root)
        elif on_skip is not None:
            on_skip(root, "file name does not end in a known image or video suffix")
    return sorted(found, key=Path.as_posix)


def _is_existing_dir(root: Path) -> bool:
    """Whether `root` is a folder; MosaicfastError if it does not exist or cannot be examined."""
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        raise MosaicfastError(f"{root}: no such file or folder") from None
    except OSError as exc:
        raise MosaicfastError(f"{root}: {os_reason(exc)}") from exc
    return stat.S_ISDIR(mode)


def _files_in_tree(
    root: Path, suffixes: frozenset[str], visited_dirs: set[str], on_skip: SkipHandler | None
) -> Iterator[Path]:
    """Files with `suffixes` in the folder tree under `root`, skipping `visited_dirs`."""
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
                on_skip(directory, os_reason(exc))
            continue
        stack.extend(reversed(subdirs))  # depth first, by name: a deterministic walk
        yield from (f for f in files if f.suffix.lower() in suffixes)


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


def os_reason(exc: OSError) -> str:
    """Short human reason for an OS error."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()
