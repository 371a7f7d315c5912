"""The reading half of an index: a task's photos read, hashed, decoded and described.

Runs in the indexing process's threads or in its worker processes (see
:func:`~mosaicfast._util.parallel.ordered_map`). Kept apart from
:mod:`~mosaicfast.library.indexer` so that a worker process imports only what reading
needs (NumPy, Pillow, the core's descriptors), not the catalog, the options model or the
video reader: 0.17 -> 0.14 s of CPU at each worker's start (``benches/NOTES.md``, "Index
of a cold build, fifth round").
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.lifetime import INTERRUPT_SIGNALS, die_with_parent
from ..errors import ImageReadError
from ..io.images import Box, load_square
from ..io.paths import os_reason, read_regular_file
from ..kernels import descriptors
from .dedupe import perceptual_hashes, pixel_hashes

#: Files up to this size are read whole, once, for both hashing and decoding.
_READ_WHOLE_LIMIT = 64 << 20
_READ_CHUNK = 1 << 20


@dataclass
class _Todo:
    """A file to read, and for an interrupted video the time to resume after."""

    path: Path
    size: int
    mtime_ns: int
    resume_after: float | None = None


@dataclass
class _Entry:
    """A source's catalog record."""

    path: Path
    kind: str
    size: int
    mtime_ns: int
    status: str
    error: str | None = None
    content_hash: str | None = None
    done_until: float | None = None


@dataclass
class _Tiles:
    """A stack of tiles with everything the catalog and arrays keep of them."""

    thumbs: NDArray[np.uint8]
    boxes: list[Box]
    times: list[float | None]
    pixel_hashes: list[bytes]
    phashes: NDArray[np.uint64]
    #: By ``(space, grid)``: a :class:`~mosaicfast.library.store.DescriptorKind` or the
    #: plain tuple a worker process was given (equal, with the same hash).
    descriptors: dict[tuple[str, int], NDArray[np.int16]]

    @classmethod
    def describe(
        cls,
        thumbs: NDArray[np.uint8],
        boxes: list[Box],
        times: list[float | None],
        kinds: Sequence[tuple[str, int]],
    ) -> _Tiles:
        """Hashes and descriptors of ``thumbs`` (one thread: callers run several at once),
        the descriptors of each ``(space, grid)`` in ``kinds``."""
        return cls(
            thumbs,
            boxes,
            times,
            pixel_hashes(thumbs),
            perceptual_hashes(thumbs),
            {
                (space, grid): descriptors.tile_descriptors(thumbs, grid, space=space, threads=1)
                for space, grid in kinds
            },
        )

    @classmethod
    def concatenate(cls, parts: list[_Tiles]) -> _Tiles:
        return cls(
            np.concatenate([p.thumbs for p in parts]),
            [b for p in parts for b in p.boxes],
            [t for p in parts for t in p.times],
            [h for p in parts for h in p.pixel_hashes],
            np.concatenate([p.phashes for p in parts]),
            {k: np.concatenate([p.descriptors[k] for p in parts]) for k in parts[0].descriptors},
        )

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass
class _Chunk:
    """Sources read together and their tiles: tile ``i`` comes from ``entries[owners[i]]``."""

    entries: list[_Entry]
    tiles: _Tiles | None = None
    owners: list[int] = field(default_factory=list)


def _setup_worker_process(max_image_pixels: int | None, parent: int) -> None:
    """In a worker process: exit when the main process ``parent`` is gone (killed with
    SIGKILL it cannot stop its workers itself), leave Ctrl-C and SIGTERM to it, and use
    its pixel limit."""
    die_with_parent(parent)
    for number in INTERRUPT_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    Image.MAX_IMAGE_PIXELS = max_image_pixels


def _read_photo_chunk(
    items: list[_Todo], thumb_size: int, kinds: Sequence[tuple[str, int]]
) -> _Chunk:
    """Hash, decode and describe a few photos (runs in a worker)."""
    chunk = _Chunk(entries=[])
    thumbs: list[NDArray[np.uint8]] = []
    boxes: list[Box] = []
    for item in items:
        entry = _Entry(item.path, "image", item.size, item.mtime_ns, status="ok")
        try:
            data = read_regular_file(item.path, _READ_WHOLE_LIMIT)
            entry.content_hash = _content_hash(item.path, data)
            thumb, box = load_square(item.path, thumb_size, data=data)
        except ImageReadError as err:
            entry.status, entry.error = "error", err.reason
        except OSError as err:
            entry.status, entry.error = "error", os_reason(err)
        else:
            chunk.owners.append(len(chunk.entries))
            thumbs.append(thumb)
            boxes.append(box)
        chunk.entries.append(entry)
    if thumbs:
        chunk.tiles = _Tiles.describe(np.stack(thumbs), boxes, [None] * len(boxes), kinds)
    return chunk


def _content_hash(path: Path, data: bytes | None) -> str:
    """First 128 bits of the SHA-256 of the file, in hex."""
    digest = hashlib.sha256()
    if data is not None:
        digest.update(data)
    else:
        with open(path, "rb") as handle:
            while block := handle.read(_READ_CHUNK):
                digest.update(block)
    return digest.hexdigest()[:32]
