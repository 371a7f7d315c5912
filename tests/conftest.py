"""Shared fixtures: small generated tile folders and targets (no downloads)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mosaicfast.library import Library

ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str) -> ModuleType:
    """A script of ``tools/`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Distinct solid colours; tiles and targets built from them match exactly.
PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (250, 190, 190),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
]


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the cache libraries of ``build --tiles`` out of the user's cache folder."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MOSAICFAST_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def warnings_are_errors_in_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands the tests run as processes fail on a warning too, as the tests themselves
    do (``filterwarnings = ["error"]`` in pyproject.toml)."""
    monkeypatch.setenv("PYTHONWARNINGS", "error")


#: Options that make build give every cell its nearest tile, untouched: the plain
#: best-match mode whose exact results several tests check.
EXACT: dict[str, object] = {
    "assign": "best", "min_distance": 0, "blend": 0.0, "metric": "color", "flips": False,
}  # fmt: skip


def solid(color: tuple[int, int, int], width: int, height: int | None = None) -> Image.Image:
    """A solid-colour RGB image."""
    return Image.new("RGB", (width, height or width), color)


@pytest.fixture
def palette_tiles(tmp_path: Path) -> Path:
    """A folder with one lossless solid tile per palette colour, named in palette order."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i, color in enumerate(PALETTE):
        # Non-square photos: only their centre square is used.
        solid(color, 60 + i, 40 + i).save(folder / f"tile{i:02d}.png")
    return folder


def palette_target(layout: np.ndarray, cell: int = 10) -> Image.Image:
    """A target whose cells are solid palette colours given by ``layout`` (rows x cols)."""
    colors = np.array(PALETTE, dtype=np.uint8)[layout]
    pixels = np.repeat(np.repeat(colors, cell, axis=0), cell, axis=1)
    return Image.fromarray(pixels)


@pytest.fixture
def layout() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, len(PALETTE), size=(6, 9))


@pytest.fixture
def photo_tiles(tmp_path: Path) -> Path:
    """A folder of 80 small noisy gradient photos (JPEG), enough for varied matches."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    _, x = np.mgrid[0:48, 0:64]
    for i in range(80):
        base = rng.integers(0, 256, 3)
        slope = rng.integers(-2, 3, 3)
        pixels = base + slope * (x[..., None] // 4) + rng.integers(-8, 9, (48, 64, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / f"p{i:03d}.jpg", quality=90
        )
    return folder


@pytest.fixture
def photo_target(tmp_path: Path) -> Path:
    """A 120 x 80 smooth colour target."""
    y, x = np.mgrid[0:80, 0:120]
    pixels = np.stack([x * 2, y * 3, 255 - x - y], axis=-1)
    path = tmp_path / "target.png"
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def query(lib: Library, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on ``lib``'s catalog: tests read the tables directly, the
    package through :mod:`mosaicfast.library.catalog`."""
    return lib.read(lambda db: db.execute(sql, params).fetchall())
