"""The pure-Python reference against values computed by hand from docs/descriptors.md."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mosaicfast._reference import descriptors as ref

# Sums of the rows of the sRGB -> XYZ matrix of the docs, i.e. X, Y, Z of linear white.
WHITE_X = 0.4124564 + 0.3575761 + 0.1804375
WHITE_Y = 0.2126729 + 0.7151522 + 0.0721750
WHITE_Z = 0.0193339 + 0.1191920 + 0.9503041
D65 = (0.95047, 1.0, 1.08883)


def cube_root(t: float) -> float:
    """Cube root by logarithms, independent of the reference's ``t ** (1/3)``."""
    return math.exp(math.log(t) / 3)


def grey_lab(v: float) -> tuple[float, float, float]:
    """CIELAB of the linear grey ``R = G = B = v`` (above the linear toe), by hand."""
    fx, fy, fz = (
        cube_root(v * white / n) for white, n in zip((WHITE_X, WHITE_Y, WHITE_Z), D65, strict=True)
    )
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def solid(colour: tuple[int, int, int], size: int = 4) -> np.ndarray:
    """A stack of one ``size x size`` thumbnail of a single colour."""
    return np.full((1, size, size, 3), colour, dtype=np.uint8)


class TestLin16:
    def test_endpoints(self) -> None:
        assert len(ref.LIN16) == 256
        assert ref.LIN16[0] == 0
        assert ref.LIN16[255] == 65535

    def test_mid_value_on_the_power_branch(self) -> None:
        # u = 128/255 = 0.50196 > 0.04045: 65535 * ((u + 0.055) / 1.055)^2.4 = 14146.418
        u = 128 / 255
        by_hand = 65535 * math.exp(2.4 * math.log((u + 0.055) / 1.055))
        assert by_hand == pytest.approx(14146.418, abs=1e-3)
        assert ref.LIN16[128] == 14146

    def test_low_value_on_the_linear_branch(self) -> None:
        # u = 10/255 = 0.0392 <= 0.04045: 65535 * u / 12.92 = 198.92
        by_hand = 65535 * (10 / 255) / 12.92
        assert by_hand == pytest.approx(198.92, abs=1e-2)
        assert ref.LIN16[10] == 199

    def test_strictly_increasing(self) -> None:
        assert all(a < b for a, b in itertools.pairwise(ref.LIN16))

    def test_transfer_function_is_continuous_at_the_knee(self) -> None:
        below = ref.srgb_to_linear(0.04045)
        above = ref.srgb_to_linear(math.nextafter(0.04045, 1.0))
        assert above == pytest.approx(below, rel=1e-4)


class TestLab:
    def test_white_is_l100(self) -> None:
        lab = ref.linear_rgb_to_lab(1.0, 1.0, 1.0)
        assert lab == pytest.approx(grey_lab(1.0), abs=1e-9)
        assert lab == pytest.approx((100.0, 0.0, 0.0), abs=1e-4)

    def test_black_is_zero(self) -> None:
        # f(0) = 4/29, so L = 116 * 4/29 - 16 = 0 and a = b = 0.
        assert ref.linear_rgb_to_lab(0.0, 0.0, 0.0) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)

    def test_dark_grey_on_the_linear_branch(self) -> None:
        # t = 0.001 <= (6/29)^3: f(t) = t / (3 (6/29)^2) + 4/29, so L = 116 t / (3 (6/29)^2).
        t = 0.001
        expected_l = 116 * t * 29 * 29 / (3 * 6 * 6)
        assert ref.linear_rgb_to_lab(t, t, t)[0] == pytest.approx(expected_l, rel=1e-6)

    def test_quantise_rounds_half_up(self) -> None:
        assert ref.quantise(0.0) == 0
        assert ref.quantise(0.125) == 1
        assert ref.quantise(0.12) == 0
        assert ref.quantise(-0.125) == 0
        assert ref.quantise(-0.13) == -1
        assert ref.quantise(100.0) == 400


class TestSolidTiles:
    def test_white(self) -> None:
        assert ref.tile_descriptors(solid((255, 255, 255)), 1).tolist() == [[400, 0, 0]]

    def test_black(self) -> None:
        assert ref.tile_descriptors(solid((0, 0, 0)), 1).tolist() == [[0, 0, 0]]

    def test_mid_grey(self) -> None:
        lab = grey_lab(14146 / 65535)
        # L = 116 * cbrt(0.21586) - 16 = 53.585 -> 214.34 quarter units.
        assert lab[0] == pytest.approx(53.585, abs=1e-3)
        assert ref.tile_descriptors(solid((128, 128, 128)), 1).tolist() == [[214, 0, 0]]

    def test_pure_red(self) -> None:
        expected = np.array([53.24, 80.09, 67.20]) * 4
        got = ref.tile_descriptors(solid((255, 0, 0)), 1)[0]
        assert np.all(np.abs(got - expected) <= 1)

    def test_every_block_of_a_solid_tile_is_equal(self) -> None:
        got = ref.tile_descriptors(solid((255, 0, 0), size=11), 4)
        assert got.shape == (1, 48)
        assert got.dtype == np.int16
        assert got.reshape(16, 3).tolist() == [[213, 320, 269]] * 16

    def test_mean_is_taken_in_linear_light(self) -> None:
        # Half black, half white pixels: mean linear 0.5, L = 116 * cbrt(0.5) - 16 = 76.07,
        # much lighter than the sRGB mid grey 128 (L = 53.6).
        checker = np.zeros((1, 2, 2, 3), dtype=np.uint8)
        checker[0, 0, 0] = checker[0, 1, 1] = 255
        assert grey_lab(0.5)[0] == pytest.approx(76.069, abs=1e-3)
        assert ref.tile_descriptors(checker, 1).tolist() == [[304, 0, 0]]


class TestBlocks:
    def test_edges_of_seven_rows_in_three_blocks(self) -> None:
        assert ref.block_edges(7, 3) == [0, 2, 4, 7]

    def test_edges_when_divisible(self) -> None:
        assert ref.block_edges(12, 4) == [0, 3, 6, 9, 12]

    def test_uneven_blocks_of_a_tile(self) -> None:
        # 7x7 tile, grid 3: rows and columns [0, 2), [2, 4), [4, 7). Mark only pixel (4, 4),
        # which belongs to the last block (9 pixels); all other blocks are black.
        tile = np.zeros((1, 7, 7, 3), dtype=np.uint8)
        tile[0, 4, 4] = 255
        blocks = ref.tile_descriptors(tile, 3).reshape(9, 3)
        assert blocks[:8].tolist() == [[0, 0, 0]] * 8
        assert blocks[8, 0] == ref.quantise(ref.linear_rgb_to_lab(1 / 9, 1 / 9, 1 / 9)[0])

    def test_four_colour_quadrants_in_row_major_order(self) -> None:
        colours = [(255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 0)]
        image = np.empty((4, 6, 3), dtype=np.uint8)
        image[:2, :3], image[:2, 3:], image[2:, :3], image[2:, 3:] = colours
        expected = [ref.tile_descriptors(solid(c), 1)[0].tolist() for c in colours]
        got = ref.cell_descriptors(image, 1, 1, 2)
        assert got.shape == (1, 12)
        assert got.reshape(4, 3).tolist() == expected
        pixels = image.tolist()
        assert ref.region_descriptor(pixels, 0, 0, 4, 6, 2) == list(
            itertools.chain.from_iterable(expected)
        )

    def test_region_descriptor_of_an_offset_region(self) -> None:
        image = np.zeros((5, 6, 3), dtype=np.uint8)
        image[1:3, 2:5] = (255, 0, 0)
        assert ref.region_descriptor(image.tolist(), 1, 2, 2, 3, 1) == [213, 320, 269]


class TestCells:
    @pytest.mark.parametrize(
        ("s", "grid", "rows", "cols"), [(6, 3, 2, 3), (7, 3, 3, 2), (5, 2, 2, 2)]
    )
    def test_target_tiled_from_tiles_gives_the_tile_descriptors(
        self, s: int, grid: int, rows: int, cols: int
    ) -> None:
        rng = np.random.default_rng(s * 100 + grid)
        tiles = rng.integers(0, 256, size=(rows * cols, s, s, 3), dtype=np.uint8)
        target = (
            tiles.reshape(rows, cols, s, s, 3)
            .transpose(0, 2, 1, 3, 4)
            .reshape(rows * s, cols * s, 3)
        )
        np.testing.assert_array_equal(
            ref.cell_descriptors(target, rows, cols, grid), ref.tile_descriptors(tiles, grid)
        )

    def test_block_edges_come_from_the_whole_image(self) -> None:
        # 9 rows, 2 cell rows, grid 3: global row edges 0, 1, 3, 4, 6, 7, 9, so cell 0 has
        # rows [0,1), [1,3), [3,4) (cell by itself would give [0,1), [1,2), [2,4)).
        # 5 columns, grid 3: column edges 0, 1, 3, 5.
        rng = np.random.default_rng(7)
        image = rng.integers(0, 256, size=(9, 5, 3), dtype=np.uint8)
        pixels = image.tolist()
        row_edges, col_edges = [0, 1, 3, 4, 6, 7, 9], [0, 1, 3, 5]
        expected = [
            [
                value
                for top, bottom in itertools.pairwise(row_edges[3 * r : 3 * r + 4])
                for left, right in itertools.pairwise(col_edges)
                for value in ref.region_descriptor(pixels, top, left, bottom - top, right - left, 1)
            ]
            for r in range(2)
        ]
        assert ref.cell_descriptors(image, 2, 1, 3).tolist() == expected
        cell_by_itself = ref.region_descriptor(pixels, 0, 0, 4, 5, 3)
        assert cell_by_itself != expected[0]


class TestSearch:
    # Distances from cell (0, 0): 0, 25, 25, 25, 2; from cell (3, 4): 25, 0, 10, 20, 13.
    TILES = np.array([[0, 0], [3, 4], [0, 5], [5, 0], [1, 1]], dtype=np.int16)
    CELLS = np.array([[0, 0], [3, 4]], dtype=np.int16)

    def test_full_ranking_with_ties_to_the_lowest_index(self) -> None:
        indices, distances = ref.search_topk(self.CELLS, self.TILES, 5)
        assert indices.tolist() == [[0, 4, 1, 2, 3], [1, 2, 4, 3, 0]]
        assert distances.tolist() == [[0, 2, 25, 25, 25], [0, 10, 13, 20, 25]]
        assert indices.dtype == np.int64
        assert distances.dtype == np.int64

    def test_tie_cut_by_k(self) -> None:
        indices, distances = ref.search_topk(self.CELLS, self.TILES, 3)
        assert indices.tolist() == [[0, 4, 1], [1, 2, 4]]
        assert distances.tolist() == [[0, 2, 25], [0, 10, 13]]

    def test_top1_of_equal_tiles_is_the_first(self) -> None:
        tiles = np.array([[9, 9], [1, 2], [1, 2], [2, 1]], dtype=np.int16)
        indices, distances = ref.search_topk(np.array([[1, 1]]), tiles, 1)
        assert indices.tolist() == [[1]]
        assert distances.tolist() == [[1]]

    def test_no_overflow_at_large_values(self) -> None:
        cells = np.full((1, 75), -16384, dtype=np.int16)
        tiles = np.full((1, 75), 16383, dtype=np.int16)
        assert ref.search_topk(cells, tiles, 1)[1].tolist() == [[75 * 32767**2]]

    def test_no_cells(self) -> None:
        indices, distances = ref.search_topk(np.zeros((0, 2), np.int16), self.TILES, 2)
        assert indices.shape == distances.shape == (0, 2)


class TestBadArguments:
    @pytest.mark.parametrize("grid", [0, 17, -1])
    def test_grid_out_of_range(self, grid: int) -> None:
        with pytest.raises(ValueError, match="grid"):
            ref.tile_descriptors(solid((1, 2, 3), size=20), grid)
        with pytest.raises(ValueError, match="grid"):
            ref.cell_descriptors(np.zeros((40, 40, 3), np.uint8), 1, 1, grid)

    @pytest.mark.parametrize(
        "thumbs",
        [
            np.zeros((2, 4, 5, 3), np.uint8),
            np.zeros((2, 4, 4, 4), np.uint8),
            np.zeros((4, 4, 3), np.uint8),
            np.zeros((2, 4, 4, 3), np.float32),
            np.zeros((2, 2, 2, 3), np.uint8),
        ],
    )
    def test_bad_thumbs(self, thumbs: np.ndarray) -> None:
        with pytest.raises(ValueError, match="thumbs"):
            ref.tile_descriptors(thumbs, 3)

    @pytest.mark.parametrize(
        ("shape", "rows", "cols"), [((8, 8, 3), 3, 1), ((8, 8, 3), 1, 3), ((8, 8, 3), 0, 1)]
    )
    def test_bad_cells(self, shape: tuple[int, ...], rows: int, cols: int) -> None:
        with pytest.raises(ValueError, match=r"image|rows"):
            ref.cell_descriptors(np.zeros(shape, np.uint8), rows, cols, 3)

    def test_bad_image(self) -> None:
        with pytest.raises(ValueError, match="image"):
            ref.cell_descriptors(np.zeros((8, 8), np.uint8), 1, 1, 2)

    def test_region_outside_the_image(self) -> None:
        with pytest.raises(ValueError, match="does not fit"):
            ref.region_descriptor(np.zeros((4, 4, 3), np.uint8).tolist(), 2, 0, 3, 3, 1)

    @pytest.mark.parametrize("k", [0, 6, -1])
    def test_k_out_of_range(self, k: int) -> None:
        with pytest.raises(ValueError, match="k must"):
            ref.search_topk(TestSearch.CELLS, TestSearch.TILES, k)

    @pytest.mark.parametrize(
        ("cells", "tiles"),
        [
            (np.zeros((2, 3), np.int16), np.zeros((5, 2), np.int16)),
            (np.zeros(2, np.int16), np.zeros((5, 2), np.int16)),
            (np.zeros((2, 2), np.float64), np.zeros((5, 2), np.int16)),
        ],
    )
    def test_bad_descriptors(self, cells: np.ndarray, tiles: np.ndarray) -> None:
        with pytest.raises(ValueError, match="cells"):
            ref.search_topk(cells, tiles, 1)


class TestAgainstScikitImage:
    def test_white_point_is_d65_2_degrees(self) -> None:
        from skimage.color import xyz_tristimulus_values

        white = xyz_tristimulus_values(illuminant="D65", observer="2")
        np.testing.assert_allclose(white, D65, atol=1e-4)

    def test_random_colours(self) -> None:
        from skimage.color import rgb2lab

        rng = np.random.default_rng(2024)
        srgb = rng.integers(0, 256, size=(500, 3))
        # scikit-image rounds the sRGB matrix to 6 decimals (0.412453, ...) and the toe of f
        # to 7.787 and 0.008856; the differences stay below 0.005.
        expected = rgb2lab(srgb[None] / 255)[0]
        got = [ref.linear_rgb_to_lab(*(ref.srgb_to_linear(v / 255) for v in c)) for c in srgb]
        np.testing.assert_allclose(got, expected, atol=0.01)
