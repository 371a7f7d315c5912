"""The documentation says what the code does: every command and option of the command
line is in docs/cli.md, with the default the command really has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from mosaicfast.cli import main

ROOT = Path(__file__).parents[1]
CLI_PAGE = ROOT / "docs" / "cli.md"
#: The section of docs/cli.md that each command's options are in, then the shared ones.
SECTIONS = {
    "build": ["`mosaicfast build`"],
    "index": ["`mosaicfast index`", "Video options (`index` and `splice`)"],
    "splice": ["`mosaicfast splice`", "Video options (`index` and `splice`)"],
    "evaluate": ["`mosaicfast evaluate`"],
    "report": ["`mosaicfast report`"],
    "library info": ["`mosaicfast library info` and `library verify`"],
    "library verify": ["`mosaicfast library info` and `library verify`"],
}


def documented_defaults() -> dict[str, dict[str, str]]:
    """Per ``##`` section of docs/cli.md: option name -> the default its table gives."""
    sections: dict[str, dict[str, str]] = {}
    for part in re.split(r"^## ", CLI_PAGE.read_text(), flags=re.MULTILINE)[1:]:
        title, *lines = part.splitlines()
        rows: dict[str, str] = {}
        for line in lines:
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) == 3 and cells[0].startswith("`-"):
                for name in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", cells[0]):
                    rows[name] = cells[1]
        sections[title] = rows
    return sections


def commands() -> dict[str, click.Command]:
    """Every command of the command line, sub-commands as ``group command``."""
    found: dict[str, click.Command] = {}
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            found[name] = command
    return found


def test_every_command_has_its_section() -> None:
    assert set(commands()) == set(SECTIONS)
    assert all(title in documented_defaults() for titles in SECTIONS.values() for title in titles)


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_every_option_is_documented_with_its_default(name: str) -> None:
    sections = documented_defaults()
    for option in commands()[name].params:
        if not isinstance(option, click.Option) or "--help" in option.opts:
            continue
        flag = max(option.opts, key=len)
        tables = [sections[title] for title in SECTIONS[name] if flag in sections[title]]
        assert tables, f"{name} {flag} is not in {CLI_PAGE.name}"
        shown = tables[0][flag].replace("`", "").replace(",", "")
        if option.is_flag:
            assert shown == "", (name, flag, shown)
        elif option.required:
            assert shown == "(required)", (name, flag, shown)
        elif (default := option.to_info_dict()["default"]) is not None:
            if isinstance(default, (int, float)):
                assert float(shown) == default, (name, flag, shown, default)
            else:
                assert shown == default, (name, flag, shown, default)
        else:  # computed when not given: the figure the page gives is the one --help gives
            figures = re.findall(r"\d+", shown)
            help_text = (option.help or "").replace(",", "")
            assert all(figure in help_text for figure in figures), (name, flag, shown)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_pages_lead_somewhere() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):  # a web address
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), (page.name, target)
            if fragment and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)
                assert fragment in {anchor(h) for h in headings}, (page.name, target)
