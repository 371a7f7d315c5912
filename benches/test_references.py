"""The benchmarks' baselines and pure-Python references agree with the Rust core on small inputs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

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
from PIL import Image
from test_bench_ssim import synthetic_patches

from mosaicfast.demo import sample_photo
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


def test_classic_tools_pure_python_search_gives_the_same_tiles(tmp_path: Path) -> None:
    """The original's pure-Python loop, which ``first_mosaic.py`` times, and the vectorised
    rule the quality benchmark uses pick the same tile for every cell (ties included)."""
    sys.path.insert(0, str(Path(__file__).parent / "quality"))
    classic = importlib.import_module("classic")
    photo = np.asarray(sample_photo("astronaut"))
    rng = np.random.default_rng(3)
    paths = []
    for i in range(40):
        side = int(rng.integers(24, 120))
        y, x = (int(v) for v in rng.integers(0, photo.shape[0] - side, 2))
        paths.append(tmp_path / f"t{i:02d}.png")
        Image.fromarray(photo[y : y + side, x : x + side]).save(paths[-1])
    paths.append(tmp_path / "copy.png")  # a tile equal to another: the first one wins
    Image.open(paths[5]).save(paths[-1])
    tiles = classic.classic_tiles(paths)
    target = Image.fromarray(np.asarray(sample_photo("coffee"))[100:140, 200:265])
    expected = classic.classic_assignment(target, tiles)
    assert expected.shape == (6, 10)
    np.testing.assert_array_equal(classic.python_assignment(target, tiles), expected)
