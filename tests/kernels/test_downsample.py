"""Box downsampling in the core (``_core.box_downsample``) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from mosaicfast import _core


def _numpy_box(images: np.ndarray, factor: int) -> np.ndarray:
    n, h, w, c = images.shape
    blocks = images.reshape(n, h // factor, factor, w // factor, factor, c)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


@pytest.mark.parametrize(("size", "factor"), [(64, 4), (64, 8), (48, 3), (16, 1), (30, 2)])
def test_block_means_equal_numpy(size: int, factor: int) -> None:
    rng = np.random.default_rng(size * factor)
    images = rng.integers(0, 256, (37, size, size, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_core.box_downsample(images, factor), _numpy_box(images, factor))


def test_ties_round_to_even_like_numpy() -> None:
    # Two-level blocks give means ending in .5 often.
    images = (np.random.default_rng(1).integers(0, 2, (50, 8, 8, 3)) * 3).astype(np.uint8)
    np.testing.assert_array_equal(_core.box_downsample(images, 2), _numpy_box(images, 2))


def test_same_result_for_any_thread_count() -> None:
    images = np.random.default_rng(2).integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    one = _core.box_downsample(images, 4, threads=1)
    np.testing.assert_array_equal(one, _core.box_downsample(images, 4, threads=2))


def test_sizes_that_do_not_divide_are_refused() -> None:
    with pytest.raises(ValueError, match="blocks"):
        _core.box_downsample(np.zeros((2, 10, 10, 3), np.uint8), 3)
    with pytest.raises(ValueError, match="blocks"):
        _core.box_downsample(np.zeros((2, 10, 10, 3), np.uint8), 0)
