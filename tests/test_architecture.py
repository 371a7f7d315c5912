"""The package's import layers (docs/architecture.md), checked by walking every import.

The rule: ``errors``, ``_core`` <- ``_util`` <- ``kernels``, ``io`` <- ``options`` <-
``library``, ``plan``, ``matching``, ``render``, ``quality`` <- ``api`` <- ``report``,
``batch`` <- ``cli`` <- the package's entry points (``__init__``, ``__main__``), ``demo``
and the test oracles ``_reference``. A module imports only from lower layers and from its
own part (``io.video`` from ``io.images``), never from a sibling in its layer (so
``matching`` and ``render`` never import each other); only ``kernels`` imports the Rust
``_core``; nothing in the package imports ``_reference`` (tests and benches do).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "mosaicfast"

LAYERS = (
    ("errors", "_core"),
    ("_util",),
    ("kernels", "io"),
    ("options",),
    ("library", "plan", "matching", "render", "quality"),
    ("api",),
    ("report", "batch"),
    ("cli",),
    ("__init__", "__main__", "demo", "_reference"),
)
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    """``mosaicfast.io.video`` for ``python/mosaicfast/io/video.py``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """The part of the package (``io``, ``api``, ``__init__`` ...) ``module`` belongs to."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    suffixes = (path.with_suffix(".py"), path.with_suffix(".pyi"), path / "__init__.py")
    return any(p.is_file() for p in suffixes)


def _imports(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every mosaicfast module that code in ``package`` imports,
    as absolute names; ``from . import x`` imports ``x`` where ``x`` is a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join([*base, node.module] if node.module else base)
            if not node.level:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append((node.lineno, sub if _is_module(sub) else module))
    return [(line, m) for line, m in found if m.split(".")[0] == "mosaicfast"]


def _wrong_imports(module: str, imports: list[tuple[int, str]]) -> list[str]:
    """The imports of ``module`` that break the rule, each with the reason."""
    me = _part(module)
    wrong = []
    for line, imported in imports:
        other = _part(imported)
        if other == "__init__" and module != "mosaicfast":
            wrong.append(f"line {line}: {imported} (the package's __init__ from inside it)")
        elif other == "_reference":
            wrong.append(f"line {line}: {imported} (test oracles are for tests and benches)")
        elif other == "_core" and me != "kernels":
            wrong.append(f"line {line}: {imported} (only kernels wraps the Rust core)")
        elif other != me and LAYER[other] >= LAYER[me]:
            wrong.append(f"line {line}: {imported} (not in a layer below {me})")
    return wrong


def _checked(path: Path) -> list[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _wrong_imports(module, _imports(path.read_text(), package))


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(_module_name(path)) for path in MODULES} | {"_core"}
    assert parts == set(LAYER)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path: Path) -> None:
    assert _checked(path) == []


@pytest.mark.parametrize(
    ("module", "source", "reason"),
    [
        ("mosaicfast.io.sources", "from ..library.store import TileRows", "not in a layer below"),
        ("mosaicfast.matching", "from .render import Painter", "not in a layer below"),
        ("mosaicfast.plan", "from . import api", "not in a layer below"),
        ("mosaicfast.render", "from . import _core", "only kernels wraps"),
        ("mosaicfast.library.store", "import mosaicfast._reference.descriptors", "test oracles"),
        ("mosaicfast.cli", "from . import __version__", "the package's __init__"),
    ],
)
def test_a_wrong_way_import_is_caught(module: str, source: str, reason: str) -> None:
    package = module.rpartition(".")[0]
    (wrong,) = _wrong_imports(module, _imports(source, package))
    assert reason in wrong


def test_imports_inside_a_part_and_down_are_allowed() -> None:
    source = "from .images import Box\nfrom .._util.parallel import ordered_map\n"
    assert _wrong_imports("mosaicfast.io.video", _imports(source, "mosaicfast.io")) == []
