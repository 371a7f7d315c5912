"""Perceptual hashes and the near-duplicate index, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mosaicfast.library.dedupe import (
    NEAR_COLOUR_DELTA,
    NearIndex,
    _area_means,
    _odd_median,
    _pair_means,
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


def test_pair_means_of_default_thumbnails_equal_the_general_area_means_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    thumbs = rng.integers(0, 256, (40, 64, 64, 3), np.uint8)
    luma = thumbs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    edges = np.arange(33) * 64 // 32
    general = _area_means(_area_means(luma, edges, axis=1), edges, axis=2)
    fast = _pair_means(luma)
    assert fast.dtype == general.dtype == np.float32
    assert fast.tobytes() == general.tobytes()


def test_the_odd_median_is_numpys_median_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    rows = [
        rng.normal(0, 50, (300, 63)).astype(np.float32),  # as the pHash's coefficients
        rng.integers(-3, 4, (300, 63)).astype(np.float32),  # many ties
        np.zeros((4, 63), np.float32),
        rng.normal(0, 1, (50, 7)).astype(np.float32),
    ]
    for values in rows:
        fast = _odd_median(values)
        assert fast.dtype == np.float32 and fast.shape == (len(values), 1)
        assert fast.tobytes() == np.median(values, axis=1, keepdims=True).tobytes()
