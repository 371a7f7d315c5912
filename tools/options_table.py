"""Write the table of build and index options into docs/api.md from
``mosaicfast.options`` (the one place they are defined).

Run ``python tools/options_table.py`` after adding or changing an option;
``tests/test_options.py`` fails while the page is out of date.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mosaicfast.io.video import SpliceOptions
from mosaicfast.options import BuildOptions, IndexOptions, Spec, specs

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BEGIN = "<!-- options table: written by tools/options_table.py from mosaicfast/options.py -->"
END = "<!-- end of the options table -->"


def _default(default: Any) -> str:
    if isinstance(default, str):
        return f'`"{default}"`'
    if isinstance(default, int) and not isinstance(default, bool):
        return f"`{default:_}`"
    return f"`{default}`"


def _allowed(spec: Spec) -> str:
    if spec.choices:
        return ", ".join(f'`"{c}"`' for c in spec.choices)
    if spec.kind in (int, float) and (spec.low is not None or spec.high is not None):
        return spec.range_text()
    return ""


def table() -> str:
    """The Markdown table: every option of ``build`` (by group), of ``index`` and of
    its ``video=SpliceOptions(...)``."""
    lines = ["| group | option | default | range or choices |", "|---|---|---|---|"]
    own = {item.name for item in dataclasses.fields(BuildOptions)}
    groups = [(item.name, item.default_factory) for item in dataclasses.fields(BuildOptions)
              if item.name != "threads"]  # fmt: skip
    every = [*groups, ("build", BuildOptions), ("index", IndexOptions), ("video", SpliceOptions)]
    for name, group in every:
        for item, spec in specs(group):
            if group is BuildOptions and item.name not in own:
                continue  # the groups' options, listed above
            lines.append(
                f"| {name} | `{item.name}` | {_default(item.default)} | {_allowed(spec)} |"
            )
    return "\n".join(lines)


def page_with_table(text: str) -> str:
    """``text`` (docs/api.md) with the table between its markers written anew."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f"{PAGE} must hold the table's two markers once each")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    PAGE.write_text(page_with_table(PAGE.read_text()))
