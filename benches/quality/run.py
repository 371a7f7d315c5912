"""The quality benchmark (issue 14): every target built with each setting, beside the
classic tool's rule, scored by ``mosaicfast.quality.evaluate`` and timed.

    .venv/bin/python benches/quality/run.py                      # the main settings
    .venv/bin/python benches/quality/run.py --configs all       # every setting defined
    .venv/bin/python benches/quality/run.py --configs sweep --save  # every lever measured
    .venv/bin/python benches/quality/run.py --targets grace_hopper,china --configs classic,p0

Rows go to ``.bench/quality/results.jsonl`` (one JSON object per target and setting,
appended; ``--results`` for another file) and a table per target is printed; ``--save``
keeps each mosaic as a JPEG in ``.bench/quality/mosaics``. The data are made once
(:mod:`dataset`); ``summary.py`` tabulates the results. Times are wall seconds on this
machine, warm (the library and the tiles read before the first row):
``match`` is everything from the target to the assignment, ``render`` the painting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from classic import classic_assignment, classic_tiles, paste
from dataset import LIBRARY_NAMES, Dataset, data_folder, make_dataset
from levers import Descriptor, Matcher, Recipe, orient
from photos import TARGETS
from PIL import Image

import mosaicfast
from mosaicfast.kernels.resample import resize_tiles
from mosaicfast.library.store import Library
from mosaicfast.matching import FLAT_GRID, flat_tiles
from mosaicfast.plan import plan_grid
from mosaicfast.quality import diversity, evaluate
from mosaicfast.render import Painter

TILE_SIZE = 50
ENLARGEMENT = 8.0
MAX_USES_SHARE = 0.01


@dataclass(frozen=True)
class Row:
    target: str
    config: str
    ssim: float
    delta_e: float
    distinct: int
    max_uses: int
    adjacent: float
    match_s: float
    render_s: float


@dataclass
class Built:
    """A mosaic, its assignment, and the seconds it took (``stages``: of the match)."""

    assignment: np.ndarray
    image: Image.Image
    match_s: float
    render_s: float
    stages: dict[str, float] = field(default_factory=dict)
    #: Adaptive cells: ``evaluate``'s ``cell_map`` and ``shape`` (assignment per cell).
    cells: dict[str, object] | None = None


class Bench:
    """The library's tiles, read once, and the means to build and score each setting."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        with Library.open(data.library) as lib:
            rows = lib.tiles_in_use()
            self.thumbs = lib.thumbnails(rows.slots)
            self.paths = [Path(rows.source_paths[s]) for s in rows.source_ids.tolist()]
            # The product's rule (mosaicfast.matching.flat_tiles), for the figures of
            # textured tiles; the prototypes' own rule (Matcher.flat_tiles) differs
            # slightly (40-px samples of the thumbnails).
            desc = lib.tile_descriptors(FLAT_GRID, rows.slots, space="ylab")
            self.flat = flat_tiles(desc, lambda r: self.thumbs[r], self.thumbs.shape[1])
        self.matcher = Matcher(self.thumbs)
        self.tiles50 = resize_tiles(self.thumbs, TILE_SIZE)
        self._classic = None

    def classic(self, target: Image.Image) -> Built:
        if self._classic is None:
            self._classic = classic_tiles(self.paths)
        start = time.perf_counter()
        assignment = classic_assignment(target, self._classic)
        matched = time.perf_counter()
        image = paste(assignment, self._classic.large)
        return Built(assignment, image, matched - start, time.perf_counter() - matched)

    def api(self, target: Path, options: dict) -> Built:
        options = {"tile_size": TILE_SIZE, **options}
        mosaic = mosaicfast.build(target, library=self.data.library, enlargement=ENLARGEMENT,
                                  **options)  # fmt: skip
        image = mosaic.image
        match = sum(v for k, v in mosaic.timings.items() if k != "render")
        cells = None
        if mosaic.cells is not None:
            plain = (mosaic.plan.rows, mosaic.plan.cols)
            cells = {"cell_map": mosaic.cells.cell_map(mosaic.plan.output_size), "shape": plain}
        return Built(mosaic.assignment, image, match, mosaic.timings["render"], mosaic.timings,
                     cells)  # fmt: skip

    def recipe(self, target: Image.Image, recipe: Recipe, blend: float) -> Built:
        plan = plan_grid(target.size, tile_size=TILE_SIZE, enlargement=ENLARGEMENT)
        grid = (plan.rows, plan.cols)
        self.matcher.tile_descriptors(recipe.descriptor, recipe.orientations)  # library side
        result = self.matcher.match(target, grid, recipe)
        match = sum(v for k, v in result.timings.items() if k != "tile descriptors")
        start = time.perf_counter()
        n = len(self.thumbs)
        virtual = (result.orientation * n + result.tiles).reshape(grid)

        def stack(tiles: np.ndarray) -> np.ndarray:
            out = np.empty((len(tiles), TILE_SIZE, TILE_SIZE, 3), np.uint8)
            for o in np.unique(tiles // n):
                pick = tiles // n == o
                out[pick] = orient(self.tiles50[tiles[pick] % n], int(o))
            return out

        painter = Painter(virtual, TILE_SIZE, stack, target=target, blend=blend)
        image = Image.fromarray(painter.compose())
        render = time.perf_counter() - start
        return Built(result.tiles.reshape(grid), image, match, render, result.timings)


Builder = Callable[[Bench, str], Built]


def _api(**options: object) -> Builder:
    def run(bench: Bench, name: str) -> Built:
        target = bench.data.target(name)
        opts = dict(options)
        share = opts.get("max_uses")
        if isinstance(share, str) and share.endswith("%"):  # a share of the cells
            tile_size = opts.get("tile_size", TILE_SIZE)
            assert isinstance(tile_size, int)
            plan = plan_grid(Image.open(target).size, tile_size=tile_size, enlargement=8.0)
            opts["max_uses"] = max(1, round(float(share[:-1]) / 100 * plan.cells))
        return bench.api(target, opts)

    return run


def _div(**changes: object) -> Builder:
    """The defaults with max uses 1% of the cells, tiles untouched, then ``changes``."""
    return _api(**{"max_uses": "1%", "blend": 0.0, **changes})


#: The use limits measured, as a share of the cells, and their settings' suffixes.
_CAPS = (("", "1%"), ("-cap2", "2%"), ("-cap5", "5%"))


def _recipe(blend: float = 0.0, **changes: object) -> Builder:
    recipe = Recipe().with_(**changes)

    def run(bench: Bench, name: str) -> Built:
        return bench.recipe(Image.open(bench.data.target(name)).convert("RGB"), recipe, blend)

    return run


def _classic(bench: Bench, name: str) -> Built:
    return bench.classic(Image.open(bench.data.target(name)).convert("RGB"))


# Issue 14's steps in the product: each adds one change to the one before.
_BEFORE = {"descriptor": "lab", "grid": 5, "flat_weight": 1, "metric": "color",
           "penalty": 0.05, "flips": False}  # fmt: skip
_SSIM8 = {"metric": "combined", "ssim_weight": 0.3, "match_size": 8, "penalty": 0.0}
STEPS: dict[str, dict[str, object]] = {
    "mf-lab-div": _BEFORE,  # mosaicfast before issue 14
    "mf-ylab-div": {**_BEFORE, "descriptor": "ylab", "grid": 8},  # the ylab descriptor
    "mf-ylab-flat": {**_BEFORE, "descriptor": "ylab", "grid": 8, "flat_weight": 20},
    "mf-ssim8": {**_BEFORE, "descriptor": "ylab", "grid": 8, "flat_weight": 20, **_SSIM8},
}
STEPS["mf-mirror"] = {**STEPS["mf-ssim8"], "flips": True}

FINE = Descriptor(l_grid=8, ab_grid=4)
FINE_W = Descriptor(l_grid=8, ab_grid=4, ab_weight=0.5)
FINE_W25 = Descriptor(l_grid=8, ab_grid=4, ab_weight=0.25)
YL = replace(FINE_W, space="y-lab")

# The best combination measured: Y'-luma 8x8 + a*b* 4x4 at weight 0.5, SSIM re-ranking
# at 8 px (weight 0.3), penalty 0, a flat tile counting as 20 tiles for both limits.
BEST = {"descriptor": YL, "penalty": 0.0, "ssim_weight": 0.3, "match_size": 8,
        "flat_copies": 19}  # fmt: skip


def _best(**changes: object) -> Builder:
    return _recipe(**{**BEST, **changes})  # type: ignore[arg-type]


CONFIGS: dict[str, Builder] = {
    "classic": _classic,
    # mosaicfast as it is (the real API, Rust core); max uses 1% of the cells
    "mf-best": _api(assign="best", min_distance=0, blend=0.0),
    "mf-div": _api(max_uses="1%", blend=0.0),
    "mf-div-blend": _api(max_uses="1%", blend=0.5),
    # the defaults without the local improvement after the greedy (before it was added)
    "mf-div-greedy": _api(max_uses="1%", blend=0.0, improve=0),
    "mf-div-greedy-blend": _api(max_uses="1%", blend=0.5, improve=0),
    "mf-div-improve8": _api(max_uses="1%", blend=0.0, improve=8),
    "mf-combined": _api(max_uses="1%", blend=0.0, metric="combined"),
    "mf-opt": _api(assign="optimal", max_uses="1%", blend=0.0),  # ignores min distance
    # mosaicfast's product, one step of issue 14 at a time (STEPS), tiles untouched
    **{name: _api(max_uses="1%", blend=0.0, **options) for name, options in STEPS.items()},
    "mf-mirror-blend.5": _api(max_uses="1%", blend=0.5, **STEPS["mf-mirror"]),
    "mf-mirror-blend.75": _api(max_uses="1%", blend=0.75, **STEPS["mf-mirror"]),
    # issue 14 items 1 and 2, the last targets: what the use limit allows, and levers
    # the certified least summed squared colour-grid (ylab) distance with each tile at
    # most 1%, 2%, 5% of the cells (ignores min distance and the flat tiles' weight)
    **{
        f"mf-opt-color{tag}": _div(assign="optimal", metric="color", max_uses=cap)
        for tag, cap in _CAPS
    },
    # the defaults with a looser use limit
    **{f"mf-div{tag}": _div(max_uses=cap) for tag, cap in _CAPS[1:]},
    # SSIM weight of the re-ranking (0.3 by default; 0 is colour alone)
    **{f"mf-div-ssim{w:g}": _div(ssim_weight=w) for w in (0.0, 0.1, 0.2, 0.23, 0.25)},
    "mf-div-random": _div(order="random"),
    "mf-div-blend1": _div(blend=1.0),
    # quarter turns (rotate): 8 orientations with the mirror
    "mf-div-rotate": _div(rotate=True),
    "mf-div-rotate-blend": _div(rotate=True, blend=0.5),
    # 32 entries per cell in all, as the mirror alone searches (8 per quarter turn)
    "mf-div-rotate-32": _div(rotate=True, candidates=8),
    # colour alone, with quarter turns (what the SSIM weight costs in colour)
    "mf-div-rotate-ssim0": _div(rotate=True, ssim_weight=0.0),
    # each tile once (the optimal assignment's default use limit), without and with
    # quarter turns
    "mf-once": _api(assign="optimal", blend=0.0),
    "mf-once-rotate": _api(assign="optimal", blend=0.0, rotate=True),
    # research prototypes, diversity on (min distance 1, max uses 1%), tiles untouched
    "R0": _recipe(),  # mosaicfast's 5x5 Lab grid, greedy: the prototype's baseline
    "best5": _recipe(assign="best"),
    # the descriptor
    "W.5": _recipe(descriptor=Descriptor(ab_weight=0.5)),
    "W.25": _recipe(descriptor=Descriptor(ab_weight=0.25)),
    "L8ab4": _recipe(descriptor=FINE),
    "L8ab4-W.5": _recipe(descriptor=FINE_W),
    "L8ab4-G1": _recipe(descriptor=Descriptor(l_grid=8, ab_grid=4, gradient_weight=1.0)),
    "L8ab4-W.5-G1": _recipe(descriptor=replace(FINE_W, gradient_weight=1.0)),
    "L10ab5": _recipe(descriptor=Descriptor(l_grid=10, ab_grid=5)),
    "srgb": _recipe(descriptor=Descriptor(space="lab-srgb")),
    "best5-srgb": _recipe(assign="best", descriptor=Descriptor(space="lab-srgb")),
    "L8ab4-srgb": _recipe(descriptor=Descriptor(l_grid=8, ab_grid=4, space="lab-srgb")),
    "ycc-L8ab4-W.5": _recipe(descriptor=replace(FINE_W, space="ycc")),
    "best-L8ab4-W.5": _recipe(descriptor=FINE_W, assign="best"),
    "best-rgb5": _recipe(descriptor=Descriptor(space="rgb"), assign="best"),
    "rgb5-p0": _recipe(descriptor=Descriptor(space="rgb"), penalty=0.0),
    "rgb-L8ab4-W.5-p0": _recipe(descriptor=replace(FINE_W, space="rgb"), penalty=0.0),
    "YL8ab4-W.5-p0": _recipe(descriptor=YL, penalty=0.0),
    "YL8ab4-W.35-p0": _recipe(
        descriptor=replace(FINE_W, ab_weight=0.35, space="y-lab"), penalty=0.0
    ),
    "YL8ab4-W.7-p0": _recipe(descriptor=replace(FINE_W, ab_weight=0.7, space="y-lab"), penalty=0.0),
    "YL8ab8-W.5-p0": _recipe(descriptor=replace(FINE_W, ab_grid=8, space="y-lab"), penalty=0.0),
    "best-YL8ab4-W.5": _recipe(descriptor=YL, assign="best"),
    "YL8ab4-W.5-rot8-p0+improve": _recipe(descriptor=YL, orientations=8, penalty=0.0, improve=3),
    "YL8ab4-W.5-mirror-opt+improve": _recipe(
        descriptor=YL,
        orientations=2,
        assign="optimal",
        penalty=0.0,
        improve=3,
    ),
    "YL8ab4-W.5-p0-blend.5": _recipe(blend=0.5, descriptor=YL, penalty=0.0),
    # SSIM re-ranking
    "ssim.3": _recipe(ssim_weight=0.3),
    "ssim.5": _recipe(ssim_weight=0.5),
    "L8ab4-ssim.3": _recipe(descriptor=FINE, ssim_weight=0.3),
    "L8ab4-ssim.3-m8": _recipe(descriptor=FINE, ssim_weight=0.3, match_size=8),
    "L8ab4-W.5-p0-ssim.3-m8": _recipe(
        descriptor=FINE_W, penalty=0.0, ssim_weight=0.3, match_size=8
    ),
    # orientations
    "rot8": _recipe(orientations=8),
    "mirror": _recipe(orientations=2),
    "L8ab4-rot8": _recipe(descriptor=FINE, orientations=8),
    # the assignment
    "p0": _recipe(penalty=0.0),
    "flow": _recipe(assign="flow"),
    "flow-p0": _recipe(assign="flow", penalty=0.0),
    "greedy+improve": _recipe(improve=3),
    "flow+improve": _recipe(assign="flow", improve=3),
    "opt": _recipe(assign="optimal", penalty=0.0),
    "opt+improve": _recipe(assign="optimal", penalty=0.0, improve=3),
    "W.5-opt": _recipe(descriptor=Descriptor(ab_weight=0.5), assign="optimal", penalty=0.0),
    # combinations
    "L8ab4-W.5-p0": _recipe(descriptor=FINE_W, penalty=0.0),
    "L8ab4-W.25-p0": _recipe(descriptor=FINE_W25, penalty=0.0),
    "L8ab4-W.5-p0+improve": _recipe(descriptor=FINE_W, penalty=0.0, improve=3),
    "L8ab4-W.5-mirror-p0": _recipe(descriptor=FINE_W, orientations=2, penalty=0.0),
    "L8ab4-W.5-rot8-p0": _recipe(descriptor=FINE_W, orientations=8, penalty=0.0),
    "L8ab4-W.5-rot8-p0+improve": _recipe(descriptor=FINE_W, orientations=8, penalty=0.0, improve=3),
    "L8ab4-W.5-opt": _recipe(descriptor=FINE_W, assign="optimal", penalty=0.0),
    "L8ab4-W.5-opt+improve": _recipe(descriptor=FINE_W, assign="optimal", penalty=0.0, improve=3),
    "L8ab4-W.5-mirror-opt+improve": _recipe(
        descriptor=FINE_W, orientations=2, assign="optimal", penalty=0.0, improve=3
    ),
    "L8ab4-rot8-flow+improve": _recipe(descriptor=FINE, orientations=8, assign="flow", improve=3),
    "L8ab4-rot8-ssim.3-flow+improve": _recipe(
        descriptor=FINE, orientations=8, ssim_weight=0.3, assign="flow", improve=3
    ),
    # the diversity constraints and the penalty, with the best cheap descriptor
    "YL8ab4-W.5-p.01": _recipe(descriptor=YL, penalty=0.01),
    "YL8ab4-W.5-p0-md2": _recipe(descriptor=YL, penalty=0.0, min_distance=2),
    "YL8ab4-W.5-p0-cap2%": _recipe(descriptor=YL, penalty=0.0, max_uses=0.02),
    "YL8ab4-W.5-p0-cap5%": _recipe(descriptor=YL, penalty=0.0, max_uses=0.05),
    # flat tiles exempt: a flat tile counts as 5 (or 20) for max uses and min distance
    "YL8ab4-W.5-p0-flat5": _recipe(descriptor=YL, penalty=0.0, flat_copies=4),
    "YL8ab4-W.5-p0-flat20": _recipe(descriptor=YL, penalty=0.0, flat_copies=19),
    # the best cheap combination: metric-aligned descriptor, SSIM at 8 px, penalty 0
    "Y-ssim8": _best(flat_copies=0),
    "Y-ssim8-flat20": _best(),
    "Y-ssim8-flat20-blend.5": _best(blend=0.5),
    "Y-ssim8-flat20-blend.75": _best(blend=0.75),
    "Y-ssim8-flat20-mirror": _best(orientations=2),
    "Y-ssim8-flat20-rot8": _best(orientations=8),
    "Y.7-ssim8-flat20-mirror": _best(descriptor=replace(YL, ab_weight=0.7), orientations=2),
    "Y.7-ssim8-flat20-rot8": _best(descriptor=replace(YL, ab_weight=0.7), orientations=8),
    "Y1-ssim8-flat20-mirror": _best(descriptor=replace(YL, ab_weight=1.0), orientations=2),
    "Y1.4-ssim8-flat20-mirror": _best(descriptor=replace(YL, ab_weight=1.4), orientations=2),
    "Y1-ssim.2-8-flat20-mirror": _best(
        descriptor=replace(YL, ab_weight=1.0), orientations=2, ssim_weight=0.2
    ),
    "Y-ssim8-blend.5": _best(flat_copies=0, blend=0.5),
    "Y-ssim.5-8": _recipe(descriptor=YL, penalty=0.0, ssim_weight=0.5, match_size=8),
    # blended (issue 14 item 2)
    "mf-div-blend.75": _api(max_uses="1%", blend=0.75),
    # adaptive cells (issue 14 item 3): the same tile count as the plain grid
    "mf-adaptive": _api(max_uses="1%", blend=0.0, adaptive=True),
    "mf-adaptive-blend": _api(max_uses="1%", blend=0.5, adaptive=True),
    # 48-px tiles, so that cells may split twice (12-px to 96-px cells)
    "mf-div-48": _api(max_uses="1%", blend=0.0, tile_size=48),
    "mf-adaptive-48": _api(max_uses="1%", blend=0.0, tile_size=48, adaptive=True),
    "mf-adaptive-48-2": _api(max_uses="1%", blend=0.0, tile_size=48, adaptive=True, split_levels=2),
    "YL8ab4-W.5-p0-blend.75": _recipe(blend=0.75, descriptor=YL, penalty=0.0),
    "L8ab4-W.5-p0-blend.5": _recipe(blend=0.5, descriptor=FINE_W, penalty=0.0),
    "L8ab4-W.5-rot8-p0+improve-blend.5": _recipe(
        blend=0.5, descriptor=FINE_W, orientations=8, penalty=0.0, improve=3
    ),
}
#: The product's defaults (``mf-div``: max uses 1% as the default, tiles untouched;
#: ``mf-div-blend``: the defaults as they are) beside the classic tool and the rule
#: before issue 14.
MAIN = ["classic", "mf-best", "mf-lab-div", "mf-div-greedy", "mf-div", "mf-div-greedy-blend",
        "mf-div-blend", "mf-div-blend.75"]  # fmt: skip
#: Issue 14 items 1 and 2 on the last targets: the certified colour optimum and the
#: defaults at looser use limits (what the limit allows), the SSIM weight, the cell order
#: and the blend strength, beside the defaults.
LIMITS = ["classic", "mf-div", "mf-div-blend", "mf-opt-color", "mf-opt-color-cap2",
          "mf-opt-color-cap5", "mf-div-cap2", "mf-div-cap5", "mf-div-ssim0", "mf-div-ssim0.1",
          "mf-div-ssim0.2", "mf-div-ssim0.23", "mf-div-ssim0.25", "mf-div-random",
          "mf-div-blend.75", "mf-div-blend1"]  # fmt: skip
#: Quarter turns (``rotate``) against the defaults, tiles untouched and blended.
ROTATE = ["classic", "mf-div", "mf-div-rotate", "mf-div-rotate-32", "mf-div-blend",
          "mf-div-rotate-blend"]  # fmt: skip
#: Each tile once, with and without quarter turns.
ONCE = ["classic", "mf-once", "mf-once-rotate"]
#: Adaptive cells against the plain grid, tiles untouched and blended (the defaults).
ADAPTIVE = ["mf-div", "mf-adaptive", "mf-div-blend", "mf-adaptive-blend"]
#: Splitting once or twice (48-px tiles).
ADAPTIVE_LEVELS = ["mf-div-48", "mf-adaptive-48", "mf-adaptive-48-2"]
#: The research's main settings.
RESEARCH = ["classic", "mf-best", "mf-div", "mf-div-blend", "R0", "L8ab4-W.5-p0",
            "L8ab4-W.5-rot8-p0+improve"]  # fmt: skip
#: Issue 14's steps in the product, each against the classic tool.
PRODUCT = ["classic", "mf-lab-div", "mf-ylab-div", "mf-ylab-flat", "mf-ssim8", "mf-mirror",
           "mf-mirror-blend.5", "mf-mirror-blend.75"]  # fmt: skip
KEY = [
    "classic", "mf-best", "mf-div", "mf-div-blend", "R0", "p0", "W.5", "best-rgb5", "rgb5-p0",
    "L8ab4-W.5-p0", "YL8ab4-W.5-p0", "YL8ab4-W.35-p0", "YL8ab8-W.5-p0", "L8ab4-W.5-mirror-p0",
    "YL8ab4-W.5-p0-blend.5", "YL8ab4-W.5-rot8-p0+improve",
]  # fmt: skip
SWEEP = [
    # the classic tool and mosaicfast as it is
    "classic", "mf-best", "mf-div", "mf-div-blend", "mf-combined",
    # the prototype's baseline (mosaicfast's rule), then one lever at a time
    "R0", "p0", "W.5", "W.25", "L8ab4", "L8ab4-G1", "ssim.3", "mirror", "best-rgb5", "rgb5-p0",
    # combinations (greedy, penalty 0)
    "best-L8ab4-W.5", "L8ab4-W.5", "L8ab4-W.5-p0", "L8ab4-W.25-p0", "L8ab4-W.5-G1",
    "rgb-L8ab4-W.5-p0", "ycc-L8ab4-W.5", "best-YL8ab4-W.5", "YL8ab4-W.5-p0", "YL8ab4-W.35-p0",
    "YL8ab4-W.7-p0", "YL8ab8-W.5-p0", "L8ab4-W.5-p0-ssim.3-m8", "L8ab4-W.5-mirror-p0",
    "L8ab4-W.5-p0-blend.5", "YL8ab4-W.5-p0-blend.5",
    # the costly levers: quarter turns, global assignment, local improvement
    "rot8", "L8ab4-W.5-p0+improve", "L8ab4-W.5-rot8-p0", "mf-opt", "opt",
    "L8ab4-W.5-opt+improve", "YL8ab4-W.5-rot8-p0+improve", "YL8ab4-W.5-mirror-opt+improve",
    "L8ab4-W.5-rot8-p0+improve-blend.5",
]  # fmt: skip


def run(
    bench: Bench, targets: list[str], configs: list[str], results: Path, save: Path | None
) -> list[Row]:
    rows = []
    for name in targets:
        target = Image.open(bench.data.target(name)).convert("RGB")
        for config in configs:
            built = CONFIGS[config](bench, name)
            quality = evaluate(target, built.image, built.assignment, **(built.cells or {}))
            row = Row(name, config, quality.ssim, quality.delta_e, quality.distinct,
                      quality.max_uses, quality.adjacent_duplicates, built.match_s,
                      built.render_s)  # fmt: skip
            # ids are the library's tile order, for the API as for the prototypes
            textured = {}
            if built.cells is None:  # a grid's figure
                uses, adjacent = textured_diversity(built.assignment, bench.flat)
                textured = {"textured_max_uses": uses, "textured_adjacent": adjacent}
            rows.append(row)
            print(_line(row), flush=True)
            with open(results, "a") as log:
                record = {**asdict(row), **textured, "stages": built.stages,
                          "time": time.time()}  # fmt: skip
                log.write(json.dumps(record) + "\n")
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                built.image.save(save / f"{name}-{config}.jpg", quality=88)
    return rows


def textured_diversity(assignment: np.ndarray, flat: np.ndarray) -> tuple[int, float]:
    """Most uses of one tile and the share of neighbouring cells holding one same tile,
    counting textured tiles only (each cell of a flat tile counted as a tile of its own:
    a repeated flat tile shows no clump)."""
    ids = np.where(flat[assignment], -1 - np.arange(assignment.size).reshape(assignment.shape),
                   assignment)  # fmt: skip
    _, _, max_uses, adjacent = diversity(ids)
    return max_uses, adjacent


HEADER = ("| target | setting | SSIM | ΔE2000 | distinct | max uses | adjacent dupes "
          "| match s | render s |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def _line(row: Row) -> str:
    return (f"| {row.target} | {row.config} | {row.ssim:.3f} | {row.delta_e:.2f} "
            f"| {row.distinct:,} | {row.max_uses:,} | {row.adjacent:.1%} "
            f"| {row.match_s:.2f} | {row.render_s:.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="all", help="comma-separated names, or all")
    parser.add_argument(
        "--configs",
        default="main",
        help="comma-separated names, main, research, product, key, sweep, adaptive, levels, "
        "limits, rotate, once or all",
    )
    parser.add_argument("--tiles", type=int, default=10_000)
    parser.add_argument("--library", choices=LIBRARY_NAMES, default="standard",
                        help="the tile library: standard (41 photos) or wide (63)")  # fmt: skip
    parser.add_argument("--save", action="store_true", help="keep the mosaics as JPEGs")
    parser.add_argument("--results", type=Path, help="append the rows to this JSON-lines "
                        "file (default: results.jsonl beside the library)")  # fmt: skip
    args = parser.parse_args()
    folder = data_folder(args.library)
    targets = [t.name for t in TARGETS] if args.targets == "all" else args.targets.split(",")
    groups = {"main": MAIN, "research": RESEARCH, "product": PRODUCT, "key": KEY,
              "sweep": SWEEP, "adaptive": ADAPTIVE, "levels": ADAPTIVE_LEVELS, "limits": LIMITS,
              "rotate": ROTATE, "once": ONCE, "all": list(CONFIGS)}  # fmt: skip
    configs = groups.get(args.configs) or args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        sys.exit(f"unknown settings: {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    bench = Bench(make_dataset(args.tiles, library=args.library))
    print(HEADER)
    results = args.results or folder / "results.jsonl"
    run(bench, targets, configs, results, folder / "mosaics" if args.save else None)


if __name__ == "__main__":
    main()
