"""The benchmarks' baselines and pure-Python references agree with the Rust core on small inputs."""

from __future__ import annotations

import numpy as np
import pytest
import references
from baselines import (
    SyntheticLibrary,
    kdtree_index,
    kdtree_topk,
    numpy_tile_descriptors,
    synthetic_thumbnails,
)
from test_bench_ssim import synthetic_patches

from mosaicfast.kernels import assign
from mosaicfast.kernels.descriptors import search_topk, tile_descriptors
from mosaicfast.kernels.ssim import candidate_ssim


def test_ssim_rerank_matches_core() -> None:
    cells, tiles = synthetic_patches(3, 1), synthetic_patches(20, 2)
    candidates = np.random.default_rng(0).integers(0, len(tiles), (len(cells), 4))
    expected = candidate_ssim(cells, tiles, candidates, win_size=7)
    np.testing.assert_allclose(
        references.ssim_rerank(cells, tiles, candidates), expected, atol=2e-5
    )


def test_ssim_of_identical_patches_is_one() -> None:
    patch = synthetic_patches(1, 4)[0].tolist()
    assert references.mean_ssim(patch, patch) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("max_uses", "min_distance"), [(None, 0), (2, 0), (None, 1), (3, 2), (1, 1)]
)
def test_penalised_greedy_matches_core(max_uses: int | None, min_distance: int) -> None:
    rng = np.random.default_rng(min_distance * 10 + (max_uses or 0))
    rows, cols, k, n_tiles = 6, 7, 5, 12
    cand = np.stack([rng.choice(n_tiles, k, replace=False) for _ in range(rows * cols)])
    cand[rng.random(cand.shape) < 0.1] = -1  # padding
    cost = rng.integers(0, 5, cand.shape).astype(np.float64)  # many ties
    order = rng.permutation(rows * cols)
    options = {"penalty": 0.75, "max_uses": max_uses, "min_distance": min_distance}
    expected = assign.penalised_greedy(cand, cost, order, n_tiles, shape=(rows, cols), **options)
    found = references.penalised_greedy(cand, cost, order, n_tiles, shape=(rows, cols), **options)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])


def test_numpy_tile_descriptors_match_core() -> None:
    thumbs = synthetic_thumbnails(50, 64, 3)
    np.testing.assert_array_equal(numpy_tile_descriptors(thumbs, 5), tile_descriptors(thumbs, 5))


def test_kdtree_baseline_with_full_shortlist_is_exact() -> None:
    tiles, cells = SyntheticLibrary(5, 2).first(300), SyntheticLibrary(5, 1).first(40)
    indices, distances = kdtree_topk(kdtree_index(tiles), cells, k=3, shortlist=300)
    expected_indices, expected_distances = search_topk(cells, tiles, 3)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)


def test_synthetic_library_is_prefix_stable() -> None:
    small = SyntheticLibrary(5, 7).first(100).copy()
    large = SyntheticLibrary(5, 7)
    large.first(SyntheticLibrary.CHUNK + 5)
    np.testing.assert_array_equal(large.first(100), small)
