"""The tile library: indexing, incremental updates, duplicates, bad files, locking,
format versions, info and verify."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mosaicfast
from mosaicfast import Library, LibraryError, LibraryLockedError, index_library
from mosaicfast.cli import main
from mosaicfast.library import indexer
from mosaicfast.library.indexer import IndexInterruptedError, _BatchWriter
from mosaicfast.library.maintenance import library_info, verify_library
from mosaicfast.library.store import CATALOG, THUMBS

from ..conftest import palette_target, query


def textured(path: Path, seed: int, size: tuple[int, int] = (80, 60)) -> Path:
    """A photo with structure (so perceptual hashes of different ones differ)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i in range(12):
        textured(folder / f"p{i:02d}.png", seed=i)
    return folder


def tiles_by_path(library: Path) -> dict[str, int]:
    with Library.open(library) as lib:
        return dict(
            query(
                lib,
                "SELECT s.path, COUNT(*) FROM tiles t JOIN sources s ON s.id = t.source_id "
                "GROUP BY s.path",
            )
        )


def test_index_stores_thumbnails_descriptors_and_sources(photos: Path, tmp_path: Path) -> None:
    report = index_library(tmp_path / "lib", [photos], thumb_size=32)
    assert (report.scanned, report.added, report.tiles_added) == (12, 12, 12)
    with Library.open(tmp_path / "lib") as lib:
        rows = lib.tiles_in_use()
        assert len(rows) == 12
        assert [Path(p).name for p in rows.paths] == [f"p{i:02d}.png" for i in range(12)]
        assert rows.boxes[0].tolist() == [10, 0, 70, 60]  # centre square of 80 x 60
        thumbs = lib.thumbnails(rows.slots)
        assert thumbs.shape == (12, 32, 32, 3)
        expected = mosaicfast.TileSource(Path(rows.paths[3]), (10, 0, 70, 60)).load(32)
        assert np.array_equal(thumbs[3], expected)
        stored = lib.descriptors(5, rows.slots)
        assert np.array_equal(stored, mosaicfast.kernels.descriptors.tile_descriptors(thumbs, 5))


def test_reindexing_reads_only_new_and_changed_files(photos: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    again = index_library(lib, [photos])
    assert (again.unchanged, again.added, again.removed) == (12, 0, 0)

    textured(photos / "new.png", seed=100)
    textured(photos / "p03.png", seed=103)  # changed content
    os.utime(photos / "p03.png", ns=(1, 1))
    (photos / "p07.png").unlink()
    update = index_library(lib, [photos])
    assert (update.added, update.unchanged, update.removed) == (2, 10, 1)
    counts = tiles_by_path(lib)
    assert len(counts) == 12 and set(counts.values()) == {1}
    assert str(photos / "p07.png") not in counts
    with Library.open(lib) as library:
        rows = library.tiles_in_use()
        changed = rows.paths.index(str(photos / "p03.png"))
        thumb = library.thumbnails(rows.slots[changed : changed + 1])[0]
    fresh = mosaicfast.TileSource(photos / "p03.png", (10, 0, 70, 60)).load(64)
    assert np.array_equal(thumb, fresh)

    # Without sources, the folders indexed before are updated.
    (photos / "p08.png").unlink()
    assert index_library(lib).removed == 1


def test_exact_and_near_duplicates_are_set_aside(photos: Path, tmp_path: Path) -> None:
    shutil.copy(photos / "p00.png", photos / "copy.png")  # the same pixels
    Image.open(photos / "p01.png").save(photos / "reencoded.jpg", quality=92)
    Image.open(photos / "p02.png").resize((160, 120)).save(photos / "bigger.png")
    shifted = np.asarray(Image.open(photos / "p04.png")).astype(int)
    shifted[..., 2] = np.clip(shifted[..., 2] + 60, 0, 255)  # same shapes, other colours
    Image.fromarray(shifted.astype(np.uint8)).save(photos / "bluer.png")

    report = index_library(tmp_path / "lib", [photos])
    assert report.exact_duplicates == 1
    assert report.near_duplicates == 2
    info = library_info(tmp_path / "lib")
    assert (info.tiles, info.in_use, info.exact_duplicates, info.near_duplicates) == (16, 13, 1, 2)

    kept = index_library(tmp_path / "all", [photos], near_distance=None)
    assert (kept.exact_duplicates, kept.near_duplicates) == (1, 0)


def test_removing_a_kept_tile_promotes_its_duplicate(photos: Path, tmp_path: Path) -> None:
    shutil.copy(photos / "p05.png", photos / "z-copy.png")
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    (photos / "p05.png").unlink()
    index_library(lib, [photos])
    with Library.open(lib) as library:
        paths = library.tiles_in_use().paths
    assert str(photos / "z-copy.png") in paths
    assert len(paths) == 12


def test_bad_files_are_recorded_and_never_abort(photos: Path, tmp_path: Path) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "text.png").write_text("not an image")
    good = (photos / "p00.png").read_bytes()
    (photos / "truncated.png").write_bytes(good[: len(good) // 2])
    os.symlink(photos, photos / "loop")  # a symlink loop: each real folder once
    Image.new("RGB", (300, 300)).save(photos / "bomb.png")
    locked = textured(photos / "locked.png", seed=50)
    locked.chmod(0)
    seen: list[tuple[Path, str]] = []
    report = index_library(
        tmp_path / "lib",
        [photos],
        max_image_pixels=50_000,
        on_skip=lambda p, r: seen.append((p, r)),
    )
    reasons = {p.name: r for p, r in report.skipped}
    assert reasons["empty.jpg"] == "file is empty"
    assert "not an image" in reasons["text.png"]
    assert "truncated" in reasons["truncated.png"] or "corrupt" in reasons["truncated.png"]
    assert "90,000 pixels" in reasons["bomb.png"] or "90000" in reasons["bomb.png"]
    if os.access(locked, os.R_OK):  # root reads anything
        assert "locked.png" not in reasons
    else:
        assert reasons["locked.png"] == "permission denied"
    assert sorted(seen) == sorted(report.skipped)
    assert report.tiles_added == 12 + ("locked.png" not in reasons)
    unreadable = dict(library_info(tmp_path / "lib").unreadable)
    assert unreadable[str(photos / "empty.jpg")] == "file is empty"
    # Unchanged bad files are not read again, but still reported.
    again = index_library(tmp_path / "lib", [photos], max_image_pixels=50_000)
    assert again.added == 0 and {p.name for p, _ in again.skipped} == set(reasons)
    # Raising the pixel limit lets the big image in once it changes or is re-indexed.
    os.utime(photos / "bomb.png", ns=(5, 5))
    assert index_library(tmp_path / "lib", [photos]).added == 1


def test_results_do_not_depend_on_the_thread_count(photos: Path, tmp_path: Path) -> None:
    for workers in (1, 2, 5):
        index_library(tmp_path / f"lib{workers}", [photos], workers=workers)
    snapshots = []
    for workers in (1, 2, 5):
        with Library.open(tmp_path / f"lib{workers}") as lib:
            rows = lib.tiles_in_use()
            snapshots.append((rows.paths, rows.boxes.tolist(), lib.thumbnails(rows.slots)))
    for paths, boxes, thumbs in snapshots[1:]:
        assert paths == snapshots[0][0] and boxes == snapshots[0][1]
        assert np.array_equal(thumbs, snapshots[0][2])


def test_worker_processes_and_threads_make_the_same_library(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    textured(photos / "copy.png", seed=0)  # an exact duplicate of p00
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    pools: list[bool] = []

    def ordered_map(*args: Any, processes: bool = False, **kwargs: Any) -> Any:
        pools.append(processes)
        return real_ordered_map(*args, processes=processes, **kwargs)

    real_ordered_map = indexer.ordered_map
    monkeypatch.setattr(indexer, "ordered_map", ordered_map)
    for name, fewest_for_processes in (("threads", 10**9), ("processes", 1)):
        monkeypatch.setattr(indexer, "_PROCESS_MIN_FILES", fewest_for_processes)
        report = index_library(tmp_path / name, [photos], workers=2)
        assert (report.added, report.failed, report.exact_duplicates) == (13, 1, 1)
    assert pools == [False, True]
    for array in ("thumbs.u8", "desc-g5.i16", "desc-ylab-g8.i16"):
        assert (tmp_path / "threads" / array).read_bytes() == (
            tmp_path / "processes" / array
        ).read_bytes(), array
    tables = []
    for name in ("threads", "processes"):
        with Library.open(tmp_path / name) as lib:
            tables.append(
                [query(lib, f"SELECT * FROM {t} ORDER BY 1") for t in ("sources", "tiles")]
            )
    assert tables[0] == tables[1]


def test_indexing_leaves_the_warning_filters_alone(photos: Path, tmp_path: Path) -> None:
    before = list(warnings.filters)
    index_library(tmp_path / "lib", [photos], workers=6)
    assert warnings.filters == before


def test_a_second_writer_is_told_who_holds_the_lock(photos: Path, tmp_path: Path) -> None:
    index_library(tmp_path / "lib", [photos])
    with Library.open(tmp_path / "lib", write=True):
        with pytest.raises(LibraryLockedError, match=f"locked by process {os.getpid()}"):
            index_library(tmp_path / "lib", [photos])
        # Readers are not blocked by the writer.
        assert len(library_info(tmp_path / "lib").roots) == 1
        mosaic = mosaicfast.build(
            palette_target(np.zeros((2, 3), int)), library=tmp_path / "lib", cols=3
        )
        assert mosaic.assignment.shape == (2, 3)
    index_library(tmp_path / "lib", [photos])  # the lock is free again


def test_another_format_version_is_refused_clearly(photos: Path, tmp_path: Path) -> None:
    index_library(tmp_path / "lib", [photos])
    db = sqlite3.connect(tmp_path / "lib" / CATALOG)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    db.close()
    with pytest.raises(LibraryError, match=r"format version 99.*reads versions 1, 2"):
        Library.open(tmp_path / "lib")
    with pytest.raises(LibraryError, match="no mosaicfast library"):
        Library.open(tmp_path)


def test_ctrl_c_commits_what_is_done(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = _BatchWriter.add

    def add_then_interrupt(self: _BatchWriter, chunk: object) -> None:
        real_add(self, chunk)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C after the first chunk of files

    monkeypatch.setattr(_BatchWriter, "add", add_then_interrupt)
    with pytest.raises(IndexInterruptedError, match="run the same command again") as caught:
        index_library(tmp_path / "lib", [photos], workers=2)
    done = caught.value.report.added
    assert 0 < done < 12
    assert len(tiles_by_path(tmp_path / "lib")) == done
    monkeypatch.setattr(_BatchWriter, "add", real_add)
    resumed = index_library(tmp_path / "lib", [photos])
    assert (resumed.unchanged, resumed.added) == (done, 12 - done)
    assert len(tiles_by_path(tmp_path / "lib")) == 12


def test_builds_from_a_folder_and_from_its_library_are_identical(
    photo_target: Path, photos: Path, tmp_path: Path
) -> None:
    from_folder = mosaicfast.build(photo_target, photos, cols=12, tile_size=16)
    index_library(tmp_path / "lib", [photos])
    from_library = mosaicfast.build(photo_target, library=tmp_path / "lib", cols=12, tile_size=16)
    assert np.array_equal(from_folder.assignment, from_library.assignment)
    assert np.array_equal(np.asarray(from_folder.image), np.asarray(from_library.image))
    assert [t.path for t in from_folder.sources] == [t.path for t in from_library.sources]


def test_a_second_build_from_a_folder_reads_nothing_again(
    photo_target: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mosaicfast.build(photo_target, photos, cols=8)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a photo was decoded again")

    monkeypatch.setattr("mosaicfast.library.reading.load_square", fail)
    mosaic = mosaicfast.build(photo_target, photos, cols=8)
    assert len(mosaic.sources) == 12


def test_large_tiles_render_from_the_source_photos(photos: Path, tmp_path: Path) -> None:
    index_library(tmp_path / "lib", [photos], thumb_size=32)
    target = palette_target(np.zeros((1, 2), int))
    mosaic = mosaicfast.build(target, library=tmp_path / "lib", cols=2, tile_size=48, blend=0.0)
    tile = mosaic.sources[int(mosaic.assignment[0, 0])]
    assert np.array_equal(np.asarray(mosaic.image)[:48, :48], tile.load(48))


def test_info_reports_counts_and_size(photos: Path, tmp_path: Path) -> None:
    (photos / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    index_library(tmp_path / "lib", [photos])
    result = CliRunner().invoke(main, ["library", "info", str(tmp_path / "lib")])
    assert result.exit_code == 0, result.output
    assert "12 image; 1 unreadable" in result.output
    assert "12 in use" in result.output
    assert "kB per tile" in result.output
    assert "bad.jpg" in result.output


def test_verify_finds_and_repairs_damage(photos: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    assert verify_library(lib)[0] == []
    # What a writer killed between writing rows and committing leaves behind:
    with open(lib / THUMBS, "ab") as handle:
        handle.write(b"\x01" * 1000)
    # A flipped descriptor value:
    with open(lib / "desc-g5.i16", "r+b") as handle:
        handle.seek(150 * 3 + 10)
        handle.write(b"\x7f\x7f")
    problems, _ = verify_library(lib)
    messages = " | ".join(p.message for p in problems)
    assert "past the committed slots" in messages
    assert "do not match their thumbnails" in messages
    result = CliRunner().invoke(main, ["library", "verify", str(lib)])
    assert result.exit_code == 1 and "try --repair" in result.output
    result = CliRunner().invoke(main, ["library", "verify", str(lib), "--repair"])
    assert result.exit_code == 0, result.output
    assert "consistent after repair" in result.output
    assert verify_library(lib)[0] == []


def test_verify_repairs_lost_thumbnails_so_index_reads_them_again(
    photos: Path, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    index_library(lib, [photos])
    size = (lib / THUMBS).stat().st_size
    os.truncate(lib / THUMBS, size - 2 * 64 * 64 * 3)  # the last two tiles' rows
    problems, _ = verify_library(lib, repair=True)
    assert any("2 tiles lost their thumbnails" in p.message and p.repaired for p in problems)
    assert len(tiles_by_path(lib)) == 10
    assert index_library(lib, [photos]).added == 2
    assert verify_library(lib)[0] == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_on_a_terminal_only(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    index_library(tmp_path / "a", [photos], progress=True)
    assert "photos" in terminal.getvalue() and "12/12" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    index_library(tmp_path / "b", [photos], progress=True)
    assert sys.stderr.getvalue() == ""


def test_index_command_line(photos: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    result = CliRunner().invoke(main, ["index", str(photos), "--library", str(lib)])
    assert result.exit_code == 0, result.output
    assert "12 indexed" in result.output
    out = tmp_path / "m.png"
    result = CliRunner().invoke(
        main,
        ["build", str(photos / "p00.png"), "--library", str(lib), "-o", str(out), "--cols", "4"],
    )
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = CliRunner().invoke(main, ["build", str(photos / "p00.png"), "-o", str(out)])
    assert result.exit_code == 1 and "either --tiles or --library" in result.output
    result = CliRunner().invoke(main, ["index", "--library", str(tmp_path / "new")])
    assert result.exit_code == 1 and "no sources given" in result.output


def test_reading_no_rows_gives_empty_stacks(photos: Path, tmp_path: Path) -> None:
    # What a library whose tiles were all lost to damage reads (found by
    # tests/library/test_fuzz.py).
    index_library(tmp_path / "lib", [photos], thumb_size=32)
    with Library.open(tmp_path / "lib") as lib:
        none = np.array([], np.int64)
        assert lib.thumbnails(none).shape == (0, 32, 32, 3)
        assert lib.tile_descriptors(5, none).shape == (0, 75)
