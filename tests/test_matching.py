"""Matching modes: every guarantee checked on the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.optimize import linear_sum_assignment

import mosaicfast
from mosaicfast import MosaicfastError
from mosaicfast.kernels.descriptors import tile_descriptors
from mosaicfast.matching import (
    SCORE_UNIT,
    _colour_score,
    _distinct,
    _ssim_score,
    flat_tiles,
    match_cells,
)
from mosaicfast.options import FLAT_GRID, FLAT_STD, MatchOptions


def descriptors(count: int, seed: int, dim: int = 75) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 400, (count, 1))
    return (base + rng.integers(-30, 30, (count, dim))).astype(np.int16)


#: The matching these tests were written for: the plain best match on a 5 x 5 CIELAB
#: colour grid (75 values, as ``descriptors`` makes), no spacing of repeats, no mirror
#: images, the penalty and SSIM settings of before issue 14's defaults, and the greedy's
#: assignment as it makes it (no local improvement after it).
PLAIN = {
    "descriptor": "lab", "metric": "color", "assign": "best", "min_distance": 0,
    "flips": False, "penalty": 0.05, "ssim_weight": 0.5, "match_size": 16, "improve": 0,
}  # fmt: skip


def plain(**options: object) -> MatchOptions:
    """Match options over the plain best match (see :data:`PLAIN`) unless told."""
    return MatchOptions(**{**PLAIN, **options})  # type: ignore[arg-type]


CELLS = descriptors(12 * 16, 1)
TILES = descriptors(400, 2)
GRID = (12, 16)


def match(**options: object) -> np.ndarray:
    return match_cells(CELLS, TILES, GRID, plain(**options)).tile_indices  # type: ignore[arg-type]


def test_best_is_the_exhaustive_nearest() -> None:
    chosen = match()
    dist = ((CELLS[:, None, :].astype(int) - TILES[None].astype(int)) ** 2).sum(axis=2)
    assert np.array_equal(chosen, dist.argmin(axis=1))


@pytest.mark.parametrize("improve", [0, 2])
def test_max_uses_is_respected_even_when_candidates_run_out(improve: int) -> None:
    chosen = match(max_uses=1, candidates=2, improve=improve)
    assert len(np.unique(chosen)) == len(chosen)
    assert (chosen >= 0).all()
    assert np.bincount(match(max_uses=3, improve=improve), minlength=400).max() <= 3


@pytest.mark.parametrize("improve", [0, 2])
@pytest.mark.parametrize("r", [1, 2, 3])
def test_min_distance_is_respected(r: int, improve: int) -> None:
    grid = match(min_distance=r, candidates=8, improve=improve).reshape(GRID)
    rows, cols = GRID
    for y in range(rows):
        for x in range(cols):
            window = grid[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
            assert (window == grid[y, x]).sum() == 1, (y, x)


def test_the_penalty_spreads_uses() -> None:
    best, spread = match(), match(assign="penalty", penalty=0.2)
    assert len(np.unique(spread)) > len(np.unique(best))
    assert np.bincount(spread).max() < np.bincount(best).max()
    assert np.array_equal(match(assign="penalty", penalty=0.0), best)


def test_optimal_unique_assignment_is_the_dense_optimum() -> None:
    cells, tiles = CELLS[:60], TILES[:90]
    dist = ((cells[:, None, :].astype(int) - tiles[None].astype(int)) ** 2).sum(axis=2)
    r, c = linear_sum_assignment(dist)
    # Whatever the candidates, the colour optimum is over every cell and tile.
    for candidates in (90, 2):
        result = match_cells(cells, tiles, (6, 10), plain(assign="optimal", candidates=candidates))
        assert len(np.unique(result.tile_indices)) == 60
        np.testing.assert_array_equal(result.distance, dist[np.arange(60), result.tile_indices])
        assert result.distance.sum() == dist[r, c].sum()
        np.testing.assert_allclose(result.score, _colour_score(result.distance, 75, "lab"))
        assert result.optimal is not None
        assert result.optimal.status == "optimal (certified)"
        assert (result.optimal.total_cost, result.optimal.gap) == (dist[r, c].sum(), 0)


def test_optimal_with_ssim_is_optimal_over_reranked_candidates() -> None:
    rng = np.random.default_rng(3)
    cells, tiles = CELLS[:48], TILES[:60]
    cell_luma = rng.random((48, 16, 16), dtype=np.float32) * 255
    tile_luma = rng.random((60, 16, 16), dtype=np.float32) * 255
    options = plain(assign="optimal", metric="combined", candidates=5, max_uses=2)
    result = match_cells(
        cells, tiles, (6, 8), options, cell_luma=cell_luma, tile_luma=lambda t: tile_luma[t]
    )
    assert np.bincount(result.tile_indices).max() <= 2
    report = result.optimal
    assert report is not None and report.gap == 0 and report.candidates == 5
    assert report.status == "optimal over the re-ranked candidates (certified on them)"
    assert report.total_cost == np.rint(result.score / SCORE_UNIT).sum()
    # The colour optimum is among the candidates, so the re-ranked optimum is no worse.
    colour = match_cells(cells, tiles, (6, 8), plain(assign="optimal", max_uses=2))
    ssim = _ssim_score(
        colour.tile_indices[:, None], 60, cell_luma, lambda t: tile_luma[t], options,
        np.zeros(1, np.uint8), None,
    )  # fmt: skip
    colour_scores = 0.5 * colour.score + 0.5 * ssim[:, 0]
    assert report.total_cost <= np.rint(colour_scores / SCORE_UNIT).sum()


@pytest.mark.parametrize(("cells", "read_ahead"), [(48, True), (24, False)])
def test_optimal_reads_the_tiles_luma_ahead_for_libraries_near_the_cells(
    cells: int, read_ahead: bool
) -> None:
    import threading

    rng = np.random.default_rng(5)
    cell_luma = rng.random((cells, 16, 16), dtype=np.float32) * 255
    tile_luma = rng.random((60, 16, 16), dtype=np.float32) * 255
    asked: list[tuple[int, bool]] = []

    def load(tiles: np.ndarray) -> np.ndarray:
        asked.append((len(tiles), threading.current_thread() is threading.main_thread()))
        return tile_luma[tiles]

    options = plain(assign="optimal", metric="combined", candidates=5)
    result = match_cells(
        CELLS[:cells], TILES[:60], (cells // 8, 8), options, cell_luma=cell_luma, tile_luma=load
    )
    assert result.optimal is not None and result.optimal.gap == 0
    # 60 tiles for 48 cells: all read at once on another thread; for 24 cells (more
    # than LUMA_PREFETCH_TILES_PER_CELL tiles a cell) only the candidates, as asked.
    assert asked[0] == ((60, False) if read_ahead else (asked[0][0], True))
    assert read_ahead or asked[0][0] < 60


def test_a_library_too_small_for_unique_tiles_is_refused() -> None:
    with pytest.raises(MosaicfastError, match="too few"):
        match_cells(CELLS, TILES[:100], GRID, plain(assign="optimal"))
    assert (
        len(match_cells(CELLS, TILES[:100], GRID, plain(assign="optimal", max_uses=2)).tile_indices)
        == 192
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"penalty": -1.0}, "penalty"),
        ({"candidates": 0}, "candidates"),
        ({"metric": "psnr"}, "metric"),
        ({"assign": "lucky"}, "assign"),
        ({"max_uses": 0}, "max_uses"),
        ({"min_distance": -1}, "min_distance"),
        ({"match_size": 4}, "match_size"),
        ({"ssim_weight": 2.0}, "ssim_weight"),
        ({"ssim_window": "box"}, "ssim_window"),
    ],
)
def test_bad_options_are_refused(options: dict, words: str) -> None:
    # Errors name the parameter as the API spells it, and list it for the CLI's flags.
    with pytest.raises(MosaicfastError, match=f"^{words} must") as raised:
        match(**options)
    assert raised.value.parameters == (words,)


def test_the_local_improvement_lowers_the_greedys_total() -> None:
    rules = {"assign": "penalty", "penalty": 0.0, "max_uses": 2, "min_distance": 1}
    greedy = match_cells(CELLS, TILES, GRID, plain(**rules))  # type: ignore[arg-type]
    better = match_cells(CELLS, TILES, GRID, plain(**rules, improve=2))  # type: ignore[arg-type]
    report = better.improvement
    assert greedy.improvement is None and report is not None
    assert report.total_before == pytest.approx(greedy.score.sum())
    assert report.total_after == pytest.approx(better.score.sum())
    assert report.total_after < report.total_before
    assert np.bincount(better.tile_indices).max() <= 2


def test_threads_do_not_change_any_mode() -> None:
    improved = {"min_distance": 1, "max_uses": 2, "improve": 2}
    for options in ({}, {"assign": "penalty"}, {"assign": "optimal", "max_uses": 2},
                    {"min_distance": 2}, improved):  # fmt: skip
        one = match_cells(CELLS, TILES, GRID, plain(**options), threads=1)  # type: ignore[arg-type]
        two = match_cells(CELLS, TILES, GRID, plain(**options), threads=2)  # type: ignore[arg-type]
        assert np.array_equal(one.tile_indices, two.tile_indices)


def halves(left: tuple[int, int, int], right: tuple[int, int, int], size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), left)
    image.paste(right, (size // 2, 0, size, size))
    return image


def test_a_gaussian_window_wider_than_the_patches_is_refused() -> None:
    with pytest.raises(MosaicfastError, match="at least 11"):
        MatchOptions(ssim_window="gaussian", match_size=8)
    MatchOptions(ssim_window="gaussian", match_size=11)


def test_distinct_values_are_those_of_numpy_unique() -> None:
    rng = np.random.default_rng(4)
    for n, shape in [(1, (3, 2)), (40, (7, 5)), (5000, (300, 32))]:
        values = rng.integers(0, n, shape)
        used, local = _distinct(values, n)
        expected_used, expected_local = np.unique(values, return_inverse=True)
        np.testing.assert_array_equal(used, expected_used)
        np.testing.assert_array_equal(local, expected_local.reshape(shape))


def test_flips_use_mirrored_tiles(tmp_path: Path) -> None:
    folder = tmp_path / "tiles"
    folder.mkdir()
    halves((250, 0, 0), (0, 0, 250)).save(folder / "red-blue.png")
    Image.new("RGB", (64, 64), (120, 120, 120)).save(folder / "grey.png")
    target = halves((0, 0, 250), (250, 0, 0), 16)  # the mirror image
    plain = mosaicfast.build(target, folder, cols=1, tile_size=32, flips=False)
    mirrored = mosaicfast.build(target, folder, cols=1, tile_size=32)  # mirrors by default
    assert not plain.flipped[0, 0]
    assert (
        mirrored.flipped[0, 0]
        and mirrored.sources[int(mirrored.assignment[0, 0])].path.name == "red-blue.png"
    )
    pixels = np.asarray(mirrored.image)
    assert pixels[:, :12, 2].mean() > 200 and pixels[:, -12:, 0].mean() > 200
    assert mirrored.distances[0, 0] < plain.distances[0, 0]


@pytest.mark.parametrize("assign", ["penalty", "optimal"])
def test_rotate_uses_turned_tiles(tmp_path: Path, assign: str) -> None:
    folder = tmp_path / "tiles"
    folder.mkdir()
    halves((250, 0, 0), (0, 0, 250)).transpose(Image.Transpose.ROTATE_270).save(
        folder / "red-over-blue.png"
    )  # red above blue
    Image.new("RGB", (64, 64), (120, 120, 120)).save(folder / "grey.png")
    target = halves((250, 0, 0), (0, 0, 250), 16)  # red left of blue: a quarter turn
    options = {"cols": 1, "tile_size": 32, "blend": 0.0, "assign": assign}
    plain = mosaicfast.build(target, folder, **options)  # type: ignore[arg-type]
    turned = mosaicfast.build(target, folder, rotate=True, **options)  # type: ignore[arg-type]
    assert not plain.turns.any()
    assert turned.sources[int(turned.assignment[0, 0])].path.name == "red-over-blue.png"
    # Turned counter-clockwise once (mirrored or not: the tile is its own mirror image).
    assert turned.turns[0, 0] == 1
    pixels = np.asarray(turned.image)
    assert pixels[:, :12, 0].mean() > 200 and pixels[:, -12:, 2].mean() > 200
    assert turned.distances[0, 0] < plain.distances[0, 0]


def test_ssim_compares_each_candidate_in_its_orientation(tmp_path: Path) -> None:
    # Mean colours cannot tell stripes from stripes turned; SSIM can, so with rotate
    # the horizontal-stripe target takes the vertical tile turned.
    folder = tmp_path / "tiles"
    folder.mkdir()
    stripes(True).save(folder / "vertical.png")
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder / "grey.png")
    target = stripes(False, 64)
    mean = {"cols": 1, "descriptor": "lab", "grid": 1, "tile_size": 16, "match_size": 16}
    turned = mosaicfast.build(target, folder, metric="ssim", rotate=True, **mean)  # type: ignore[arg-type]
    # Compared upright, every orientation would score alike and the first (upright) win.
    assert turned.sources[int(turned.assignment[0, 0])].path.name == "vertical.png"
    assert turned.turns[0, 0] % 2 == 1


def stripes(vertical: bool, size: int = 64) -> Image.Image:
    ramp = (np.arange(size) // 4 % 2 * 255).astype(np.uint8)
    pixels = np.broadcast_to(ramp[None, :] if vertical else ramp[:, None], (size, size))
    return Image.fromarray(np.stack([pixels] * 3, axis=-1))


def test_ssim_tells_structures_apart_that_mean_colours_cannot(tmp_path: Path) -> None:
    folder = tmp_path / "tiles"
    folder.mkdir()
    stripes(True).save(folder / "vertical.png")
    stripes(False).save(folder / "horizontal.png")
    target = stripes(False, 64)
    mean = {"cols": 1, "descriptor": "lab", "grid": 1, "tile_size": 16, "match_size": 16}
    by_colour = mosaicfast.build(target, folder, **mean)  # type: ignore[arg-type]
    by_ssim = mosaicfast.build(target, folder, metric="ssim", **mean)  # type: ignore[arg-type]
    combined = mosaicfast.build(target, folder, metric="combined", **mean)  # type: ignore[arg-type]
    gaussian = mosaicfast.build(
        target,
        folder,
        metric="ssim",
        ssim_window="gaussian",
        **mean,  # type: ignore[arg-type]
    )
    chosen = {
        name: m.sources[int(m.assignment[0, 0])].path.name
        for name, m in (
            ("colour", by_colour), ("ssim", by_ssim), ("combined", combined), ("gauss", gaussian)
        )
    }  # fmt: skip
    assert chosen["ssim"] == chosen["combined"] == chosen["gauss"] == "horizontal.png"
    # Both tiles have the same 1 x 1 colour grid: the colour metric cannot tell (ties
    # go to the lower tile id, the first indexed).
    assert by_colour.distances[0, 0] == by_ssim.distances[0, 0]


def test_pruned_search_with_a_full_shortlist_is_exhaustive() -> None:
    exhaustive = match_cells(CELLS, TILES, GRID, plain(candidates=8))
    for method in ("pca", "mean"):
        pruned = match_cells(
            CELLS, TILES, GRID, plain(candidates=8, prune=method, shortlist=len(TILES))
        )
        assert np.array_equal(pruned.tile_indices, exhaustive.tile_indices)
        assert np.array_equal(pruned.distance, exhaustive.distance)
    default = match_cells(CELLS, TILES, GRID, plain(prune="pca"))
    assert (default.tile_indices == exhaustive.tile_indices).mean() >= 0.95
    unique = match_cells(CELLS, TILES, GRID, plain(prune="pca", assign="optimal"))
    assert len(np.unique(unique.tile_indices)) == len(CELLS)


def test_pruned_chunks_hold_the_probed_leaves_the_guard_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mosaicfast import matching

    options = plain(prune="pca")  # one candidate a cell, 4 leaves probed (400 tiles / 128)
    one_chunk = match_cells(CELLS, TILES, GRID, options)
    monkeypatch.setattr(matching, "CANDIDATES_PER_CHUNK", 40)
    chunks: list[int] = []
    search = matching._Space.search

    def counted(space: matching._Space, cells: np.ndarray, k: int) -> tuple:
        chunks.append(len(cells))
        return search(space, cells, k)

    monkeypatch.setattr(matching._Space, "search", counted)
    chunked = match_cells(CELLS, TILES, GRID, options)
    # 40 probed leaves a chunk, not 40 candidates: 10 cells, the last chunk the 2 left.
    assert chunks == [10] * 19 + [2]
    dim = CELLS.shape[1]
    tree = len(TILES) * dim * matching.PRUNE_BYTES_PER_VALUE
    guard = matching._pruning_memory(len(CELLS), len(TILES), dim, 1, options)
    assert guard == tree + 10 * 4 * matching.PRUNE_BYTES_PER_PROBE
    assert np.array_equal(chunked.tile_indices, one_chunk.tile_indices)
    assert np.array_equal(chunked.distance, one_chunk.distance)
    assert np.array_equal(chunked.score, one_chunk.score)


def test_tile_luma_is_loaded_once_per_tile_and_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from mosaicfast import matching

    rng = np.random.default_rng(3)
    table = rng.random((50, 4, 4)).astype(np.float32)
    asked: list[np.ndarray] = []

    def load(tiles: np.ndarray) -> np.ndarray:
        asked.append(tiles.copy())
        return table[tiles]

    remembered = matching._RememberedLuma(load, 50, 4)
    first, second = np.array([3, 7, 9]), np.array([40, 7, 3, 12, 40])
    np.testing.assert_array_equal(remembered(first), table[first])
    np.testing.assert_array_equal(remembered(second), table[second])
    np.testing.assert_array_equal(remembered(np.array([9, 12])), table[[9, 12]])
    assert [a.tolist() for a in asked] == [[3, 7, 9], [12, 40]]
    # Past the memory budget it loads what is asked, the same patches.
    monkeypatch.setattr(matching, "LUMA_MEMORY", 4 * table[0].nbytes)
    small = matching._RememberedLuma(load, 50, 4)
    np.testing.assert_array_equal(small(second), table[second])
    np.testing.assert_array_equal(small(first), table[first])
    np.testing.assert_array_equal(small(first), table[first])
    assert [a.tolist() for a in asked[2:]] == [[3, 7, 12, 40], [9], [3, 7, 9]]


def test_tile_luma_prefetch_loads_every_tile_once_on_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from mosaicfast import matching

    table = np.random.default_rng(4).random((30, 4, 4)).astype(np.float32)
    asked: list[tuple[list[int], str]] = []

    def load(tiles: np.ndarray) -> np.ndarray:
        asked.append((tiles.tolist(), threading.current_thread().name))
        return table[tiles]

    remembered = matching._RememberedLuma(load, 30, 4)
    remembered.prefetch(30)
    remembered.prefetch(30)  # once only
    np.testing.assert_array_equal(remembered(np.array([5, 2, 29])), table[[5, 2, 29]])
    np.testing.assert_array_equal(remembered(np.array([0, 5])), table[[0, 5]])
    assert len(asked) == 1
    assert asked[0][0] == list(range(30))
    assert asked[0][1] != threading.current_thread().name
    # Patches that would not all fit are loaded as asked, on this thread.
    monkeypatch.setattr(matching, "LUMA_MEMORY", 29 * table[0].nbytes)
    asked.clear()
    small = matching._RememberedLuma(load, 30, 4)
    small.prefetch(30)
    np.testing.assert_array_equal(small(np.array([7])), table[[7]])
    assert asked == [([7], threading.current_thread().name)]


def test_a_failed_tile_luma_prefetch_is_raised_by_the_next_call() -> None:
    from mosaicfast import matching

    def load(tiles: np.ndarray) -> np.ndarray:
        raise MosaicfastError("library/thumbs.u8: shorter than the catalog says")

    remembered = matching._RememberedLuma(load, 10, 4)
    remembered.prefetch(10)
    with pytest.raises(MosaicfastError, match="shorter than the catalog"):
        remembered(np.array([1]))


def _flat_by_every_pixel(thumbs: np.ndarray) -> np.ndarray:
    luma = thumbs.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return luma.reshape(len(thumbs), -1).std(axis=1) < FLAT_STD


@pytest.mark.parametrize("side", [64, 50, 39])
def test_flat_tiles_judge_every_pixel_not_the_grid(side: int) -> None:
    """A flat tile is one whose pixels' luma hardly varies: texture finer than the luma
    grid (which the grid's block means average away) keeps a tile from being flat, and
    reading only the tiles the grid lets through decides every tile as judging each
    one's pixels would, also when the grid does not divide the thumbnail (whose smaller
    blocks then make the grid vary more than the pixels)."""
    _, x = np.mgrid[0:side, 0:side]
    base = np.full((side, side, 3), 120)
    named = {
        "plain": base,
        "gentle slope": base + (x * 8 // side)[..., None],  # 0-7 across: std 2.3
        "stripes": base + 20 * (x % 2)[..., None],  # equal block means, std 10
        "steep slope": base + (x * 64 // side)[..., None],  # std 18
    }
    rng = np.random.default_rng(11)
    # Smooth fields with noise around the threshold, and slopes of every steepness.
    noisy = [base + rng.normal(0, s, (side, side, 3)) for s in np.linspace(2, 9, 40)]
    sloped = [base + (x * k / side)[..., None] + rng.normal(0, 1, (side, side, 3))
              for k in np.linspace(0, 30, 40)]  # fmt: skip
    # A tile whose pixels vary just under the threshold, all of it in the grid's first
    # block, the smallest when the grid does not divide the side: the grid varies more.
    first = -(-side // FLAT_GRID) if side % FLAT_GRID == 0 else side // FLAT_GRID
    share = first * first / (side * side)
    corner = np.zeros((side, side, 3))
    corner[:first, :first] = (FLAT_STD - 0.05) / np.sqrt(share * (1 - share))
    thumbs = np.stack([*named.values(), *noisy, *sloped, base + corner])
    thumbs = np.clip(np.round(thumbs), 0, 255).astype(np.uint8)
    grid = tile_descriptors(thumbs, FLAT_GRID, space="ylab")
    read: list[int] = []

    def thumbnails(rows: np.ndarray) -> np.ndarray:
        read.extend(rows.tolist())
        return thumbs[rows]

    flat = flat_tiles(grid, thumbnails, side)
    assert flat[:4].tolist() == [True, True, False, False]
    assert np.array_equal(flat, _flat_by_every_pixel(thumbs))
    assert 0 < flat.sum() < len(thumbs)  # both sides of the threshold are met
    assert flat[-1]  # the corner tile is flat, its thumbnail read however its grid varies
    assert len(read) < len(thumbs)  # the steep slopes were ruled out by the grid alone
    # The old rule (the grid's block means alone, below 2) took the stripes for flat.
    block = grid[:, : FLAT_GRID * FLAT_GRID].astype(np.float64) * 255 / 400
    assert block[2].std() < 2
