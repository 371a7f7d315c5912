"""Adaptive cells (``build(adaptive=True)``, docs/adaptive.md): the split/merge rule, the
diversity constraints on cells of several sizes, their render, manifest and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mosaicfast
from mosaicfast.errors import MosaicfastError
from mosaicfast.io.manifest import read_assignment, read_cells
from mosaicfast.kernels.assign import nearby_squares, penalised_greedy
from mosaicfast.plan import Cells, GridPlan, plan_cells
from mosaicfast.quality import diversity, evaluate
from mosaicfast.render import CellPainter, Painter

from .test_cli import run

GRID = 4


def corner_detail(plan: GridPlan, levels: int, seed: int = 0) -> np.ndarray:
    """Luma samples of a flat target whose top-left 2 x 2 cells hold noise."""
    side = GRID << levels
    luma = np.full((plan.rows * side, plan.cols * side), 120.0)
    luma[: 2 * side, : 2 * side] = np.random.default_rng(seed).uniform(0, 255, (2 * side,) * 2)
    return luma


def covers_once(cells: Cells, size: tuple[int, int]) -> bool:
    covered = np.zeros(size[::-1], int)
    for x, y, s in zip(cells.x, cells.y, cells.size, strict=True):
        covered[y : y + s, x : x + s] += 1
    return bool((covered == 1).all())


@pytest.mark.parametrize("levels", [1, 2])
def test_a_detailed_corner_splits_and_flat_cells_merge_at_equal_count(levels: int) -> None:
    plan = GridPlan(rows=6, cols=8, tile_size=16)
    cells = plan_cells(corner_detail(plan, levels), plan, GRID, levels)
    assert len(cells) == plan.cells  # three cells more per split, three fewer per merge
    assert covers_once(cells, plan.output_size)
    small = cells.size < 16
    assert small.sum() >= 4 and (cells.x[small] < 32).all() and (cells.y[small] < 32).all()
    assert (cells.size == 32).sum() >= 1  # flat groups merged
    merged = cells.size == 32
    assert ((cells.x[merged] >= 32) | (cells.y[merged] >= 32)).all()
    if levels == 2:
        assert (cells.size == 4).any()


def test_a_flat_target_keeps_the_plain_grid() -> None:
    plan = GridPlan(rows=4, cols=6, tile_size=8)
    cells = plan_cells(np.full((4 * GRID * 2, 6 * GRID * 2), 90.0), plan, GRID, 1)
    assert (cells.size == 8).all() and len(cells) == 24
    assert list(cells.y // 8 * 6 + cells.x // 8) == list(range(24))  # row-major


def test_the_plan_depends_only_on_the_target() -> None:
    plan = GridPlan(rows=6, cols=8, tile_size=16)
    rng = np.random.default_rng(5)
    luma = rng.uniform(0, 255, (6 * GRID * 2, 8 * GRID * 2))
    a, b = (plan_cells(luma, plan, GRID, 1) for _ in range(2))
    assert all((getattr(a, k) == getattr(b, k)).all() for k in ("x", "y", "size"))
    assert len(a) == plan.cells and covers_once(a, plan.output_size)


def test_nearby_squares_are_those_less_than_the_gap_apart() -> None:
    plan = GridPlan(rows=6, cols=8, tile_size=16)
    cells = plan_cells(corner_detail(plan, 2), plan, GRID, 2)
    offsets, near = nearby_squares(cells.x, cells.y, cells.size, 16)
    for i in range(len(cells)):
        gap = np.maximum(
            np.maximum(cells.x - (cells.x[i] + cells.size[i]), cells.x[i] - (cells.x + cells.size)),
            np.maximum(cells.y - (cells.y[i] + cells.size[i]), cells.y[i] - (cells.y + cells.size)),
        )
        expected = set(np.flatnonzero(gap < 16).tolist()) - {i}
        assert set(near[offsets[i] : offsets[i + 1]].tolist()) == expected


def test_the_greedy_keeps_a_tile_away_from_touching_cells_of_any_size() -> None:
    # A 16-px cell (0) beside a 2 x 2 block of 8-px cells (1, 2 above 3, 4), gap 8: the
    # big cell is near 1 and 3 (touching), not 2 and 4 (8 px away); every cell's best
    # is tile 0, then 1, 2 ...
    cells = Cells.of([0, 16, 24, 16, 24], [0, 0, 0, 8, 8], [16, 8, 8, 8, 8])
    neighbours = nearby_squares(cells.x, cells.y, cells.size, 8)
    cand = np.tile(np.arange(5), (5, 1))
    cost = np.tile(np.arange(5.0), (5, 1))
    got, _ = penalised_greedy(cand, cost, np.arange(5), 5, penalty=0.0, shape=(1, 5),
                              neighbours=neighbours)  # fmt: skip
    assert list(got) == [0, 1, 0, 2, 3]


def test_diversity_on_cells_counts_pairs_sharing_an_edge() -> None:
    grid = np.array([[1, 1, 2], [3, 1, 2]])
    plain = diversity(grid)
    assert diversity(grid.ravel(), cell_map=np.arange(6).reshape(2, 3)) == plain
    # A 2-unit cell (0) beside two 1-unit cells (1, 2): pairs (0, 1), (0, 2), (1, 2).
    cell_map = np.array([[0, 0, 1], [0, 0, 2]])
    distinct, _, max_uses, adjacent = diversity(np.array([7, 7, 5]), cell_map=cell_map)
    assert (distinct, max_uses) == (2, 2) and adjacent == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape of the plain grid"):
        evaluate(Image.new("RGB", (4, 4)), Image.new("RGB", (4, 4)), [1, 2, 3], cell_map=cell_map)


def solid_tiles(colours: np.ndarray) -> dict[int, object]:
    """Loaders of tiles whose left half is ``colours[t]`` and right half its inverse."""

    def at(size: int):
        def load(tiles: np.ndarray) -> np.ndarray:
            out = np.empty((len(tiles), size, size, 3), np.uint8)
            out[:, :, : size // 2] = colours[tiles][:, None, None]
            out[:, :, size // 2 :] = 255 - colours[tiles][:, None, None]
            return out

        return load

    return {s: at(s) for s in (4, 8, 16, 32)}


def test_a_known_assignment_gives_known_pixels_at_each_cell_size() -> None:
    colours = np.array([[200, 10, 10], [10, 200, 10], [10, 10, 200], [90, 90, 0]], np.uint8)
    cells = Cells.of([0, 32, 48, 32, 40, 48, 32, 40], [0, 0, 0, 16, 16, 16, 24, 24],
                     [32, 16, 16, 8, 8, 16, 8, 8])  # fmt: skip
    assert covers_once(cells, (64, 32))
    tiles = np.array([0, 1, 2, 3, 0, 3, 1, 2])
    flipped = np.array([False, True, False, False, True, True, False, False])
    painter = CellPainter(cells.x, cells.y, cells.size, tiles, (64, 32), solid_tiles(colours),
                          flipped=flipped)  # fmt: skip
    image = painter.compose()
    assert image.shape == (32, 64, 3)
    for x, y, s, t, f in zip(cells.x, cells.y, cells.size, tiles, flipped, strict=True):
        left, right = colours[t], 255 - colours[t]
        if f:
            left, right = right, left
        assert (image[y : y + s, x : x + s // 2] == left).all()
        assert (image[y : y + s, x + s // 2 : x + s] == right).all()
    assert np.array_equal(np.concatenate(list(CellPainter(
        cells.x, cells.y, cells.size, tiles, (64, 32), solid_tiles(colours), flipped=flipped,
        band_pixels=64 * 32,
    ).bands())), image)  # fmt: skip


@pytest.mark.parametrize(("side", "overlay"), [(8, 0.2), (16, 0.0), (16, 0.2)])
def test_cells_of_one_size_paint_as_the_grid_painter_blends(side: int, overlay: float) -> None:
    rng = np.random.default_rng(2)
    colours = rng.integers(0, 256, (5, 3)).astype(np.uint8)
    target = Image.fromarray(rng.integers(0, 256, (12, 20, 3)).astype(np.uint8))
    assignment = rng.integers(0, 5, (3, 5))
    flipped = rng.random((3, 5)) < 0.5
    turns = rng.integers(0, 4, (3, 5)).astype(np.uint8)
    look = {"target": target, "blend": 0.5, "overlay": overlay}
    stacks = solid_tiles(colours)
    grid = Painter(assignment, side, stacks[side], flipped=flipped, turns=turns, **look).compose()
    y, x = np.divmod(np.arange(15), 5)
    cells = CellPainter(x * side, y * side, np.full(15, side), assignment.ravel(),
                        (5 * side, 3 * side), stacks, flipped=flipped.ravel(),
                        turns=turns.ravel(), **look).compose()  # fmt: skip
    assert np.array_equal(cells, grid)


@pytest.fixture
def detailed_target(tmp_path: Path) -> Path:
    """A 120 x 80 target: a smooth gradient with a noisy top-left corner."""
    y, x = np.mgrid[0:80, 0:120]
    pixels = np.stack([x * 2, y * 3, 255 - x - y], axis=-1).astype(np.float64)
    pixels[:30, :40] = np.random.default_rng(4).integers(0, 256, (30, 40, 3))
    path = tmp_path / "detailed.png"
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def adaptive(target: Path, tiles: Path, **options: object) -> mosaicfast.Mosaic:
    return mosaicfast.build(target, tiles, tile_size=16, cols=12, adaptive=True, **options)


def test_an_adaptive_mosaic_keeps_min_distance_and_max_uses(
    photo_tiles: Path, detailed_target: Path
) -> None:
    mosaic = adaptive(detailed_target, photo_tiles, min_distance=2, max_uses=3, flat_weight=1)
    cells, tiles = mosaic.cells, mosaic.assignment
    assert cells is not None and tiles.shape == (mosaic.plan.cells,)
    assert len(set(cells.size.tolist())) > 1
    assert np.bincount(tiles).max() <= 3
    for i in range(len(cells)):
        same = np.flatnonzero(tiles == tiles[i])
        same = same[same != i]
        gap = np.maximum(
            np.maximum(cells.x[same] - (cells.x[i] + cells.size[i]),
                       cells.x[i] - (cells.x[same] + cells.size[same])),
            np.maximum(cells.y[same] - (cells.y[i] + cells.size[i]),
                       cells.y[i] - (cells.y[same] + cells.size[same])),
        )  # fmt: skip
        assert (gap >= 2 * 16).all()
    assert mosaic.image.size == mosaic.plan.output_size
    assert mosaic.quality().adjacent_duplicates == 0


def test_an_adaptive_mosaic_does_not_depend_on_threads(
    photo_tiles: Path, detailed_target: Path
) -> None:
    one, two = (adaptive(detailed_target, photo_tiles, threads=t, blend=0.5) for t in (1, 2))
    assert np.array_equal(one.assignment, two.assignment)
    assert np.array_equal(one.flipped, two.flipped)
    assert one.cells is not None and two.cells is not None
    assert all((getattr(one.cells, k) == getattr(two.cells, k)).all() for k in ("x", "y", "size"))
    assert np.array_equal(np.asarray(one.image), np.asarray(two.image))


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_the_manifest_records_each_cell_and_reads_back(
    photo_tiles: Path, detailed_target: Path, tmp_path: Path, suffix: str
) -> None:
    out, manifest = tmp_path / "m.png", tmp_path / f"m{suffix}"
    mosaic = adaptive(detailed_target, photo_tiles, output=out, manifest=manifest)
    assert mosaic.cells is not None
    read = read_cells(manifest)
    assert read is not None
    (x, y, size), tiles, plain = read
    assert [list(a) for a in (x, y, size)] == [
        list(a) for a in (mosaic.cells.x, mosaic.cells.y, mosaic.cells.size)
    ]
    ids = [mosaic.sources[t].tile_id for t in mosaic.assignment]
    assert list(tiles) == ids
    assert plain == ((mosaic.plan.rows, mosaic.plan.cols) if suffix == ".json" else None)
    with pytest.raises(MosaicfastError, match=r"adaptive mosaic.*no grid"):
        read_assignment(manifest)
    if suffix == ".json":
        records = json.loads(manifest.read_text())["cells"]
        assert {"x", "y", "size", "tile", "flipped"} <= set(records[0])
        assert json.loads(manifest.read_text())["meta"]["adaptive"] is True


def test_a_damaged_cell_manifest_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("x,y,size,tile\n0,0,8,1\n4,0,8,2\n")
    with pytest.raises(MosaicfastError, match="overlap or leave a hole"):
        read_cells(manifest)


def test_evaluate_reads_an_adaptive_mosaic(
    photo_tiles: Path, detailed_target: Path, tmp_path: Path
) -> None:
    out, manifest = tmp_path / "m.png", tmp_path / "m.json"
    mosaic = adaptive(detailed_target, photo_tiles, output=out, manifest=manifest)
    code, output = run("evaluate", detailed_target, out, "--manifest", manifest)
    assert code == 0, output
    expected = mosaic.quality()
    assert f"SSIM (luma, 8 px per cell): {expected.ssim:.3f}" in output
    assert f"adjacent duplicates: {expected.adjacent_duplicates:.1%}" in output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--split-levels", 0], "--split-levels"),
        (["--split-levels", 4], "--split-levels"),
        (["--split-levels", 2, "--tile-size", 18], "cannot be halved 2 time(s)"),
    ],
)
def test_bad_adaptive_options_are_one_line_errors(
    photo_tiles: Path, detailed_target: Path, tmp_path: Path, args: list, words: str
) -> None:
    out = tmp_path / "o.png"
    code, output = run("build", detailed_target, "--tiles", photo_tiles, "-o", out, "--adaptive",
                       *args)  # fmt: skip
    assert code != 0 and words in output and not out.exists()
    assert output.strip().count("\n") == 0, output
    with pytest.raises(MosaicfastError):
        mosaicfast.build(detailed_target, photo_tiles, adaptive=True, tile_size=18, split_levels=2)


@pytest.mark.parametrize("match_size", [8, 9])
def test_each_cell_is_described_from_the_part_of_the_target_it_covers(
    match_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mosaicfast import api
    from mosaicfast.api import _adaptive_cell_arrays
    from mosaicfast.kernels.ssim import luminance
    from mosaicfast.options import MatchOptions

    # 12 x 8 cells of 10 target pixels, in blocks of 5 (half a cell) of random colours.
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, (16, 24, 3)).astype(np.uint8)
    target = Image.fromarray(np.repeat(np.repeat(blocks, 5, axis=0), 5, axis=1))
    plan = GridPlan(rows=8, cols=12, tile_size=16)
    # One merged cell (top left), one split cell beside it, the rest at the plan's size.
    squares = [(0, 0, 32)] + [(32 + dx, dy, 8) for dy in (0, 8) for dx in (0, 8)]
    squares += [(c * 16, r * 16, 16) for r in range(8) for c in range(12)
                if not (r < 2 and c < 2) and (r, c) != (0, 2)]  # fmt: skip
    cells = Cells.of(*zip(*squares, strict=True))
    assert covers_once(cells, plan.output_size)
    options = MatchOptions(metric="combined", match_size=match_size)
    _, luma = _adaptive_cell_arrays(target, plan, cells, options, threads=1)
    assert luma is not None
    pixels = luminance(np.asarray(target))
    scale = 10 / 16  # target pixels per output pixel
    for i, (x, y, s) in enumerate(zip(cells.x, cells.y, cells.size, strict=True)):
        left, top, side = (round(v * scale) for v in (x, y, s))
        region = pixels[top : top + side, left : left + side]
        assert abs(luma[i].mean() - region.mean()) < 1.5, (x, y, s)
    whole = _adaptive_cell_arrays(target, plan, cells, options, threads=1)
    monkeypatch.setattr(api, "_SAMPLE_BAND_PIXELS", 1)  # one row of cells at a time
    banded = _adaptive_cell_arrays(target, plan, cells, options, threads=1)
    assert all(np.array_equal(a, b) for a, b in zip(whole, banded, strict=True))


def test_the_report_refuses_an_adaptive_mosaic_up_front(
    photo_tiles: Path, detailed_target: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o.png"
    code, output = run("build", detailed_target, "--tiles", photo_tiles, "-o", out, "--adaptive",
                       "--tile-size", 16, "--report", tmp_path / "page")  # fmt: skip
    assert code == 1 and "adaptive mosaic has none yet" in output and not out.exists()
