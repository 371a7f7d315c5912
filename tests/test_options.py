"""One options model (``mosaicfast.options``): the command line, the Python API and the
docs show the same options, defaults and ranges, and every rule is checked by one code."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import click
import numpy as np
import pytest

from mosaicfast import build, index_library
from mosaicfast.cli import _with_flags, main
from mosaicfast.errors import MosaicfastError
from mosaicfast.io.video import SpliceOptions
from mosaicfast.options import (
    BuildOptions,
    IndexOptions,
    MatchOptions,
    PlanOptions,
    RenderOptions,
    Spec,
    specs,
)
from mosaicfast.plan import plan_grid, plan_print

from .conftest import load_tool

ROOT = Path(__file__).parents[1]


def _click_options(command: str) -> dict[str, click.Option]:
    found = main.commands[command].params  # type: ignore[attr-defined]
    return {p.name: p for p in found if isinstance(p, click.Option) and p.name}


@pytest.mark.parametrize(
    ("command", "group"),
    [
        ("build", BuildOptions),
        ("index", IndexOptions),
        ("index", SpliceOptions),
        ("splice", SpliceOptions),
    ],
)
def test_the_command_line_has_every_option_with_its_default_range_and_help(
    command: str, group: type
) -> None:
    options = _click_options(command)
    for item, spec in specs(group):
        option = options[item.name]
        # The flags the model names (an on/off pair, an older name), else --name.
        names = spec.names or ("--" + item.name.replace("_", "-"),)
        assert option.opts == [name.split("/")[0] for name in names], item.name
        assert option.secondary_opts == [n.split("/")[1] for n in names if "/" in n], item.name
        assert option.help is not None and "{" not in option.help, item.name
        if spec.kind is bool:
            assert option.is_flag and option.to_info_dict()["default"] is item.default, item.name
            continue
        assert option.to_info_dict()["default"] == item.default, item.name
        kind = option.type
        if spec.choices:
            assert isinstance(kind, click.Choice) and tuple(kind.choices) == spec.choices
        elif spec.kind in (int, float):
            assert isinstance(kind, (click.IntRange, click.FloatRange)), item.name
            assert (kind.min, kind.max, kind.min_open) == (spec.low, spec.high, spec.open_low)
            assert isinstance(kind, click.IntRange) == (spec.kind is int), item.name


def test_the_api_defaults_are_the_models() -> None:
    parameters = inspect.signature(build).parameters
    assert parameters["options"].default is None  # None: BuildOptions(), every default
    assert parameters["overrides"].kind is inspect.Parameter.VAR_KEYWORD
    assert BuildOptions.of() == BuildOptions()
    assert dataclasses.asdict(BuildOptions().match) == dataclasses.asdict(MatchOptions())
    made = {item.name: item.default for item, _ in specs(BuildOptions)}
    assert BuildOptions().as_dict() == {k: v for k, v in made.items() if k != "threads"}
    # The defaults the layers below take are the model's, not copies.
    grid = inspect.signature(plan_grid).parameters
    printed = inspect.signature(plan_print).parameters
    for name in ("enlargement", "max_cells", "max_output_pixels"):
        assert grid[name].default == printed[name].default == getattr(PlanOptions, name)
    index = inspect.signature(index_library).parameters
    assert index["thumb_size"].default == IndexOptions.thumb_size
    assert index["near_distance"].default == IndexOptions.near_distance


def test_keyword_options_and_option_objects_are_one_thing() -> None:
    made = BuildOptions.of(cols=120, assign="optimal", blend=0.2, threads=2)
    assert made == BuildOptions(
        plan=PlanOptions(cols=120),
        match=MatchOptions(assign="optimal"),
        render=RenderOptions(blend=0.2),
        threads=2,
    )
    # A group replaced, then a field of it overridden.
    assert BuildOptions.of(match=MatchOptions(grid=4), seed=4).match == MatchOptions(grid=4, seed=4)
    with pytest.raises(TypeError, match="unknown option"):
        BuildOptions.of(colums=3)


@pytest.mark.parametrize(
    ("options", "name", "words"),
    [
        ({"grid": 17}, "grid", "grid must be from 1 to 16, got 17"),
        ({"blend": -0.1}, "blend", "blend must be from 0 to 1"),
        ({"enlargement": 0}, "enlargement", "enlargement must be above 0"),
        ({"cols": 0}, "cols", "cols must be at least 1"),
        ({"threads": 0}, "threads", "threads must be from 1 to 256"),
        ({"threads": -3}, "threads", "threads must be from 1 to 256"),
        ({"metric": "psnr"}, "metric", "metric must be one of color, ssim, combined"),
        ({"candidates": 2.5}, "candidates", "candidates must be an integer"),
        ({"penalty": float("nan")}, "penalty", "penalty must be a finite number"),
        ({"flips": "yes"}, "flips", "flips must be True or False"),
        ({"seed": -1}, "seed", "seed must be at least 0"),
    ],
)
def test_a_rule_is_checked_once_and_speaks_of_parameters(
    options: dict[str, object], name: str, words: str
) -> None:
    with pytest.raises(MosaicfastError, match=re.escape(words)) as raised:
        BuildOptions.of(**options)
    assert raised.value.parameters == (name,)
    # build() checks with the same code, before reading any file.
    with pytest.raises(MosaicfastError, match=re.escape(words)):
        build("no-such-target.png", library="no-such-library", **options)  # type: ignore[arg-type]
    # ... and the command line writes the parameter as its flag.
    spec = {item.name: spec for item, spec in specs(BuildOptions)}.get(name)
    names = spec.names if spec is not None else ()
    flag = names[0].split("/")[0] if names else "--" + name.replace("_", "-")
    assert _with_flags(raised.value).startswith(flag + " must")


def test_options_that_do_not_go_together_are_refused_by_the_model() -> None:
    with pytest.raises(MosaicfastError, match="give print_size or tile_size") as raised:
        PlanOptions(print_size="10x10cm", tile_size=20)
    assert raised.value.parameters == ("print_size", "tile_size")


def test_the_range_in_words_is_the_range_checked() -> None:
    spec = Spec("", int, 1, 16)
    assert spec.range_text() == "from 1 to 16"
    spec.check("grid", 1)
    spec.check("grid", 16)
    with pytest.raises(MosaicfastError):
        spec.check("grid", 17)
    assert Spec("", float, 0, open_low=True).range_text() == "above 0"


def test_the_api_page_table_is_written_from_the_model() -> None:
    tool = load_tool("options_table")
    page = (ROOT / "docs" / "api.md").read_text()
    assert page.count(tool.BEGIN) == page.count(tool.END) == 1
    assert tool.page_with_table(page) == page, "run python tools/options_table.py"
    for item, _ in specs(BuildOptions):
        assert f"`{item.name}`" in page


def _cli_rows() -> dict[str, str]:
    """``--flag`` -> the meaning column of its row in docs/cli.md."""
    rows = {}
    for line in (ROOT / "docs" / "cli.md").read_text().splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0].startswith("`-"):
            for flag in re.findall(r"(--[a-z][\w-]*)", cells[0]):
                rows.setdefault(flag, cells[2])
    return rows


@pytest.mark.parametrize("group", [BuildOptions, IndexOptions, SpliceOptions])
def test_the_cli_page_states_each_range_and_choice(group: type) -> None:
    rows = _cli_rows()
    for item, spec in specs(group):
        names = spec.names or ("--" + item.name.replace("_", "-"),)
        meaning = rows[names[0].split("/")[0]]
        if spec.choices:
            assert all(
                f"`{choice}`" in meaning for choice in spec.choices if choice != item.default
            ), item.name
        elif spec.low is not None and spec.high is not None:
            assert f"{spec.low:g} to {spec.high:g}" in meaning, (item.name, meaning)


def test_the_matching_page_names_the_defaults_in_force() -> None:
    page = (ROOT / "docs" / "matching.md").read_text()
    defaults = {item.name: item.default for item, _ in specs(BuildOptions)}
    stated = re.findall(r"`--([a-z-]+) ([\w.]+)` \(default", page)
    (sentence,) = re.findall(r"The defaults \(`([^`]+)`\)", page)
    stated += re.findall(r"--([a-z-]+) ([\w.]+)", sentence)
    assert len(stated) >= 5
    for flag, value in stated:
        default = defaults[flag.replace("-", "_")]
        assert str(default) == value or float(value) == default, (flag, value, default)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"thumb_size": 16}, "thumb_size must be from 32 to 1024, got 16"),
        ({"near_distance": 17}, "near_distance must be from 0 to 16, got 17"),
        ({"max_image_pixels": 0}, "max_image_pixels must be at least 1, got 0"),
        ({"workers": -2}, "threads must be from 1 to 256, got -2"),
    ],
)
def test_index_library_checks_its_options_by_the_model_before_any_work(
    tmp_path: Path, options: dict[str, int], words: str
) -> None:
    with pytest.raises(MosaicfastError, match=re.escape(words)):
        index_library(tmp_path / "lib", [tmp_path], **options)  # type: ignore[arg-type]
    assert not (tmp_path / "lib").exists()
    index_library(tmp_path / "ok", [tmp_path], near_distance=None)  # None: no near dedupe


def test_errors_raised_after_the_options_check_also_name_parameters(tmp_path: Path) -> None:
    from mosaicfast.matching import match_cells

    cells, tiles = np.zeros((6, 3), np.int16), np.zeros((2, 3), np.int16)
    with pytest.raises(MosaicfastError, match=r"\(max_uses\)") as raised:
        match_cells(cells, tiles, (2, 3), MatchOptions(assign="optimal", max_uses=2))
    assert raised.value.parameters == ("max_uses",)
    assert "(--max-uses)" in _with_flags(raised.value)


def test_video_options_are_checked_by_their_fields() -> None:
    with pytest.raises(MosaicfastError, match=r"^fps must be above 0, got 0$") as raised:
        SpliceOptions(fps=0)
    assert raised.value.parameters == ("fps",)
    with pytest.raises(MosaicfastError, match=r"^static_difference must be at least 0"):
        SpliceOptions(static_difference=-1)
