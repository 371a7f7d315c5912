from __future__ import annotations

import pytest

from mosaicfast import GridPlan, MosaicfastError
from mosaicfast.grid import plan_grid


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
        ({"tile_size": 0}, "tile size"),
        ({"enlargement": 0.0}, "enlargement"),
        ({"cols": 0}, "--cols"),
    ],
)
def test_bad_or_oversized_grids_are_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(MosaicfastError, match=words):
        plan_grid((6000, 4000), **kwargs)
