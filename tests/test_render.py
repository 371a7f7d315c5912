from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mosaicfast import ImageReadError, TileSource
from mosaicfast.render import compose

from .conftest import PALETTE


def _sources(folder: Path) -> list[TileSource]:
    return [TileSource(path=p, box=(0, 0, 40, 40)) for p in sorted(folder.glob("*.png"))]


def test_a_known_assignment_gives_known_pixels(palette_tiles: Path) -> None:
    assignment = np.array([[0, 1, 2], [3, 0, 11]])
    out = compose(assignment, _sources(palette_tiles), 8)
    assert out.shape == (16, 24, 3)
    for (r, c), tile in np.ndenumerate(assignment):
        block = out[r * 8 : (r + 1) * 8, c * 8 : (c + 1) * 8]
        assert (block == PALETTE[tile]).all(), (r, c)


def test_threads_do_not_change_the_image(palette_tiles: Path) -> None:
    assignment = np.arange(12).reshape(3, 4) % 5
    one = compose(assignment, _sources(palette_tiles), 6, workers=1)
    two = compose(assignment, _sources(palette_tiles), 6, workers=2)
    assert np.array_equal(one, two)


def test_a_vanished_source_uses_the_fallback_and_is_reported(palette_tiles: Path) -> None:
    sources = _sources(palette_tiles)
    sources[1].path.unlink()
    reported: list[tuple[str, str]] = []
    out = compose(
        np.array([[0, 1]]),
        sources,
        4,
        fallback=lambda tile, size: np.full((size, size, 3), 7, np.uint8),
        on_skip=lambda path, reason: reported.append((path, reason)),
    )
    assert (out[:, 4:] == 7).all()
    assert (out[:, :4] == PALETTE[0]).all()
    assert reported and reported[0][0].endswith("tile01.png")
    with pytest.raises(ImageReadError, match="tile01"):
        compose(np.array([[1]]), sources, 4)
