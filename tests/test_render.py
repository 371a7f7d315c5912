from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mosaicfast import _core
from mosaicfast._reference.compose import compose, overlay
from mosaicfast.kernels.blend import blend_tiles
from mosaicfast.render import BLEND_SAMPLES, Painter

from .conftest import PALETTE

LANCZOS = Image.Resampling.LANCZOS


def _palette_loader(size: int):
    return lambda tile: np.full((size, size, 3), PALETTE[tile], np.uint8)


def test_a_known_assignment_gives_known_pixels() -> None:
    assignment = np.array([[0, 1, 2], [3, 0, 11]])
    out = compose(assignment, 8, _palette_loader(8))
    assert out.shape == (16, 24, 3)
    for (r, c), tile in np.ndenumerate(assignment):
        block = out[r * 8 : (r + 1) * 8, c * 8 : (c + 1) * 8]
        assert (block == PALETTE[tile]).all(), (r, c)


def test_each_distinct_tile_is_loaded_once() -> None:
    calls: list[int] = []

    def load(tile: int) -> np.ndarray:
        calls.append(tile)
        return np.full((4, 4, 3), tile, np.uint8)

    out = compose(np.array([[5, 5, 2], [2, 5, 9]]), 4, load, workers=2)
    assert sorted(calls) == [2, 5, 9]
    assert out[4:, 8:].min() == out[4:, 8:].max() == 9


def test_threads_do_not_change_the_image() -> None:
    assignment = np.arange(12).reshape(3, 4) % 5
    one = compose(assignment, 6, _palette_loader(6), workers=1)
    two = compose(assignment, 6, _palette_loader(6), workers=2)
    assert np.array_equal(one, two)


# -- the band painter against the previous all-Python path ---------------------------------


def _python_path(
    pixels: np.ndarray,
    assignment: np.ndarray,
    flipped: np.ndarray,
    target: Image.Image,
    blend: float,
    overlay_alpha: float,
    turns: np.ndarray | None = None,
) -> np.ndarray:
    """The render stage as it was before the core painted bands: paint every cell
    with NumPy, mirror flipped tiles, turn turned ones (``np.rot90``), blend the
    transposed cells, overlay with PIL."""
    rows, cols = assignment.shape
    t = pixels.shape[1]
    image = np.zeros((rows * t, cols * t, 3), np.uint8)
    for (r, c), tile in np.ndenumerate(assignment):
        px = pixels[tile][:, ::-1] if flipped[r, c] else pixels[tile]
        px = np.rot90(px, 0 if turns is None else turns[r, c])
        image[r * t : (r + 1) * t, c * t : (c + 1) * t] = px
    if blend > 0:
        # The blend's statistics come from the target at BLEND_SAMPLES px per cell side,
        # or at the output size when the target is laid over too.
        s = t if overlay_alpha > 0 else min(t, BLEND_SAMPLES)
        under = np.asarray(target.resize((cols * s, rows * s), LANCZOS))

        def cells(a: np.ndarray, side: int = t) -> np.ndarray:
            stacked = a.reshape(rows, side, cols, side, 3).transpose(0, 2, 1, 3, 4)
            return np.ascontiguousarray(stacked.reshape(rows * cols, side, side, 3))

        blended = blend_tiles(cells(image), cells(under, s), blend)
        image = blended.reshape(rows, cols, t, t, 3).transpose(0, 2, 1, 3, 4)
        image = np.ascontiguousarray(image.reshape(rows * t, cols * t, 3))
    result = Image.fromarray(image)
    if overlay_alpha > 0:
        result = overlay(result, target, overlay_alpha)
    return np.asarray(result)


def _random_job(seed: int, rows: int = 5, cols: int = 7, t: int = 9) -> dict:
    rng = np.random.default_rng(seed)
    n = 6
    pixels = np.clip(rng.normal(128, 60, (n, t, t, 3)), 0, 255).astype(np.uint8)
    target = Image.fromarray(rng.integers(0, 256, (23, 31, 3), dtype=np.uint8))
    return {
        "pixels": pixels,
        "assignment": rng.integers(0, n, (rows, cols)),
        "flipped": rng.random((rows, cols)) < 0.4,
        "turns": rng.integers(0, 4, (rows, cols)).astype(np.uint8),
        "target": target,
    }


def _painter(job: dict, **options: object) -> Painter:
    pixels = job["pixels"]
    return Painter(job["assignment"], pixels.shape[1], lambda tiles: pixels[tiles],
                   flipped=job["flipped"], turns=job["turns"], target=job["target"],
                   **options)  # fmt: skip


@pytest.mark.parametrize(("blend", "overlay_alpha"), [(0.0, 0.0), (0.5, 0.0), (0.0, 0.35),
                                                      (1.0, 0.6), (0.3, 1.0)])  # fmt: skip
def test_the_painter_matches_the_python_path_bit_for_bit(
    blend: float, overlay_alpha: float
) -> None:
    for seed in range(3):
        job = _random_job(seed)
        want = _python_path(job["pixels"], job["assignment"], job["flipped"], job["target"],
                            blend, overlay_alpha, job["turns"])  # fmt: skip
        got = _painter(job, blend=blend, overlay=overlay_alpha).compose()
        assert np.array_equal(got, want), (seed, np.argwhere(got != want)[:3])


def test_bands_of_any_height_equal_the_whole_image() -> None:
    job = _random_job(7, rows=11, cols=4, t=6)
    whole = _painter(job, blend=0.5, overlay=0.2).compose()
    for band_pixels in (1, 3 * 4 * 36, 10**9):
        painter = _painter(job, blend=0.5, overlay=0.2, band_pixels=band_pixels)
        bands = list(painter.bands())
        assert len(bands) == len(painter.band_starts())
        assert np.array_equal(np.concatenate(bands), whole)


def test_the_painter_does_not_depend_on_the_thread_count() -> None:
    job = _random_job(9, rows=8, cols=9, t=7)
    images = [_painter(job, blend=0.6, overlay=0.1, threads=n).compose() for n in (1, 2)]
    assert np.array_equal(images[0], images[1])


def test_the_core_painter_refuses_bad_input_with_value_errors() -> None:
    tiles = np.zeros((2, 4, 4, 3), np.uint8)
    out = np.zeros((4, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="out of range"):
        _core.paint_band(tiles, np.array([[0, 2]]), out)
    with pytest.raises(ValueError, match="out must have shape"):
        _core.paint_band(tiles, np.array([[0, 1]]), np.zeros((4, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="target"):
        _core.paint_band(tiles, np.array([[0, 1]]), out, blend=0.5)
    with pytest.raises(ValueError, match="overlay"):
        _core.paint_band(tiles, np.array([[0, 1]]), out, under=out.copy(), overlay=1.5)
    with pytest.raises(ValueError, match="rows"):
        _core.resize(tiles, 3, 3, row_start=2, row_stop=5)


def test_bands_reuse_the_tiles_of_the_band_before() -> None:
    job = _random_job(11, rows=6, cols=5, t=4)
    pixels, loaded = job["pixels"], []

    def stack(tiles: np.ndarray) -> np.ndarray:
        loaded.extend(tiles.tolist())
        return pixels[tiles]

    painter = Painter(job["assignment"], 4, stack, flipped=job["flipped"], turns=job["turns"],
                      band_pixels=5 * 16)  # fmt: skip
    assert np.array_equal(np.concatenate(list(painter.bands())), _painter(job).compose())
    expected = len(np.unique(job["assignment"][0]))
    for row in range(1, 6):
        new = set(job["assignment"][row].tolist()) - set(job["assignment"][row - 1].tolist())
        expected += len(new)
    assert len(loaded) == expected
