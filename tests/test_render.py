from __future__ import annotations

import numpy as np

from mosaicfast.render import compose, resize_tile

from .conftest import PALETTE


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


def test_resize_tile_keeps_a_solid_colour() -> None:
    tile = np.full((64, 64, 3), (10, 200, 30), np.uint8)
    assert resize_tile(tile, 64) is tile
    small = resize_tile(tile, 50)
    assert small.shape == (50, 50, 3)
    assert (small == (10, 200, 30)).all()
