"""Tests for mosaicfast.io.sources: finding photos and loading them as tiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from mosaicfast.errors import MosaicfastError
from mosaicfast.io.sources import TileSource, scan_images


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
    assert log.calls == [(note, "file name does not end in a known image or video suffix")]


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


def test_tile_source_renders_the_same_crop_at_another_size(tmp_path: Path) -> None:
    image = Image.new("RGB", (90, 60), (0, 0, 0))
    image.paste((255, 255, 255), (15, 0, 45, 60))  # left half of the centred square
    path = tmp_path / "half.png"
    image.save(path)
    source = TileSource(path, (15, 0, 75, 60))
    small = source.load(6)
    large = source.load(60)
    assert large.shape == (60, 60, 3)
    assert abs(large.mean() - small.mean()) < 1
    assert large[:, :30].min() >= 250
    assert large[:, 31:].max() <= 5
