"""Duplicate detection for tiles: exact (same pixels) and near (same picture, re-encoded).

* **Exact**: two tiles whose thumbnails are identical, pixel for pixel. Their
  BLAKE2b hash is compared. (Identical decoded images always give identical
  thumbnails.)
* **Near**: a 64-bit perceptual hash (pHash: the signs of the low-frequency DCT
  coefficients of the thumbnail's luminance relative to their median) within a
  Hamming distance, **and** colours within :data:`NEAR_COLOUR_DELTA` CIELAB units
  (root mean square over the blocks of the colour grid). pHash alone ignores
  colour, which is what matters most in a mosaic: a red and a blue copy of the
  same shape are different tiles.

Near-duplicate search uses multi-index hashing: the 64 bits are cut into
``distance + 1`` chunks; two hashes within ``distance`` bits agree exactly on at
least one chunk (pigeonhole), so only tiles sharing a chunk are compared.
"""

from __future__ import annotations

import hashlib
from itertools import chain, pairwise

import numpy as np
from numpy.typing import NDArray

from ..kernels import descriptors

__all__ = [
    "NEAR_COLOUR_DELTA",
    "NearIndex",
    "perceptual_hashes",
    "pixel_hashes",
]

#: Largest RMS colour difference (CIELAB units) between near duplicates.
NEAR_COLOUR_DELTA = 3.0


def pixel_hashes(thumbs: NDArray[np.uint8]) -> list[bytes]:
    """BLAKE2b-128 digest of each thumbnail's pixels."""
    return [hashlib.blake2b(t.tobytes(), digest_size=16).digest() for t in thumbs]


def perceptual_hashes(thumbs: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """64-bit pHash of each ``(n, s, s, 3)`` thumbnail (``s >= 32``), bit ``i`` = coefficient
    ``i`` (:func:`mosaicfast.kernels.descriptors.perceptual_hashes`, on one thread: callers
    run several at once)."""
    return descriptors.perceptual_hashes(thumbs, threads=1)


class NearIndex:
    """Tiles in use, searchable for a near duplicate of a new tile.

    Parameters
    ----------
    distance : int
        Largest Hamming distance between the pHashes of near duplicates (0 to 16).
    """

    def __init__(self, distance: int) -> None:
        if not 0 <= distance <= 16:
            raise ValueError(f"near-duplicate distance must be 0 to 16 bits, got {distance}")
        self.distance = distance
        # Bit 0 (the constant term against the median) is always set, so it is left
        # out of the chunks: it would only make the first chunk's buckets fuller.
        edges = np.linspace(1, 64, distance + 2).astype(int)
        self._chunks = [(int(a), (1 << int(b - a)) - 1) for a, b in pairwise(edges)]
        self._tables: list[dict[int, list[int]]] = [{} for _ in self._chunks]
        self._ids = np.zeros(1024, np.int64)
        self._hashes = np.zeros(1024, np.uint64)
        self._colours: NDArray[np.int16] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, tile_id: int, phash: int, descriptor: NDArray[np.int16]) -> None:
        """Make a tile findable."""
        position = self._count
        self._grow(len(descriptor))
        assert self._colours is not None
        self._ids[position] = tile_id
        self._hashes[position] = phash
        self._colours[position] = descriptor
        self._count += 1
        for table, (shift, mask) in zip(self._tables, self._chunks, strict=True):
            table.setdefault((phash >> shift) & mask, []).append(position)

    def _grow(self, width: int) -> None:
        if self._colours is None:
            self._colours = np.zeros((len(self._ids), width), np.int16)
        if self._count < len(self._ids):
            return
        size = 2 * len(self._ids)
        self._ids = np.resize(self._ids, size)
        self._hashes = np.resize(self._hashes, size)
        self._colours = np.resize(self._colours, (size, width))

    def find(self, phash: int, descriptor: NDArray[np.int16]) -> int | None:
        """The lowest tile id that is a near duplicate of this tile, or None."""
        buckets = [
            table.get((phash >> shift) & mask, ())
            for table, (shift, mask) in zip(self._tables, self._chunks, strict=True)
        ]
        count = sum(map(len, buckets))
        if not count or self._colours is None:
            return None
        # A tile in several buckets is checked more than once, which is cheaper than
        # a set of the candidates and finds the same lowest id.
        positions = np.fromiter(chain.from_iterable(buckets), np.intp, count)
        differing = np.bitwise_count(self._hashes[positions] ^ np.uint64(phash))
        positions = positions[differing <= self.distance]
        if not len(positions):
            return None
        diff = self._colours[positions].astype(np.int32) - descriptor
        positions = positions[np.einsum("ij,ij->i", diff, diff) <= _colour_limit(descriptor)]
        return int(self._ids[positions].min()) if len(positions) else None


def _colour_limit(descriptor: NDArray[np.int16]) -> int:
    """Squared descriptor distance equal to an RMS block difference of NEAR_COLOUR_DELTA.

    Descriptors hold 3 values per block in quarter CIELAB units.
    """
    blocks = len(descriptor) // 3
    return int(blocks * (4 * NEAR_COLOUR_DELTA) ** 2)
