from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mosaicfast
from mosaicfast import Mosaic, MosaicfastError
from mosaicfast.matching import default_max_uses

from .conftest import EXACT, palette_target


def test_exact_colours_get_their_own_tiles(
    palette_tiles: Path, layout: np.ndarray, tmp_path: Path
) -> None:
    target = tmp_path / "target.png"
    palette_target(layout).save(target)
    rows, cols = layout.shape
    mosaic = mosaicfast.build(target, palette_tiles, cols=cols, tile_size=12, **EXACT)
    assert isinstance(mosaic, Mosaic)
    assert mosaic.assignment.shape == (rows, cols)
    assert np.array_equal(mosaic.assignment, layout)
    assert (mosaic.distances == 0).all()
    assert mosaic.image.size == (cols * 12, rows * 12)
    # The tile of cell (r, c) is the file named for its palette colour.
    assert mosaic.sources[int(layout[2, 3])].path.name == f"tile{layout[2, 3]:02d}.png"
    expected = np.asarray(palette_target(layout, cell=12))
    assert np.array_equal(np.asarray(mosaic.image), expected)


def test_a_pil_image_target_and_a_list_of_tile_paths(
    palette_tiles: Path, layout: np.ndarray
) -> None:
    files = sorted(palette_tiles.glob("*.png"))
    mosaic = mosaicfast.build(
        palette_target(layout), files, cols=layout.shape[1], tile_size=4, **EXACT
    )
    assert np.array_equal(mosaic.assignment, layout)


def test_same_result_for_any_thread_count(photo_target: Path, photo_tiles: Path) -> None:
    one = mosaicfast.build(photo_target, photo_tiles, cols=24, tile_size=10, threads=1)
    two = mosaicfast.build(photo_target, photo_tiles, cols=24, tile_size=10, threads=2)
    assert np.array_equal(one.assignment, two.assignment)
    assert np.array_equal(np.asarray(one.image), np.asarray(two.image))


def test_vary_picks_among_the_best_matches_reproducibly(
    photo_target: Path, photo_tiles: Path
) -> None:
    def build(**options: object) -> mosaicfast.Mosaic:
        return mosaicfast.build(photo_target, photo_tiles, cols=24, tile_size=8, **EXACT, **options)

    best = build()
    varied, again, other = build(vary=4, seed=1), build(vary=4, seed=1), build(vary=4, seed=2)
    assert np.array_equal(varied.assignment, again.assignment)
    assert not np.array_equal(varied.assignment, other.assignment)
    assert not np.array_equal(varied.assignment, best.assignment)
    # Varying trades a little fidelity for variety: never better than the best.
    assert (varied.distances >= best.distances).all()
    assert len(np.unique(varied.assignment)) > len(np.unique(best.assignment))


def test_the_mosaic_resembles_the_target(photo_target: Path, photo_tiles: Path) -> None:
    mosaic = mosaicfast.build(photo_target, photo_tiles, cols=24, tile_size=10)
    target = Image.open(photo_target).convert("RGB").resize((24, 16), Image.Resampling.BOX)
    seen = mosaic.image.resize((24, 16), Image.Resampling.BOX)
    error = np.abs(np.asarray(target, float) - np.asarray(seen, float)).mean()
    assert error < 25, error


def test_save_picks_the_format_from_the_suffix(palette_tiles: Path, tmp_path: Path) -> None:
    mosaic = mosaicfast.build(palette_target(np.zeros((2, 3), int)), palette_tiles, cols=3)
    for suffix, fmt in [(".png", "PNG"), (".jpg", "JPEG"), (".tiff", "TIFF"), (".webp", "WEBP")]:
        path = mosaic.save(tmp_path / f"out{suffix}")
        with Image.open(path) as written:
            assert written.format == fmt
            assert written.size == mosaic.image.size
    with pytest.raises(MosaicfastError, match="unsupported output format"):
        mosaic.save(tmp_path / "out.gif")
    assert not (tmp_path / "out.gif").exists()


def test_bad_tiles_are_skipped_and_reported(palette_tiles: Path, layout: np.ndarray) -> None:
    (palette_tiles / "zero.jpg").write_bytes(b"")
    (palette_tiles / "notes.png").write_text("not a picture")
    good = (palette_tiles / "tile00.png").read_bytes()
    (palette_tiles / "truncated.png").write_bytes(good[: len(good) // 2])
    seen: list[Path] = []
    mosaic = mosaicfast.build(
        palette_target(layout),
        palette_tiles,
        cols=layout.shape[1],
        on_skip=lambda path, reason: seen.append(path),
        **EXACT,
    )
    names = sorted(p.name for p, _ in mosaic.skipped)
    assert names == ["notes.png", "truncated.png", "zero.jpg"]
    assert sorted(p.name for p in seen) == names
    assert len(mosaic.sources) == 12
    assert np.array_equal(mosaic.assignment, layout)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": 0}, "grid"),
        ({"grid": 17}, "grid"),
        ({"vary": 0}, "vary"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_options_are_refused(palette_tiles: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(MosaicfastError, match=message):
        mosaicfast.build(palette_target(np.zeros((2, 2), int)), palette_tiles, **kwargs)


def test_errors_name_parameters_not_flags(palette_tiles: Path, tmp_path: Path) -> None:
    target = palette_target(np.zeros((2, 2), int))
    with pytest.raises(MosaicfastError, match=r"\(cols\).*\(max_cells\)") as err:
        mosaicfast.build(target, palette_tiles, cols=5000, max_cells=100)
    assert err.value.parameters == ("cols", "max_cells") and "--" not in str(err.value)
    with pytest.raises(MosaicfastError, match="give print_size or tile_size, not both"):
        mosaicfast.build(target, palette_tiles, print_size="10x10cm", tile_size=20)


def test_the_old_names_of_sources_still_work_with_a_warning(palette_tiles: Path) -> None:
    target = palette_target(np.zeros((2, 2), int))
    with pytest.warns(DeprecationWarning, match="sources"):
        mosaic = mosaicfast.build(target, tiles=palette_tiles, cols=2, tile_size=8)
    with pytest.warns(DeprecationWarning, match=r"Mosaic\.sources"):
        assert mosaic.tiles is mosaic.sources
    with (
        pytest.raises(MosaicfastError, match="not tiles as well"),
        pytest.warns(DeprecationWarning),
    ):
        mosaicfast.build(target, palette_tiles, tiles=palette_tiles)


def test_no_usable_tile_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    with pytest.raises(MosaicfastError, match="no usable tile"):
        mosaicfast.build(palette_target(np.zeros((2, 2), int)), empty)


def test_manifest_lists_every_cell(palette_tiles: Path, layout: np.ndarray, tmp_path: Path) -> None:
    import csv
    import json

    mosaic = mosaicfast.build(palette_target(layout), palette_tiles, cols=layout.shape[1], **EXACT)
    data = json.loads(mosaic.write_manifest(tmp_path / "m.json").read_text())
    assert len(data["cells"]) == layout.size
    assert data["meta"]["rows"] == layout.shape[0]
    cell = data["cells"][layout.shape[1] + 2]
    tile_id = mosaic.sources[int(layout[1, 2])].tile_id
    assert (cell["row"], cell["col"], cell["tile"]) == (1, 2, tile_id)
    assert cell["time"] is None
    assert cell["source"].endswith(f"tile{layout[1, 2]:02d}.png")
    assert cell["right"] - cell["left"] == cell["bottom"] - cell["top"] > 0
    with (mosaic.write_manifest(tmp_path / "m.csv")).open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == layout.size
    assert int(rows[-1]["tile"]) == mosaic.sources[int(layout[-1, -1])].tile_id


def flat_sources(folder: Path) -> np.ndarray:
    """Per tile of the folder's cache library (in a mosaic's ``sources`` order), whether
    it is flat by the matching's rule."""
    from mosaicfast.library.cache import folder_library
    from mosaicfast.library.store import Library
    from mosaicfast.matching import FLAT_GRID, flat_tiles

    with Library.open(folder_library([folder])) as lib:
        slots = lib.tiles_in_use().slots
        desc = lib.tile_descriptors(FLAT_GRID, slots, space="ylab")
        return flat_tiles(desc, lambda rows: lib.thumbnails(slots[rows]), lib.thumb_size)


def repeats_nearby(grid: np.ndarray, y: int, x: int) -> int:
    """How many other cells within Chebyshev distance 1 hold the tile of ``(y, x)``."""
    around = grid[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]
    return int((around == grid[y, x]).sum()) - 1


def test_the_defaults_never_put_a_textured_tile_next_to_itself(
    photo_target: Path, photo_tiles: Path
) -> None:
    grid = mosaicfast.build(photo_target, photo_tiles, cols=20, tile_size=8).assignment
    flat = flat_sources(photo_tiles)
    rows, cols = grid.shape
    for y in range(rows):
        for x in range(cols):
            if not flat[grid[y, x]]:
                assert repeats_nearby(grid, y, x) == 0, (y, x)
            else:  # a flat tile counts as 20: at most 19 repeats around it
                assert repeats_nearby(grid, y, x) <= 19
    # Textured tiles at most the default max uses, flat ones at most 20 times that.
    uses = np.bincount(grid.ravel(), minlength=len(flat))
    limit = default_max_uses(grid.size, len(flat))
    assert uses[~flat].max() <= limit and uses[flat].max() <= 20 * limit
    # The folder has flat tiles and the target's smooth areas take them side by side.
    assert flat[grid].any()
    assert any(flat[grid[y, x]] and repeats_nearby(grid, y, x) for y in range(rows)
               for x in range(cols))  # fmt: skip
    # Weight 1: no tile at all next to itself.
    strict = mosaicfast.build(photo_target, photo_tiles, cols=20, tile_size=8, flat_weight=1)
    grid = strict.assignment
    assert all(repeats_nearby(grid, y, x) == 0 for y in range(rows) for x in range(cols))


@pytest.mark.parametrize("assign", ["penalty", "optimal"])
def test_quarter_turns_keep_the_rules_and_are_recorded_and_painted(
    photo_target: Path, photo_tiles: Path, tmp_path: Path, assign: str
) -> None:
    """``rotate``: tiles compete in 8 orientations; a tile is one tile whatever its
    orientation (uses, min distance; the optimal assignment's each tile once); the
    manifest records each cell's orientation, the image shows each tile so laid, and the
    thread count changes nothing."""
    cols = 20 if assign == "penalty" else 8  # each tile once: fewer cells than tiles
    options = {"cols": cols, "tile_size": 8, "rotate": True, "blend": 0.0, "assign": assign}
    one = mosaicfast.build(photo_target, photo_tiles, threads=1, **options)  # type: ignore[arg-type]
    two = mosaicfast.build(photo_target, photo_tiles, threads=2, **options)  # type: ignore[arg-type]
    for name in ("assignment", "flipped", "turns"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    np.testing.assert_array_equal(np.asarray(one.image), np.asarray(two.image))
    assert one.options["rotate"]
    assert one.turns is not None and len(np.unique(one.turns)) >= 2  # tiles are turned
    assert one.flipped is not None
    grid, flat = one.assignment, flat_sources(photo_tiles)
    rows, cols = grid.shape
    for y in range(rows):
        for x in range(cols):
            assert repeats_nearby(grid, y, x) <= (19 if flat[grid[y, x]] else 0), (y, x)
    uses = np.bincount(grid.ravel(), minlength=len(flat))
    limit = default_max_uses(grid.size, len(flat))
    assert uses[~flat].max() <= limit and uses[flat].max() <= 20 * limit
    if assign == "optimal":
        assert uses.max() == 1
    # Each cell shows its tile mirrored, then turned, as the manifest says.
    image = np.asarray(one.image)
    pixels = one.painter.load_tiles(np.arange(len(flat)))
    for (y, x), tile in np.ndenumerate(grid):
        laid = pixels[tile][:, ::-1] if one.flipped[y, x] else pixels[tile]
        laid = np.rot90(laid, int(one.turns[y, x]))
        np.testing.assert_array_equal(image[8 * y : 8 * y + 8, 8 * x : 8 * x + 8], laid)
    manifest = tmp_path / "m.json"
    one.write_manifest(manifest)
    records = json.loads(manifest.read_text())["cells"]
    assert [r["rotation"] for r in records] == (90 * one.turns.astype(int)).ravel().tolist()
    assert [r["flipped"] for r in records] == one.flipped.ravel().tolist()
    # Without rotate, no tile is turned and the manifest says 0 everywhere.
    upright = mosaicfast.build(photo_target, photo_tiles, cols=20, tile_size=8, blend=0.0)
    assert upright.turns is not None and not upright.turns.any()


def test_the_defaults_give_the_same_mosaic_on_any_thread_count(
    photo_target: Path, photo_tiles: Path
) -> None:
    one = mosaicfast.build(photo_target, photo_tiles, cols=20, tile_size=8, threads=1)
    two = mosaicfast.build(photo_target, photo_tiles, cols=20, tile_size=8, threads=2)
    assert one.options["flips"] and one.options["descriptor"] == "ylab"
    assert one.flipped is not None and one.flipped.any()  # mirror images are used
    np.testing.assert_array_equal(one.assignment, two.assignment)
    np.testing.assert_array_equal(one.flipped, two.flipped)
    np.testing.assert_array_equal(np.asarray(one.image), np.asarray(two.image))


def test_print_size_in_the_api_records_crop_and_dpi(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    mosaic = mosaicfast.build(photo_target, photo_tiles, print_size="3x1in", dpi=40, cols=12)
    assert mosaic.plan.tile_size == 10 and mosaic.plan.output_size == (120, 40)
    assert mosaic.target.size == (120, 40)
    assert mosaic.options["crop"] == (0, 20, 120, 60) and mosaic.dpi == 40
    manifest = json.loads(mosaic.write_manifest(tmp_path / "m.json").read_text())["meta"]
    assert manifest["print_size"] == "3x1in" and manifest["crop"] == [0, 20, 120, 60]
    default = mosaicfast.build(photo_target, photo_tiles, print_size="1x1in", cols=10)
    assert default.dpi == 300 and default.plan.tile_size == 30
    with pytest.raises(MosaicfastError, match="not both"):
        mosaicfast.build(photo_target, photo_tiles, print_size="1x1in", tile_size=10)


def test_the_image_is_composed_once_on_demand(photo_target: Path, photo_tiles: Path) -> None:
    mosaic = mosaicfast.build(photo_target, photo_tiles, cols=12, tile_size=8)
    assert "render" not in mosaic.timings
    assert mosaic.image is mosaic.image and "render" in mosaic.timings


@pytest.mark.parametrize("adaptive", [False, True])
def test_a_mosaic_saved_before_it_is_composed_is_painted_once_and_kept(
    photo_target: Path, photo_tiles: Path, tmp_path: Path, adaptive: bool
) -> None:
    # Saving paints the bands into the kept image as the writer takes them: the file is
    # the composed image's, byte for byte, and the image is not painted again afterwards.
    options = {"cols": 12, "tile_size": 16, "adaptive": adaptive}
    saved = mosaicfast.build(photo_target, photo_tiles, **options)
    saved.painter.band_pixels = 12 * 16 * 16  # one cell row per band: several bands
    if adaptive:
        saved.painter.band_height = 16
    path = saved.save(tmp_path / "m.png")
    painted = saved.timings["render"]
    assert saved._pixels is not None
    other = mosaicfast.build(photo_target, photo_tiles, **options)
    composed = other.image
    with Image.open(path) as written:
        np.testing.assert_array_equal(np.asarray(written), np.asarray(composed))
    # The writer cuts the same bands either way, so the files are the same bytes.
    assert path.read_bytes() == other.save(tmp_path / "composed.png").read_bytes()
    np.testing.assert_array_equal(np.asarray(saved.image), np.asarray(composed))
    assert saved.timings["render"] == painted
