"""Perceptual hashes and the near-duplicate index, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mosaicfast.demo import sample_photo
from mosaicfast.library.dedupe import (
    NEAR_COLOUR_DELTA,
    NearIndex,
    perceptual_hashes,
    pixel_hashes,
)


def brute_near(
    hashes: list[int], colours: np.ndarray, phash: int, colour: np.ndarray, distance: int
) -> int | None:
    for i, (h, c) in enumerate(zip(hashes, colours, strict=True)):
        rms = np.sqrt(((c.astype(float) - colour) ** 2).reshape(-1, 3).sum(axis=1).mean()) / 4
        if bin(h ^ phash).count("1") <= distance and rms <= NEAR_COLOUR_DELTA:
            return i
    return None


@pytest.mark.slow
@pytest.mark.parametrize("distance", [0, 2, 4, 9])
def test_the_index_finds_exactly_what_brute_force_finds(distance: int) -> None:
    rng = np.random.default_rng(distance)
    base = rng.integers(0, 1 << 62, 300, dtype=np.int64).astype(np.uint64) | np.uint64(1)
    hashes = [int(h) for h in base]
    colours = rng.integers(-40, 40, (300, 75)).astype(np.int16)
    index = NearIndex(distance)
    for i, (h, c) in enumerate(zip(hashes, colours, strict=True)):
        index.add(i, h, c)
    for _ in range(400):
        j = int(rng.integers(300))
        flips = rng.choice(64, int(rng.integers(0, distance + 3)), replace=False)
        query = hashes[j] ^ int(sum(1 << int(b) for b in flips))
        colour = colours[j] + rng.integers(-14, 15, 75).astype(np.int16)
        assert index.find(query, colour) == brute_near(hashes, colours, query, colour, distance)
    assert len(index) == 300


def test_perceptual_hashes_ignore_small_changes_but_not_other_pictures() -> None:
    rng = np.random.default_rng(1)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    picture = np.asarray(Image.fromarray(coarse).resize((64, 64), Image.Resampling.BICUBIC))
    noisy = np.clip(picture + rng.integers(-6, 7, picture.shape), 0, 255).astype(np.uint8)
    other = np.asarray(
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((64, 64))
    )
    a, b, c = perceptual_hashes(np.stack([picture, noisy, other])).tolist()
    assert bin(a ^ b).count("1") <= 4
    assert bin(a ^ c).count("1") > 12
    assert pixel_hashes(np.stack([picture, picture.copy(), noisy])) == [
        pixel_hashes(picture[None])[0]
    ] * 2 + [pixel_hashes(noisy[None])[0]]


def phash_by_definition(thumb: np.ndarray) -> int:
    """The pHash as docs/library.md states it, in plain NumPy ``float64``: each pixel's
    luma, its means over the 32 x 32 blocks of edges ``i * side // 32``, the orthonormal
    DCT-II, bit ``i`` set when coefficient ``i`` exceeds the median of coefficients 1-63."""
    side = thumb.shape[0]
    luma = thumb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    edges = np.arange(33) * side // 32
    means = np.array(
        [
            [luma[edges[y] : edges[y + 1], edges[x] : edges[x + 1]].mean() for x in range(32)]
            for y in range(32)
        ]
    )
    k, n = np.arange(8)[:, None], np.arange(32)[None, :]
    basis = np.sqrt(2 / 32) * np.cos(np.pi * (2 * n + 1) * k / 64)
    basis[0] /= np.sqrt(2)
    coeffs = (basis @ means @ basis.T).ravel()
    median = np.median(coeffs[1:])
    return sum(1 << i for i in range(64) if coeffs[i] > median)


@pytest.mark.parametrize("side", [32, 40, 64, 100, 128])
def test_perceptual_hashes_follow_their_definition(side: int) -> None:
    rng = np.random.default_rng(side)
    coarse = rng.integers(0, 256, (12, 9, 9, 3), dtype=np.uint8)
    smooth = [
        np.asarray(Image.fromarray(c).resize((side, side), Image.Resampling.BICUBIC))
        for c in coarse
    ]
    noise = list(rng.integers(0, 256, (4, side, side, 3), dtype=np.uint8))
    photo = np.asarray(Image.fromarray(sample_photo("astronaut")).resize((side, side)))
    thumbs = np.stack([*smooth, *noise, photo])
    found = perceptual_hashes(thumbs)
    assert found.dtype == np.uint64 and found.shape == (len(thumbs),)
    assert found.tolist() == [phash_by_definition(t) for t in thumbs]


def test_perceptual_hashes_refuse_thumbnails_too_small_to_hash() -> None:
    with pytest.raises(ValueError, match="at least 32 pixels"):
        perceptual_hashes(np.zeros((1, 31, 31, 3), np.uint8))
