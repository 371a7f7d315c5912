"""Candidate pruning (``mosaicfast.kernels.candidates``) against the exhaustive search."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from numpy.typing import NDArray

from mosaicfast.kernels import candidates
from mosaicfast.kernels.candidates import CandidateIndex, Method, default_shortlist
from mosaicfast.kernels.descriptors import search_topk

GRID = 3
WIDTH = 3 * GRID * GRID
METHODS: tuple[Method, ...] = ("mean", "pca")


def _layouts(rng: np.random.Generator, count: int) -> NDArray[np.float64]:
    """Zero-mean spatial patterns: horizontal and vertical lightness and colour gradients."""
    rows, cols = np.meshgrid(np.arange(GRID) - 1.0, np.arange(GRID) - 1.0, indexing="ij")
    ramps = np.stack([rows.ravel(), cols.ravel()])  # (2, blocks)
    slopes = rng.normal(0.0, 60.0, size=(count, 3, 2))  # per channel, per direction
    return np.einsum("ncd,db->nbc", slopes, ramps).reshape(count, WIDTH)


def _planted(seed: int, tiles: int = 600, cells: int = 300) -> tuple[NDArray, NDArray]:
    """Tiles sharing a few mean colours but differing in layout; cells are noisy tiles.

    Many tiles have nearly the same mean colour, so mean colour cannot tell them
    apart, while the layout (the planted structure) can.
    """
    rng = np.random.default_rng(seed)
    palette = rng.uniform([100, -40, -40], [300, 40, 40], size=(4, 3))
    means = palette[rng.integers(0, len(palette), tiles)] + rng.normal(0, 2, (tiles, 3))
    tile_values = np.tile(means, GRID * GRID) + _layouts(rng, tiles)
    sources = rng.integers(0, tiles, cells)
    cell_values = tile_values[sources] + rng.normal(0, 8, (cells, WIDTH))
    return np.rint(tile_values).astype(np.int16), np.rint(cell_values).astype(np.int16)


def _recall(index: CandidateIndex, cells: NDArray, best: NDArray, shortlist: int) -> float:
    chosen, _ = index.query(cells, 1, shortlist=shortlist)
    return float(np.mean(chosen[:, 0] == best[:, 0]))


@pytest.mark.parametrize("method", METHODS)
def test_full_shortlist_equals_exhaustive_search(method: Method) -> None:
    tiles, cells = _planted(seed=1)
    expected = search_topk(cells, tiles, 7)
    index = CandidateIndex(tiles, method=method, dims=4)
    indices, distances = index.query(cells, 7, shortlist=len(tiles))
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(distances, expected[1])
    assert indices.dtype == distances.dtype == np.int64


@pytest.mark.parametrize("method", METHODS)
def test_ties_go_to_the_lower_index_like_exhaustive_search(method: Method) -> None:
    rng = np.random.default_rng(2)
    tiles = rng.integers(-2, 3, (400, WIDTH)).astype(np.int16)  # many equal distances
    cells = rng.integers(-2, 3, (100, WIDTH)).astype(np.int16)
    index = CandidateIndex(tiles, method=method)
    indices, distances = index.query(cells, 10, shortlist=len(tiles))
    expected = search_topk(cells, tiles, 10)
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(distances, expected[1])


@pytest.mark.parametrize("method", METHODS)
def test_pruned_results_are_sorted_by_distance_then_index(method: Method) -> None:
    tiles, cells = _planted(seed=3)
    tiles = np.concatenate([tiles, tiles])  # every tile twice: exact ties
    indices, distances = CandidateIndex(tiles, method=method).query(cells, 6, shortlist=40)
    assert np.all(np.diff(distances, axis=1) >= 0)
    ties = np.diff(distances, axis=1) == 0
    assert np.all(np.diff(indices, axis=1)[ties] > 0)
    full = tiles[indices].astype(np.int64) - cells[:, None, :]
    np.testing.assert_array_equal(distances, (full**2).sum(axis=2))


def test_recall_grows_with_the_shortlist_and_pca_beats_mean_colour() -> None:
    tiles, cells = _planted(seed=4)
    best = search_topk(cells, tiles, 1)[0]
    shortlists = (1, 5, 20, 80, 300)
    recalls = {
        method: [
            _recall(CandidateIndex(tiles, method=method, leaf_size=16), cells, best, s)
            for s in shortlists
        ]
        for method in METHODS
    }
    for values in recalls.values():
        assert all(later >= earlier - 0.02 for earlier, later in pairwise(values))
        assert values[-1] >= 0.95
    assert all(p >= m for p, m in zip(recalls["pca"], recalls["mean"], strict=True))
    assert recalls["pca"][2] >= recalls["mean"][2] + 0.3


def test_the_shortlist_is_covered_by_whole_leaves() -> None:
    tiles, cells = _planted(seed=5, tiles=1000)
    index = CandidateIndex(tiles, method="pca", leaf_size=64)
    assert index.leaves == 16  # median splits: 16 leaves of 62 or 63 tiles
    assert index.scanned_fraction(cells, 1, shortlist=50) == pytest.approx(1 / 16, abs=0.001)
    assert index.scanned_fraction(cells, 1, shortlist=62) == pytest.approx(1 / 16, abs=0.001)
    assert index.scanned_fraction(cells, 1, shortlist=64) == pytest.approx(2 / 16, abs=0.001)
    assert index.scanned_fraction(cells, 1, shortlist=10_000) == 1.0
    assert index.shortlist_size() == default_shortlist(1000) == 1000
    assert index.shortlist_size(k=130, shortlist=140) == 140
    assert default_shortlist(190_000) == 15_257


def test_uneven_leaves_are_scanned_until_the_shortlist() -> None:
    # Many equal tiles make the median splits uneven; the shortlist still holds.
    tiles, cells = _planted(seed=9, tiles=1000)
    tiles[:600] = tiles[0]
    index = CandidateIndex(tiles, method="mean", leaf_size=32)
    indices, _ = index.query(cells, 1, shortlist=100)
    assert index.scanned_fraction(cells, 1, shortlist=100) >= 0.1
    expected, _ = search_topk(cells, tiles, 1)
    assert np.mean(indices == expected) > 0.5


def test_every_cell_gets_k_tiles_from_its_leaves() -> None:
    tiles, cells = _planted(seed=7, tiles=1000)
    index = CandidateIndex(tiles, leaf_size=16)
    indices, distances = index.query(cells, 40, shortlist=40)
    assert indices.shape == (len(cells), 40)
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert all(len(set(row)) == 40 for row in indices.tolist())


def test_same_answers_for_any_thread_count() -> None:
    tiles, cells = _planted(seed=8, tiles=3000, cells=500)
    answers = [
        CandidateIndex(tiles, leaf_size=32, threads=threads).query(cells, 5, shortlist=200)
        for threads in (1, 2, 3)
    ]
    for other in answers[1:]:
        np.testing.assert_array_equal(answers[0][0], other[0])
        np.testing.assert_array_equal(answers[0][1], other[1])


def test_pca_projection_is_deterministic() -> None:
    tiles, _ = _planted(seed=6)
    basis = CandidateIndex(tiles, method="pca", dims=5).basis
    reordered = CandidateIndex(tiles[::-1], method="pca", dims=5).basis
    np.testing.assert_allclose(basis, reordered, atol=1e-9)
    np.testing.assert_allclose(basis @ basis.T, np.eye(5), atol=1e-9)
    assert CandidateIndex(tiles, method="mean").dims == 3


@pytest.mark.parametrize(("method", "dims"), [("mean", 3), ("pca", 1), ("pca", 4)])
def test_projecting_a_block_of_rows_at_a_time_changes_nothing(
    method: Method, dims: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiles, cells = _planted(seed=10, tiles=1000)
    assert len(tiles) < candidates.PROJECT_ROWS  # one block
    whole = CandidateIndex(tiles, method=method, dims=dims, leaf_size=32)
    monkeypatch.setattr(candidates, "PROJECT_ROWS", 7)  # 143 blocks, the last of 6 rows
    blocks = CandidateIndex(tiles, method=method, dims=dims, leaf_size=32)
    np.testing.assert_array_equal(blocks.basis, whole.basis)
    for values in (tiles, cells):
        at_once = np.einsum("nw,dw->nd", values.astype(np.float64) - whole._centre, whole.basis)
        np.testing.assert_array_equal(whole.project(values), at_once)
        np.testing.assert_array_equal(blocks.project(values), at_once)
    for found, again in zip(
        whole.query(cells, 5, shortlist=100), blocks.query(cells, 5, shortlist=100), strict=True
    ):
        np.testing.assert_array_equal(found, again)


@pytest.mark.parametrize(
    ("tiles", "options", "match"),
    [
        (np.zeros((0, WIDTH), np.int16), {}, "no tiles"),
        (np.zeros((5, 4), np.int16), {}, "triples"),
        (np.zeros((5, WIDTH), np.int16), {"method": "median"}, "method"),
        (np.zeros((5, WIDTH), np.int16), {"dims": 0}, "dims"),
        (np.zeros((5, WIDTH), np.int16), {"dims": WIDTH + 1}, "dims"),
        (np.zeros((5, WIDTH), np.int16), {"leaf_size": 0}, "leaf_size"),
        (np.zeros((5, WIDTH), np.float32), {}, "integer"),
    ],
)
def test_bad_tiles_or_options_are_refused(tiles: NDArray, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CandidateIndex(tiles, **options)


@pytest.mark.parametrize(
    ("width", "k", "shortlist", "match"),
    [
        (WIDTH, 0, None, "k must be"),
        (WIDTH, 11, None, "k must be"),
        (WIDTH, 3, 2, "shortlist must be"),
        (WIDTH - 3, 1, None, "values per descriptor"),
    ],
)
def test_bad_query_arguments_are_refused(
    width: int, k: int, shortlist: int | None, match: str
) -> None:
    index = CandidateIndex(np.arange(10 * WIDTH, dtype=np.int16).reshape(10, WIDTH))
    with pytest.raises(ValueError, match=match):
        index.query(np.zeros((2, width), np.int16), k, shortlist=shortlist)
