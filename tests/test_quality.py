"""Quality metrics, checked against scikit-image and the published CIEDE2000 test data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from mosaicfast.quality import (
    Quality,
    ciede2000,
    diversity,
    evaluate,
    fidelity,
    srgb_to_lab,
    ssim,
)

# Sharma, Wu & Dalal (2005), Table 1: L1 a1 b1, L2 a2 b2, published CIEDE2000 (4 decimals).
SHARMA_PAIRS = np.array(
    [
        [50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425],
        [50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615],
        [50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412],
        [50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000],
        [50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000],
        [50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000],
        [50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669],
        [50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669],
        [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792],
        [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792],
        [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195],
        [50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195],
        [50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045],
        [50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045],
        [50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461],
        [50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065],
        [50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492],
        [50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977],
        [50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030],
        [50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535],
        [50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000],
        [50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000],
        [50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000],
        [50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000],
        [60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644],
        [63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630],
        [61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731],
        [35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645],
        [22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373],
        [36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146],
        [90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441],
        [90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381],
        [6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377],
        [2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082],
    ]
)


def random_lab(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random colours over the whole CIELAB box an 8-bit gamut can reach."""
    return np.column_stack(
        [rng.uniform(0, 100, count), rng.uniform(-128, 127, (count, 2))],
    )


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


# --- ssim -----------------------------------------------------------------------------------


def test_ssim_matches_skimage_on_random_images() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (61, 47))
    for b in (rng.uniform(0, 255, a.shape), a + rng.normal(0, 20, a.shape), 0.5 * a + 60):
        assert ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=255), abs=1e-6)


def test_ssim_matches_skimage_on_real_images() -> None:
    camera = data.camera().astype(np.float64)
    astronaut = luma(data.astronaut().astype(np.float64))
    pairs = [
        (camera[100:228, 150:278], camera[104:232, 150:278]),
        (astronaut[:96, :160], camera[:96, :160]),
        (astronaut[200:300, 200:300], np.clip(astronaut[200:300, 200:300] * 1.2, 0, 255)),
    ]
    for a, b in pairs:
        expected = structural_similarity(a, b, data_range=255)
        assert ssim(a, b) == pytest.approx(expected, abs=1e-6)


def test_ssim_honours_data_range() -> None:
    rng = np.random.default_rng(2)
    a = rng.random((20, 30))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    assert ssim(a, b, data_range=1.0) == pytest.approx(
        structural_similarity(a, b, data_range=1.0), abs=1e-6
    )


def test_ssim_of_identical_images_is_one() -> None:
    image = data.camera()[:50, :70]
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "options", "message"),
    [
        (np.zeros((10, 10)), np.zeros((10, 11)), {}, "same shape"),
        (np.zeros((10, 10, 3)), np.zeros((10, 10, 3)), {}, "2-D"),
        (np.zeros((6, 10)), np.zeros((6, 10)), {}, "at least 7x7"),
        (np.zeros((10, 10)), np.zeros((10, 10)), {"data_range": 0}, "data_range"),
        (np.zeros((10, 10), dtype=complex), np.zeros((10, 10)), {}, "real values"),
    ],
)
def test_ssim_rejects_bad_arguments(
    a: np.ndarray, b: np.ndarray, options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ssim(a, b, **options)


# --- ciede2000 ------------------------------------------------------------------------------


def test_ciede2000_reproduces_sharma_test_data() -> None:
    lab1, lab2, published = SHARMA_PAIRS[:, :3], SHARMA_PAIRS[:, 3:6], SHARMA_PAIRS[:, 6]
    np.testing.assert_allclose(ciede2000(lab1, lab2), published, rtol=0, atol=5e-5)
    np.testing.assert_allclose(ciede2000(lab2, lab1), published, rtol=0, atol=5e-5)
    np.testing.assert_allclose(
        ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), rtol=0, atol=1e-6
    )


def test_ciede2000_matches_skimage_on_random_pairs() -> None:
    rng = np.random.default_rng(3)
    lab1 = random_lab(rng, 20_000)
    far = random_lab(rng, 20_000)
    near = lab1 + rng.normal(0, 2, lab1.shape)
    for lab2 in (far, near):
        np.testing.assert_allclose(
            ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), rtol=0, atol=1e-6
        )


def test_ciede2000_keeps_leading_shape_and_is_zero_on_equal_colours() -> None:
    lab = random_lab(np.random.default_rng(4), 24).reshape(2, 4, 3, 3)
    difference = ciede2000(lab, lab)
    assert difference.shape == (2, 4, 3)
    assert np.all(difference == 0)


@pytest.mark.parametrize(
    ("lab1", "lab2", "message"),
    [
        (np.zeros((5, 3)), np.zeros((4, 3)), "same shape"),
        (np.zeros((5, 4)), np.zeros((5, 4)), "last axis"),
    ],
)
def test_ciede2000_rejects_bad_arguments(lab1: np.ndarray, lab2: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ciede2000(lab1, lab2)


# --- srgb_to_lab ----------------------------------------------------------------------------


def test_srgb_to_lab_matches_skimage() -> None:
    rng = np.random.default_rng(5)
    random_pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    levels = np.array([0, 1, 10, 11, 128, 254, 255], dtype=np.uint8)
    corners = np.stack(np.meshgrid(levels, levels, levels), axis=-1).reshape(1, -1, 3)
    for rgb in (random_pixels, corners, data.chelsea()[::4, ::4]):
        np.testing.assert_allclose(srgb_to_lab(rgb), rgb2lab(rgb), rtol=0, atol=0.01)


def test_srgb_to_lab_of_white_and_black() -> None:
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0]], dtype=np.uint8))
    np.testing.assert_allclose(lab, [[100, 0, 0], [0, 0, 0]], atol=1e-4)


@pytest.mark.parametrize(
    ("rgb", "message"),
    [
        (np.zeros((4, 4, 3), dtype=np.float64), "uint8"),
        (np.zeros((4, 4, 4), dtype=np.uint8), "3 channels"),
    ],
)
def test_srgb_to_lab_rejects_bad_arguments(rgb: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        srgb_to_lab(rgb)


# --- fidelity -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    return Image.fromarray(data.chelsea()[:, :450])  # 450 x 300: 45 x 30 cells of 10 px


def test_fidelity_of_identical_images_is_perfect(chelsea: Image.Image) -> None:
    structure, colour = fidelity(chelsea, chelsea, 30, 45)
    assert structure == pytest.approx(1.0, abs=1e-12)
    assert colour == 0.0


def test_fidelity_reduces_both_images_to_8_px_per_cell_by_area_average() -> None:
    rng = np.random.default_rng(6)
    rows, cols = 6, 9
    target = Image.fromarray(rng.integers(0, 256, (rows * 8, cols * 8, 3), dtype=np.uint8))
    mosaic = target.resize((cols * 40, rows * 40), Image.Resampling.NEAREST)
    structure, colour = fidelity(target, mosaic, rows, cols)
    assert structure == pytest.approx(1.0, abs=1e-12)
    assert colour == 0.0


def test_fidelity_matches_skimage_pipeline(chelsea: Image.Image) -> None:
    rows, cols = 20, 30
    shifted = np.roll(np.asarray(chelsea), (7, -11), axis=(0, 1))
    mosaic = Image.fromarray(shifted).resize((cols * 12, rows * 12))
    structure, colour = fidelity(chelsea, mosaic, rows, cols)

    size = (cols * 8, rows * 8)
    a = np.asarray(chelsea.resize(size, Image.Resampling.BOX))
    b = np.asarray(mosaic.resize(size, Image.Resampling.BOX))
    assert structure == pytest.approx(
        structural_similarity(luma(a), luma(b), data_range=255), abs=1e-6
    )
    assert colour == pytest.approx(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean(), abs=1e-3)
    assert 0 < structure < 1
    assert colour > 1


@pytest.mark.parametrize(
    ("size", "rows", "cols", "message"),
    [
        ((90, 60), 0, 9, "at least 1"),
        ((90, 60), 6, 0, "at least 1"),
        ((90, 61), 6, 9, "not a grid of 9x6"),
        ((95, 60), 6, 9, "not a grid of 9x6"),
    ],
)
def test_fidelity_rejects_bad_arguments(
    size: tuple[int, int], rows: int, cols: int, message: str
) -> None:
    target = Image.new("RGB", (45, 30))
    with pytest.raises(ValueError, match=message):
        fidelity(target, Image.new("RGB", size), rows, cols)


# --- diversity ------------------------------------------------------------------------------


def test_diversity_of_a_checkerboard_has_no_adjacent_duplicates() -> None:
    board = np.indices((6, 8)).sum(axis=0) % 2
    assert diversity(board) == (2, 2 / 48, 24, 0.0)


def test_diversity_of_a_single_tile() -> None:
    assert diversity(np.full((4, 5), 7)) == (1, 1 / 20, 20, 1.0)


def test_diversity_counts_horizontal_and_vertical_pairs() -> None:
    # Pairs: horizontal 1-1, 1-2, 3-1, 1-2 (one same); vertical 1-3, 1-1, 2-2 (two same).
    distinct, ratio, max_uses, adjacent = diversity([[1, 1, 2], [3, 1, 2]])
    assert (distinct, ratio, max_uses) == (3, 0.5, 3)
    assert adjacent == pytest.approx(3 / 7)


def test_diversity_of_one_cell_and_of_all_different_tiles() -> None:
    assert diversity([[5]]) == (1, 1.0, 1, 0.0)
    assert diversity(np.arange(12).reshape(3, 4)) == (12, 1.0, 1, 0.0)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (np.arange(6), "2-D"),
        (np.zeros((2, 2, 2), dtype=int), "2-D"),
        (np.zeros((0, 3), dtype=int), "non-empty"),
        (np.zeros((2, 3)), "integer"),
    ],
)
def test_diversity_rejects_bad_arguments(assignment: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        diversity(assignment)


# --- evaluate and Quality -------------------------------------------------------------------


def solid_mosaic(assignment: np.ndarray, colours: np.ndarray, tile: int) -> Image.Image:
    """The mosaic of solid-colour tiles ``colours[id]`` laid out by ``assignment``."""
    pixels = colours[assignment].repeat(tile, axis=0).repeat(tile, axis=1)
    return Image.fromarray(pixels.astype(np.uint8))


def test_evaluate_combines_fidelity_and_diversity() -> None:
    colours = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]])
    assignment = np.array([[0, 0, 1, 2], [1, 1, 2, 2], [2, 0, 0, 1]])
    mosaic = solid_mosaic(assignment, colours, tile=20)
    target = mosaic.resize((40, 30))

    quality = evaluate(target, mosaic, assignment)

    structure, colour = fidelity(target, mosaic, 3, 4)
    assert quality == Quality(structure, colour, *diversity(assignment))
    assert quality.distinct == 3
    assert quality.max_uses == 4
    assert quality.adjacent_duplicates == pytest.approx(5 / 17)
    assert evaluate(mosaic, mosaic, assignment).ssim == pytest.approx(1.0)


def test_quality_report_and_dict() -> None:
    quality = Quality(0.4217, 7.84, 275, 275 / 6144, 650, 0.3)
    assert quality.lines() == [
        "SSIM (luma, 8 px per cell): 0.422",
        "mean CIEDE2000: 7.84",
        "distinct tiles: 275 (4.5% of cells)",
        "most uses of one tile: 650",
        "adjacent duplicates: 30.0%",
    ]
    assert quality.as_dict() == {
        "ssim": 0.4217,
        "delta_e": 7.84,
        "distinct": 275,
        "distinct_ratio": 275 / 6144,
        "max_uses": 650,
        "adjacent_duplicates": 0.3,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        quality.ssim = 1.0  # type: ignore[misc]


def test_evaluate_rejects_a_mosaic_that_does_not_fit_the_assignment() -> None:
    image = Image.new("RGB", (50, 30))
    with pytest.raises(ValueError, match="not a grid"):
        evaluate(image, image, np.zeros((4, 4), dtype=np.int64))
