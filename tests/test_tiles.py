"""Tests for mosaicfast.tiles: finding photos and loading them as tiles."""

from __future__ import annotations

import io
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaicfast.errors import MosaicfastError
from mosaicfast.tiles import TileSet, TileSource, load_tiles, scan_images


def photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class SkipLog:
    """An ``on_skip`` callback that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, str]] = []

    def __call__(self, path: Path, reason: str) -> None:
        self.calls.append((path, reason))


# --- scan_images ------------------------------------------------------------------------


def test_scan_finds_images_recursively_and_sorted(tmp_path: Path) -> None:
    expected = [
        touch(tmp_path / "A.JPG"),
        touch(tmp_path / "a" / "b" / "deep.tiff"),
        touch(tmp_path / "a" / "c.Png"),
        touch(tmp_path / "b.jpeg"),
        touch(tmp_path / "fake.jpg", "not an image"),
    ]
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "a" / "sidecar.json")
    touch(tmp_path / "a" / "noext")
    touch(tmp_path / ".hidden.jpg")
    touch(tmp_path / ".thumbnails" / "t.jpg")
    touch(tmp_path / "a" / ".git" / "x.png")
    assert scan_images(tmp_path) == expected
    assert scan_images(str(tmp_path)) == expected


def test_scan_takes_single_files_and_merges_roots(tmp_path: Path) -> None:
    one = touch(tmp_path / "one" / "x.jpg")
    two = touch(tmp_path / "two" / "y.webp")
    note = touch(tmp_path / "two" / "readme.md")
    log = SkipLog()
    found = scan_images(tmp_path / "two", one, tmp_path / "one", note, on_skip=log)
    assert found == [one, two]
    assert log.calls == [(note, "file name does not end in an image suffix")]


def test_scan_follows_symlinks_without_looping(tmp_path: Path) -> None:
    root = tmp_path / "root"
    inside = touch(root / "a" / "x.jpg")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    outside = touch(tmp_path / "elsewhere" / "y.png")
    (root / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = scan_images(root)
    assert found == [inside, root / "linked" / "y.png"]
    assert len({p.resolve() for p in found}) == len(found)
    assert (root / "linked" / "y.png").resolve() == outside.resolve()


def test_scan_lists_a_folder_reached_twice_under_the_first_name(tmp_path: Path) -> None:
    touch(tmp_path / "shared" / "x.jpg")
    root = tmp_path / "root"
    root.mkdir()
    for name in ("b", "a", "c"):
        (root / name).symlink_to(tmp_path / "shared", target_is_directory=True)
    assert scan_images(root) == [root / "a" / "x.jpg"]


def test_scan_ignores_broken_symlinks(tmp_path: Path) -> None:
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    assert scan_images(tmp_path) == []


def test_scan_of_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(MosaicfastError, match="nowhere"):
        scan_images(tmp_path, tmp_path / "nowhere")


def test_scan_reports_unreadable_folders(tmp_path: Path) -> None:
    kept = touch(tmp_path / "ok" / "x.jpg")
    locked = tmp_path / "locked"
    touch(locked / "y.jpg")
    locked.chmod(0)
    log = SkipLog()
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("this user (root) lists folders regardless of their permissions")
        assert scan_images(tmp_path, on_skip=log) == [kept]
    finally:
        locked.chmod(0o755)
    assert log.calls == [(locked, "permission denied")]


# --- load_tiles -------------------------------------------------------------------------


def test_load_tiles_keeps_good_files_in_order_and_reports_bad_ones(tmp_path: Path) -> None:
    red = photo(tmp_path / "1.png", (255, 0, 0))
    empty = touch(tmp_path / "2.jpg")
    green = photo(tmp_path / "3.jpg", (0, 255, 0), size=(64, 100))
    fake = touch(tmp_path / "4.png", "hello")
    missing = tmp_path / "5.png"
    blue = photo(tmp_path / "6.webp", (0, 0, 255))
    log = SkipLog()
    tiles = load_tiles([red, empty, green, fake, missing, blue], 8, workers=2, on_skip=log)

    assert len(tiles) == 3
    assert tiles.thumbs.shape == (3, 8, 8, 3)
    assert tiles.thumbs.dtype == np.uint8
    assert tiles.thumbs.flags.c_contiguous
    assert tiles.sources == [
        TileSource(red, (8, 0, 40, 32)),
        TileSource(green, (0, 18, 64, 82)),
        TileSource(blue, (8, 0, 40, 32)),
    ]
    means = tiles.thumbs.reshape(3, -1, 3).mean(axis=1)
    assert np.abs(means - [(255, 0, 0), (0, 255, 0), (0, 0, 255)]).max() <= 3
    assert [path for path, _ in tiles.skipped] == [empty, fake, missing]
    assert [reason for _, reason in tiles.skipped] == [
        "file is empty",
        "not an image file Pillow can read",
        "no such file",
    ]
    assert log.calls == tiles.skipped


def test_load_tiles_is_deterministic_across_worker_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    paths = []
    for index in range(40):
        pixels = rng.integers(0, 256, size=(30 + index, 40, 3), dtype=np.uint8)
        paths.append(tmp_path / f"{index:02}.jpg")
        Image.fromarray(pixels).save(paths[-1])
    paths.insert(5, touch(tmp_path / "bad.jpg", "nope"))
    one = load_tiles(paths, 12, workers=1)
    two = load_tiles(paths, 12, workers=2)
    many = load_tiles(paths, 12, workers=7)
    assert len(one) == 40
    assert np.array_equal(one.thumbs, two.thumbs)
    assert np.array_equal(one.thumbs, many.thumbs)
    assert one.sources == two.sources == many.sources
    assert [s.path for s in one.sources] == [p for p in paths if p.name != "bad.jpg"]
    assert one.skipped == two.skipped == many.skipped


def test_load_tiles_leaves_the_warning_filters_alone(tmp_path: Path) -> None:
    paths = [photo(tmp_path / f"{i}.png", (i, 0, 0)) for i in range(24)]
    before = list(warnings.filters)
    assert len(load_tiles(paths, 4, workers=6)) == 24
    assert warnings.filters == before


def test_load_tiles_of_nothing_is_an_empty_set() -> None:
    tiles = load_tiles([], 16)
    assert isinstance(tiles, TileSet)
    assert len(tiles) == 0
    assert tiles.thumbs.shape == (0, 16, 16, 3)
    assert tiles.skipped == []


def test_load_tiles_with_no_usable_file_is_empty(tmp_path: Path) -> None:
    bad = [touch(tmp_path / "a.jpg"), touch(tmp_path / "b.png", "x")]
    tiles = load_tiles(bad, 10)
    assert len(tiles) == 0
    assert tiles.thumbs.shape == (0, 10, 10, 3)
    assert [path for path, _ in tiles.skipped] == bad


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_load_tiles_progress_bar_writes_to_a_terminal_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [photo(tmp_path / f"{i}.png", (i, i, i)) for i in range(3)]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert len(load_tiles(paths, 4, progress=True)) == 3
    assert "tiles" in terminal.getvalue()
    assert "3/3" in terminal.getvalue()
    shown = len(terminal.getvalue())
    load_tiles(paths, 4)
    assert len(terminal.getvalue()) == shown


def test_load_tiles_progress_bar_stays_out_of_pipes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [photo(tmp_path / f"{i}.png", (i, i, i)) for i in range(3)]
    assert len(load_tiles(paths, 4, progress=True)) == 3
    assert capsys.readouterr().err == ""


def test_load_tiles_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        load_tiles([], 0)
    with pytest.raises(ValueError, match="workers"):
        load_tiles([], 4, workers=0)


def test_tile_source_renders_the_same_crop_at_another_size(tmp_path: Path) -> None:
    image = Image.new("RGB", (90, 60), (0, 0, 0))
    image.paste((255, 255, 255), (15, 0, 45, 60))  # left half of the centred square
    path = tmp_path / "half.png"
    image.save(path)
    tiles = load_tiles([path], 6)
    source = tiles.sources[0]
    assert source.box == (15, 0, 75, 60)
    large = source.load(60)
    assert large.shape == (60, 60, 3)
    assert abs(large.mean() - tiles.thumbs[0].mean()) < 1
    assert large[:, :30].min() >= 250
    assert large[:, 31:].max() <= 5
