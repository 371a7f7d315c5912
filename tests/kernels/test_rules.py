"""Each rule checked once (docs/architecture.md, "Who checks which rule"): the Python
wrappers only normalise, the core's error is the one the caller gets, and a thread count
follows one rule, the core's, whether a kernel or a whole job asks for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mosaicfast import MosaicfastError, _core, build
from mosaicfast._util import parallel
from mosaicfast.kernels import (
    MAX_THREADS,
    blend_tiles,
    box_downsample,
    candidate_ssim,
    check_threads,
    penalised_greedy,
    search_topk,
    tile_descriptors,
)
from mosaicfast.options import BuildOptions, IndexOptions

PIXELS = np.zeros((2, 8, 8, 3), np.uint8)
PATCHES = np.zeros((2, 16, 16), np.float32)
DESCRIPTORS = np.zeros((3, 12), np.int16)

#: Every kernel that takes threads=, called with a given thread count.
KERNELS: dict[str, Callable[[Any], object]] = {
    "blend_tiles": lambda t: blend_tiles(PIXELS, PIXELS, 0.5, threads=t),
    "candidate_ssim": lambda t: candidate_ssim(PATCHES, PATCHES, [[0], [1]], threads=t),
    "search_topk": lambda t: search_topk(DESCRIPTORS, DESCRIPTORS, 1, threads=t),
    "tile_descriptors": lambda t: tile_descriptors(PIXELS, 2, threads=t),
    "box_downsample": lambda t: box_downsample(PIXELS, 2, threads=t),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("threads", [-1, 0, MAX_THREADS + 1, -(2**40)])
def test_a_bad_thread_count_is_the_projects_error_not_an_overflow(name: str, threads: int) -> None:
    with pytest.raises(ValueError, match=rf"^threads must be from 1 to 256, got {threads}$"):
        KERNELS[name](threads)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_the_whole_range_of_threads_runs(name: str) -> None:
    assert KERNELS[name](1) is not None
    assert KERNELS[name](MAX_THREADS) is not None


def test_jobs_and_kernels_follow_the_cores_one_thread_rule() -> None:
    assert MAX_THREADS == _core.MAX_THREADS == 256
    assert parallel.MAX_THREADS == MAX_THREADS  # local:N worker processes, same bound
    for good in (None, 1, MAX_THREADS):
        check_threads(good)
    for bad in (0, -5, MAX_THREADS + 1, 10**30):
        with pytest.raises(MosaicfastError, match="threads must be from 1 to 256") as raised:
            check_threads(bad)
        assert raised.value.parameters == ("threads",)
    with pytest.raises(MosaicfastError, match="threads must be an integer"):
        check_threads(2.5)  # type: ignore[arg-type]
    for make in (BuildOptions.of, IndexOptions):
        with pytest.raises(MosaicfastError, match=r"^threads must be from 1 to 256, got -3$"):
            make(threads=-3)
    with pytest.raises(MosaicfastError, match=r"^threads must be from 1 to 256, got 0$"):
        build("no-such-target.png", library="no-such-library", threads=0)


def _core_message(call: Callable[[], object]) -> str:
    with pytest.raises(ValueError) as raised:
        call()
    return str(raised.value)


CAND, COST = np.array([[0], [1]]), np.array([[0.0], [0.0]])


@pytest.mark.parametrize(
    ("wrapper", "core"),
    [
        (  # k above the number of tiles
            lambda: search_topk(DESCRIPTORS, DESCRIPTORS, 4),
            lambda: _core.search_topk(DESCRIPTORS, DESCRIPTORS, 4),
        ),
        (  # k of 0
            lambda: search_topk(DESCRIPTORS, DESCRIPTORS, 0),
            lambda: _core.search_topk(DESCRIPTORS, DESCRIPTORS, 0),
        ),
        (  # no tiles
            lambda: search_topk(DESCRIPTORS, DESCRIPTORS[:0], 1),
            lambda: _core.search_topk(DESCRIPTORS, DESCRIPTORS[:0], 1),
        ),
        (  # a negative penalty
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=-1.0),
            lambda: _core.penalised_greedy(
                CAND, COST, np.array([0, 1]), np.array([-1, -1]), 2, penalty=-1.0, shape=(1, 2)
            ),
        ),
        (  # max_uses of 0
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=0.0, max_uses=0),
            lambda: _core.penalised_greedy(
                CAND,
                COST,
                np.array([0, 1]),
                np.array([-1, -1]),
                2,
                penalty=0.0,
                shape=(1, 2),
                max_uses=0,
            ),
        ),
        (  # a shape without the cells' count
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=0.0, shape=(2, 2)),
            lambda: _core.penalised_greedy(
                CAND, COST, np.array([0, 1]), np.array([-1, -1]), 2, penalty=0.0, shape=(2, 2)
            ),
        ),
        (  # a patch side out of range
            lambda: candidate_ssim(PATCHES[:, :4, :4], PATCHES[:, :4, :4], [[0], [1]]),
            lambda: _core.ssim_candidates(
                PATCHES[:, :4, :4].copy(), PATCHES[:, :4, :4].copy(), CAND, data_range=255.0
            ),
        ),
        (  # an even window
            lambda: candidate_ssim(PATCHES, PATCHES, [[0], [1]], win_size=8),
            lambda: _core.ssim_candidates(PATCHES, PATCHES, CAND, data_range=255.0, win_size=8),
        ),
        (  # a Gaussian window wider than the patch
            lambda: candidate_ssim(PATCHES, PATCHES, [[0], [1]], gaussian=True, sigma=3.0),
            lambda: _core.ssim_candidates(PATCHES, PATCHES, CAND, data_range=255.0, sigma=3.0),
        ),
        (  # patches of two sizes
            lambda: candidate_ssim(PATCHES, PATCHES[:, :8, :8], [[0], [1]]),
            lambda: _core.ssim_candidates(
                PATCHES, PATCHES[:, :8, :8].copy(), CAND, data_range=255.0
            ),
        ),
    ],
)
def test_the_wrappers_leave_the_rule_to_the_core(
    wrapper: Callable[[], object], core: Callable[[], object]
) -> None:
    assert _core_message(wrapper) == _core_message(core)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: search_topk(DESCRIPTORS, DESCRIPTORS, -1), "k must be a non-negative integer"),
        (
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=0.0, max_uses=-1),
            "max_uses must be a non-negative integer",
        ),
        (
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=0.0, min_distance=-1),
            "min_distance must be a non-negative integer",
        ),
        (
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty=0.0, shape=(-1, -2)),
            "shape must be a non-negative integer",
        ),
        (
            lambda: penalised_greedy(CAND, COST, [0, 1], 2, penalty="x"),  # type: ignore[arg-type]
            "penalty must be a number",
        ),
        (
            lambda: candidate_ssim(PATCHES, PATCHES, [[0], [1]], win_size=-7),
            "win_size must be a non-negative integer",
        ),
    ],
)
def test_signs_and_types_are_normalised_before_the_core_sees_them(
    call: Callable[[], object], words: str
) -> None:
    # Not an OverflowError or TypeError from the conversion to the core's integers.
    with pytest.raises(ValueError, match=re.escape(words)):
        call()
