"""Fuzzing the code that reads untrusted bytes: manifests, catalog rows, array files and
the JPEG header check.

Every input either works or raises the package's own error naming the file; a library
whatever its damage verifies, and after ``verify --repair`` verifies clean. Inside
``make test`` each target runs a few dozen examples, the same every run; for a longer,
random run::

    MOSAICFAST_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/library/test_fuzz.py
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from mosaicfast import Library, LibraryError, MosaicfastError, index_library
from mosaicfast.errors import ImageReadError
from mosaicfast.io.images import jpeg_layout, load_square
from mosaicfast.io.manifest import read_assignment
from mosaicfast.library.maintenance import verify_library
from mosaicfast.library.store import CATALOG, THUMBS

_LONG = "MOSAICFAST_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("MOSAICFAST_FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    derandomize=not _LONG,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
if _LONG:  # a long random run takes as long as it takes
    pytestmark = pytest.mark.timeout(0)

#: Any value SQLite can hold.
SQL_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` with a few bytes replaced, a range cut out, or cut short."""

    def edit(edits: list[tuple[int, int, int]]) -> bytes:
        out = bytearray(data)
        for kind, where, value in edits:
            where %= max(len(out), 1)
            if kind == 0 and out:
                out[where] = value
            elif kind == 1:
                del out[where : where + value]
            else:
                del out[where:]
        return bytes(out)

    step = st.tuples(st.integers(0, 2), st.integers(0, 2**20), st.integers(0, 255))
    return st.lists(step, min_size=1, max_size=6).map(edit)


# -- manifests ---------------------------------------------------------------------------


def _valid_manifests(rows: int = 3, cols: int = 4) -> dict[str, bytes]:
    cells = [
        {"row": r, "col": c, "tile": 7 + r * cols + c, "source": f"/p/{r}-{c}.jpg"}
        for r in range(rows)
        for c in range(cols)
    ]
    csv_text = "row,col,tile,source\n" + "".join(
        f"{c['row']},{c['col']},{c['tile']},{c['source']}\n" for c in cells
    )
    json_text = json.dumps({"meta": {"rows": rows, "cols": cols}, "cells": cells})
    return {".csv": csv_text.encode(), ".json": json_text.encode()}


def _read_or_refuse(path: Path) -> None:
    try:
        grid = read_assignment(path)
    except MosaicfastError as err:
        assert str(err).startswith(f"{path}: ")
        return
    assert grid.ndim == 2 and grid.dtype == np.int64 and (grid >= 0).all()


@FUZZ
@given(suffix=st.sampled_from([".csv", ".json"]), data=st.binary(max_size=400))
def test_manifests_of_random_bytes(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"m{suffix}"
    path.write_bytes(data)
    _read_or_refuse(path)


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".csv", ".json"]))
def test_damaged_manifests(tmp_path: Path, data: st.DataObject, suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    path.write_bytes(data.draw(mutated(_valid_manifests()[suffix])))
    _read_or_refuse(path)


@pytest.mark.slow
@FUZZ
@given(
    cells=st.lists(
        st.dictionaries(st.sampled_from(["row", "col", "tile"]), SQL_VALUES | st.booleans()),
        max_size=8,
    ),
    meta=st.dictionaries(st.sampled_from(["rows", "cols"]), SQL_VALUES | st.booleans()),
)
def test_json_manifests_with_values_of_any_type(tmp_path: Path, cells: list, meta: dict) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"meta": meta, "cells": cells}, default=repr))
    _read_or_refuse(path)


def test_the_valid_manifests_are_read() -> None:
    # The fuzzed inputs above start from these: they must be accepted as they are.
    for suffix, data in _valid_manifests().items():
        folder = Path(os.environ.get("TMPDIR", "/tmp"))
        path = folder / f"mosaicfast-fuzz-valid{suffix}"
        path.write_bytes(data)
        try:
            assert read_assignment(path).tolist() == [
                [7, 8, 9, 10],
                [11, 12, 13, 14],
                [15, 16, 17, 18],
            ]
        finally:
            path.unlink()


# -- catalog rows and array files --------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small library (six photos, one of them a duplicate) to damage copies of."""
    root = tmp_path_factory.mktemp("fuzz")
    photos = root / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(5):
        coarse = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((40, 32), Image.Resampling.BICUBIC).save(photos / f"{i}.png")
    shutil.copy(photos / "0.png", photos / "copy.png")
    index_library(root / "lib", [photos], thumb_size=32)
    return root / "lib"


def _copy(pristine: Path, tmp_path: Path) -> Path:
    library = tmp_path / "lib"
    shutil.rmtree(library, ignore_errors=True)
    shutil.copytree(pristine, library)
    return library


def _use_and_repair(library: Path) -> None:
    """Reading the library works or raises LibraryError; repair converges."""
    try:
        with Library.open(library) as lib:
            rows = lib.tiles_in_use()
            lib.thumbnails(rows.slots)
            lib.tile_descriptors(5, rows.slots)
    except LibraryError:
        pass
    try:
        verify_library(library)
        verify_library(library, repair=True)
    except LibraryError as err:  # only when even the settings are lost
        assert "damaged beyond repair" in str(err) or "format version" in str(err), err
        return
    assert verify_library(library)[0] == []


_COLUMNS = {
    "tiles": ["source_id", "slot", "left", "top", "right", "bottom", "frame_time",
              "pixel_hash", "phash", "duplicate_of", "duplicate_kind"],
    "sources": ["path", "kind", "size", "mtime_ns", "content_hash", "status", "error",
                "done_until"],
    "meta": ["value"],
}  # fmt: skip


@pytest.mark.slow
@FUZZ
@given(
    table=st.sampled_from(sorted(_COLUMNS)),
    data=st.data(),
    row=st.integers(1, 6),
    value=SQL_VALUES,
)
def test_catalog_rows_holding_any_value(
    pristine: Path, tmp_path: Path, table: str, data: st.DataObject, row: int, value: object
) -> None:
    library = _copy(pristine, tmp_path)
    column = data.draw(st.sampled_from(_COLUMNS[table]))
    db = sqlite3.connect(library / CATALOG)
    try:
        with db:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (value, row))
    except sqlite3.IntegrityError:  # NOT NULL, UNIQUE, CHECK: no writer could store it
        assume(False)
    finally:
        db.close()
    _use_and_repair(library)


@pytest.mark.slow
@FUZZ
@given(data=st.data(), name=st.sampled_from([CATALOG, THUMBS, "desc-g5.i16"]))
def test_library_files_with_damaged_bytes(
    pristine: Path, tmp_path: Path, data: st.DataObject, name: str
) -> None:
    library = _copy(pristine, tmp_path)
    path = library / name
    path.write_bytes(data.draw(mutated(path.read_bytes())))
    _use_and_repair(library)


# -- the JPEG header check and the image reader around it ---------------------------------


def _small_jpeg(progressive: bool) -> bytes:
    pixels = np.random.default_rng(2).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", progressive=progressive)
    return buffer.getvalue()


@FUZZ
@given(data=st.binary(max_size=300))
def test_jpeg_layout_of_random_bytes(data: bytes) -> None:
    layout = jpeg_layout(b"\xff\xd8" + data)
    if layout is not None:
        frame, start = layout
        assert 0xC0 <= frame <= 0xCF and start <= len(data) + 2 + 0xFFFF


@FUZZ
@given(data=st.data(), progressive=st.booleans())
def test_damaged_jpegs_are_read_or_refused(data: st.DataObject, progressive: bool) -> None:
    damaged = data.draw(mutated(_small_jpeg(progressive)))
    try:
        pixels, _ = load_square("fuzz.jpg", 16, data=damaged)
    except ImageReadError as err:
        assert err.path == Path("fuzz.jpg") and err.reason
        return
    assert pixels.shape == (16, 16, 3)


def test_the_jpeg_header_check_passes_real_files() -> None:
    for progressive in (False, True):
        data = _small_jpeg(progressive)
        layout = jpeg_layout(data)
        assert layout is not None and layout[0] == (0xC2 if progressive else 0xC0)
        assert load_square("ok.jpg", 16, data=data)[0].shape == (16, 16, 3)
