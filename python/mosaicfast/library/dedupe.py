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

__all__ = [
    "NEAR_COLOUR_DELTA",
    "NearIndex",
    "perceptual_hashes",
    "pixel_hashes",
]

#: Largest RMS colour difference (CIELAB units) between near duplicates.
NEAR_COLOUR_DELTA = 3.0
_HASH_SIDE = 32
_LOW = 8


def pixel_hashes(thumbs: NDArray[np.uint8]) -> list[bytes]:
    """BLAKE2b-128 digest of each thumbnail's pixels."""
    return [hashlib.blake2b(t.tobytes(), digest_size=16).digest() for t in thumbs]


def perceptual_hashes(thumbs: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """64-bit pHash of each ``(n, s, s, 3)`` thumbnail (``s >= 32``), bit ``i`` = coefficient ``i``.

    The luminance is area-averaged to 32 x 32, transformed by a 2-D DCT-II, and the
    8 x 8 lowest frequencies are compared with the median of the 63 non-constant ones.
    """
    n, side = thumbs.shape[0], thumbs.shape[1]
    luma = thumbs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if side == 2 * _HASH_SIDE:  # the default thumbnail: 8x faster, the same bits
        small = _pair_means(luma)
    else:
        edges = np.arange(_HASH_SIDE + 1) * side // _HASH_SIDE
        small = _area_means(_area_means(luma, edges, axis=1), edges, axis=2)
    basis = _dct_basis(_HASH_SIDE, _LOW)
    coeffs = (basis @ small @ basis.T).reshape(n, _LOW * _LOW)
    bits = np.packbits(coeffs > _odd_median(coeffs[:, 1:]), axis=1, bitorder="little")
    return bits.view("<u8").reshape(n).astype(np.uint64)


def _odd_median(values: NDArray[np.floating]) -> NDArray[np.floating]:
    """Median of each row of an odd number of values, as an ``(n, 1)`` column: the middle
    value, bit for bit what ``np.median`` gives (the mean of that one value), without
    its NaN check, which loads ``numpy.ma`` (12 ms of a worker's start-up)."""
    middle = values.shape[1] // 2
    return np.partition(values, middle, axis=1)[:, middle : middle + 1]


def _dct_basis(size: int, count: int) -> NDArray[np.float32]:
    """The first ``count`` rows of the orthonormal DCT-II matrix of order ``size``:
    ``basis @ x @ basis.T`` gives the ``count x count`` lowest frequencies of ``x``."""
    k = np.arange(count)[:, None]
    n = np.arange(size)[None, :]
    basis = np.sqrt(2.0 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def _pair_means(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Means of the 2 x 2 blocks of ``(n, 2s, 2s)`` values: what two :func:`_area_means`
    give for blocks of 2, bit for bit (rows summed first, each sum halved), without
    the cost of ``reduceat``'s general segments."""
    rows = values[:, 0::2] + values[:, 1::2]
    rows /= 2
    blocks = rows[:, :, 0::2] + rows[:, :, 1::2]
    blocks /= 2
    return blocks


def _area_means(values: NDArray[np.float32], edges: NDArray[np.int64], axis: int) -> NDArray:
    sums = np.add.reduceat(values, edges[:-1], axis=axis)
    counts = np.diff(edges).astype(np.float32)
    shape = [1] * values.ndim
    shape[axis] = len(counts)
    return sums / counts.reshape(shape)


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
