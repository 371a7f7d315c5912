"""Descriptor arrays stored per (space, grid): a new library keeps ylab 8 beside lab 5,
a build reads them instead of computing them, a format-1 library (lab only) still
builds the same mosaic and is upgraded by the next index, resumably; verify, repair
and salvage know every stored array."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mosaicfast
from mosaicfast import Library, index_library
from mosaicfast.cli import main
from mosaicfast.kernels.descriptors import tile_descriptors
from mosaicfast.library import store
from mosaicfast.library.maintenance import verify_library
from mosaicfast.library.store import CATALOG, DEFAULT_DESCRIPTORS, DescriptorKind

from .test_library import photos, textured  # noqa: F401  (fixture)

LAB5, YLAB8 = DescriptorKind("lab", 5), DescriptorKind("ylab", 8)


def as_format_1(library: Path) -> None:
    """Make ``library`` what a format-1 mosaicfast wrote: lab 5 only, meta key ``grids``."""
    (library / YLAB8.file).unlink()
    db = sqlite3.connect(library / CATALOG)
    with db:
        db.execute("DELETE FROM meta WHERE key = 'descriptors'")
        db.execute("INSERT INTO meta VALUES ('grids', '[5]')")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    db.close()


@pytest.fixture
def new_and_old(photos: Path, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    """Libraries of ``photos`` as this mosaicfast and a format-1 one wrote them."""
    new, old = tmp_path / "new", tmp_path / "old"
    index_library(new, [photos])
    index_library(old, [photos])
    as_format_1(old)
    return new, old


def meta(library: Path) -> dict[str, str]:
    db = sqlite3.connect(library / CATALOG)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def stored_arrays(library: Path) -> dict[str, bytes]:
    return {k.file: (library / k.file).read_bytes() for k in DEFAULT_DESCRIPTORS}


def test_the_file_names_keep_lab_as_format_1_named_it() -> None:
    assert (LAB5.file, YLAB8.file) == ("desc-g5.i16", "desc-ylab-g8.i16")
    assert DescriptorKind.of_file("desc-g5.i16") == LAB5
    assert DescriptorKind.of_file("desc-ylab-g8.i16") == YLAB8
    for name in ("desc-lab-g5.i16", "desc-ylab-g7.i16", "desc-rgb-g5.i16", "desc-g0.i16"):
        assert DescriptorKind.of_file(name) is None, name
    assert (LAB5.values, YLAB8.values) == (75, 96)


def test_a_new_library_stores_lab_5_and_ylab_8_equal_to_the_thumbnails_descriptors(
    photos: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    index_library(tmp_path / "lib", [photos])
    assert meta(tmp_path / "lib")["format_version"] == "2"
    with Library.open(tmp_path / "lib") as lib:
        assert lib.descriptor_kinds == (LAB5, YLAB8)
        slots = lib.tiles_in_use().slots
        thumbs = lib.thumbnails(slots)
        for kind in (LAB5, YLAB8):
            stored = lib.descriptors(kind.grid, slots, space=kind.space)
            assert stored is not None
            computed = tile_descriptors(thumbs, kind.grid, space=kind.space)
            assert np.array_equal(stored, computed)
    info = CliRunner().invoke(main, ["library", "info", str(tmp_path / "lib")])
    assert "descriptors lab at grid 5, ylab at grid 8" in info.output


def test_a_build_reads_the_stored_ylab_and_matches_one_that_computes_it(
    new_and_old: tuple[Path, Path],
    photo_target: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = new_and_old
    computed = mosaicfast.build(photo_target, library=old, cols=12, tile_size=16)
    assert not (old / YLAB8.file).exists()  # a build only reads

    def no_computing(*args: object, **kwargs: object) -> None:
        raise AssertionError("descriptors computed from thumbnails")

    monkeypatch.setattr(Library, "described_chunks", no_computing)
    stored = mosaicfast.build(photo_target, library=new, cols=12, tile_size=16)
    assert np.array_equal(stored.assignment, computed.assignment)
    assert np.array_equal(np.asarray(stored.image), np.asarray(computed.image))


def test_the_next_index_upgrades_a_format_1_library_once(
    new_and_old: tuple[Path, Path],
    photos: Path,  # noqa: F811
) -> None:
    new, old = new_and_old
    with Library.open(old) as lib:
        assert lib.descriptor_kinds == (LAB5,)
    assert verify_library(old)[0] == []
    report = index_library(old, [photos])
    assert report.unchanged == 12 and report.added == 0
    assert meta(old)["format_version"] == "2" and "grids" not in meta(old)
    assert json.loads(meta(old)["descriptors"]) == [["lab", 5], ["ylab", 8]]
    assert stored_arrays(old) == stored_arrays(new)
    assert verify_library(old)[0] == []
    # New tiles get every stored array, the upgraded ones included.
    textured(photos / "late.png", seed=99)
    index_library(old, [photos])
    index_library(new, [photos])
    assert stored_arrays(old) == stored_arrays(new)


@pytest.mark.parametrize("repaired", [False, True])
def test_an_interrupted_upgrade_is_invisible_and_the_next_one_resumes(
    new_and_old: tuple[Path, Path],
    repaired: bool,
    photos: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = new_and_old
    monkeypatch.setattr(store, "_DESCRIBE_CHUNK", 5)
    visits: list[str] = []

    def killed_on_the_second_chunk(name: str) -> None:
        visits.append(name)
        if visits.count("descriptors-chunk-written") == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(store, "pause_point", killed_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        index_library(old, [photos])
    partial = old / (YLAB8.file + ".partial")
    assert partial.stat().st_size == 10 * YLAB8.values * 2  # two chunks of 5 rows
    assert not (old / YLAB8.file).exists() and meta(old)["format_version"] == "1"
    assert verify_library(old)[0] == []
    with open(partial, "ab") as handle:  # and half a row more, as a kill mid-write leaves
        handle.write(b"\x01" * 7)
    if repaired:  # repair may rewrite thumbnails: it drops the partial array
        _, notes = verify_library(old, repair=True)
        assert not partial.exists() and "interrupted upgrade removed" in " ".join(notes)
    monkeypatch.setattr(store, "pause_point", lambda name: visits.append(name))
    visits.clear()
    index_library(old, [photos])
    # Slots 10 and 11 only, or all 12 again after the repair.
    assert visits.count("descriptors-chunk-written") == (3 if repaired else 1)
    assert not partial.exists()
    assert stored_arrays(old) == stored_arrays(new)
    assert verify_library(old)[0] == []


@pytest.mark.parametrize("damage", ["flipped", "cut"])
def test_verify_finds_a_damaged_ylab_array_and_repair_rebuilds_it(
    photos: Path,  # noqa: F811
    tmp_path: Path,
    damage: str,
) -> None:
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    intact = stored_arrays(lib)
    if damage == "flipped":
        with open(lib / YLAB8.file, "r+b") as handle:
            handle.seek(YLAB8.values * 2 * 4 + 6)
            handle.write(b"\x7f\x7f")
        expected = "desc-ylab-g8.i16: 1 descriptors do not match their thumbnails"
    else:
        with open(lib / YLAB8.file, "r+b") as handle:
            handle.truncate(YLAB8.values * 2 * 9)
        expected = "desc-ylab-g8.i16: 3 committed rows missing"
    problems, _ = verify_library(lib)
    assert expected in [p.message for p in problems]
    problems, _ = verify_library(lib, repair=True)
    assert all(p.repaired for p in problems)
    assert verify_library(lib)[0] == []
    assert stored_arrays(lib) == intact
    assert not list(lib.glob("*.partial"))


@pytest.mark.parametrize("files", [(LAB5, YLAB8), (LAB5,)])
def test_salvage_recovers_the_descriptor_arrays_present(
    photos: Path,  # noqa: F811
    tmp_path: Path,
    files: tuple[DescriptorKind, ...],
) -> None:
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    if YLAB8 not in files:
        (lib / YLAB8.file).unlink()
    with open(lib / CATALOG, "r+b") as handle:
        handle.write(b"garbage garbage garbage")  # the settings are lost with the header
    verify_library(lib, repair=True)
    with Library.open(lib) as opened:
        assert opened.descriptor_kinds == files
    index_library(lib, [photos])
    with Library.open(lib) as opened:
        assert opened.descriptor_kinds == (LAB5, YLAB8)
    assert verify_library(lib)[0] == []  # every array against the thumbnails


def test_stored_arrays_and_builds_do_not_depend_on_the_worker_count(
    photo_target: Path,
    photos: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    arrays, assignments = [], []
    for workers in (1, 2, 5):
        lib = tmp_path / f"lib{workers}"
        index_library(lib, [photos], workers=workers)
        arrays.append(stored_arrays(lib))
        mosaic = mosaicfast.build(photo_target, library=lib, cols=12, tile_size=16, threads=workers)
        assignments.append(mosaic.assignment)
    assert all(a == arrays[0] for a in arrays[1:])
    assert all(np.array_equal(a, assignments[0]) for a in assignments[1:])


def test_a_library_without_a_lab_grid_is_refused(tmp_path: Path) -> None:
    with pytest.raises(mosaicfast.LibraryError, match="must include a lab grid"):
        Library.create(tmp_path / "lib", descriptors=[("ylab", 8)])
