from __future__ import annotations

from fractions import Fraction

import pytest

from mosaicfast import GridPlan, MosaicfastError
from mosaicfast.plan import PrintSize, plan_grid, plan_print, print_crop


def test_classic_enlargement_gives_the_standard_job() -> None:
    plan = plan_grid((600, 400), tile_size=50, enlargement=8)
    assert (plan.cols, plan.rows) == (96, 64)
    assert plan.cells == 6144
    assert plan.output_size == (4800, 3200)


def test_cols_fixes_the_width_and_keeps_the_aspect_ratio() -> None:
    plan = plan_grid((600, 400), tile_size=20, cols=30)
    assert plan == GridPlan(rows=20, cols=30, tile_size=20)


def test_tiny_targets_still_get_one_cell() -> None:
    assert plan_grid((3, 2), tile_size=50, enlargement=1).cells == 1


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cols": 5000, "max_cells": 1_000_000}, "cells"),
        ({"tile_size": 1000, "cols": 200}, "pixels"),
        ({"tile_size": 0}, "^tile_size must be at least 1"),
        ({"enlargement": 0.0}, "enlargement"),
        ({"cols": 0}, "^cols must be at least 1"),
    ],
)
def test_bad_or_oversized_grids_are_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(MosaicfastError, match=words):
        plan_grid((6000, 4000), **kwargs)


# -- print sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inches"),
    [
        ("60x40cm", (Fraction(6000, 254), Fraction(4000, 254))),
        ("297 x 210 mm", (Fraction(2970, 254), Fraction(2100, 254))),
        ("24x16in", (24, 16)),
        ("8.5X11IN", (Fraction(17, 2), 11)),
    ],
)
def test_print_sizes_are_read_exactly(text: str, inches: tuple) -> None:
    size = PrintSize.parse(text)
    assert (size.width, size.height) == inches


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("60x40", "no unit"),
        ("60x40ft", "unknown unit 'ft'"),
        ("0x40cm", "above 0"),
        ("60cm", "expected WIDTHxHEIGHT"),
        ("-6x4cm", "expected WIDTHxHEIGHT"),
    ],
)
def test_bad_print_sizes_are_refused(text: str, words: str) -> None:
    with pytest.raises(MosaicfastError, match=words):
        PrintSize.parse(text)


def test_print_pixels_round_up_and_whole_inches_stay_exact() -> None:
    assert PrintSize.parse("60x40cm").pixels(300) == (7087, 4725)  # 7086.6 x 4724.4
    assert PrintSize.parse("10x8in").pixels(300) == (3000, 2400)
    assert PrintSize.parse("25.4x2.54cm").pixels(300) == (3000, 300)


def test_the_print_rule_covers_the_print_by_less_than_a_tile() -> None:
    size = PrintSize.parse("60x40cm")
    plan = plan_print((600, 400), size, 300)  # 96 cells across, from the defaults
    assert (plan.cols, plan.tile_size, plan.rows) == (96, 74, 64)  # ceil(7087/96) = 74
    width, height = plan.output_size
    assert 7087 <= width < 7087 + 74 and 4725 <= height < 4725 + 74
    other = plan_print((600, 400), size, 300, cols=50)
    assert (other.cols, other.tile_size, other.rows) == (50, 142, 34)  # ceil(4725/142)
    with pytest.raises(MosaicfastError, match="pixels"):
        plan_print((600, 400), PrintSize.parse("10x10in"), 30000)


@pytest.mark.parametrize(
    ("target", "print_size", "box"),
    [
        ((600, 400), "60x40cm", None),
        ((601, 400), "60x40cm", (0, 0, 600, 400)),
        ((599, 400), "60x40cm", (0, 0, 599, 399)),
        ((800, 400), "60x40cm", (100, 0, 700, 400)),
        ((600, 600), "60x40cm", (0, 100, 600, 500)),
        ((400, 600), "60x40cm", (0, 166, 400, 433)),
    ],
)
def test_targets_are_centre_cropped_to_the_print_aspect(
    target: tuple[int, int], print_size: str, box: tuple | None
) -> None:
    assert print_crop(target, PrintSize.parse(print_size)) == box
