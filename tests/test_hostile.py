"""Hostile input and faults: every command run as a real process on files a careless or
hostile user makes (device symlinks, named pipes, sockets, names with newlines or bytes
that are not UTF-8, decompression bombs, truncated and lying images, damaged
libraries, full and read-only disks, signals), each with a time limit.

What every run must show: no traceback, one line per problem, the exit status the
command line documents (0 done, 1 the job could not be done, 2 a usage error, 130
interrupted), nothing of the user's overwritten, and a library that verifies
afterwards.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaicfast import Library, MosaicfastError, TileSource, build
from mosaicfast._util.lifetime import PAUSE_VARIABLE
from mosaicfast.kernels.candidates import SHORTLIST_FACTOR
from mosaicfast.library.cache import folder_library
from mosaicfast.library.store import CATALOG, THUMBS

#: Seconds any one command may take here; a hang fails the test instead of the suite.
LIMIT = 60

pytestmark = pytest.mark.slow


@dataclass
class Run:
    status: int
    out: list[str]
    err: list[str]

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.err if line.startswith("warning: skipped ")]


def mosaicfast(*args: str | bytes | Path, timeout: float = LIMIT) -> Run:
    """Run the command line in a new process; check what every run must show."""
    result = subprocess.run(
        [sys.executable, "-m", "mosaicfast", *(os.fsencode(a) for a in args)],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    # Whatever the file names, the output is UTF-8 text, one line per message.
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert "Traceback" not in out + err, out + err
    assert all(line.isprintable() for line in (out + err).splitlines()), out + err
    return Run(result.returncode, out.splitlines(), err.splitlines())


def textured(path: Path, seed: int, size: tuple[int, int] = (48, 40)) -> Path:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


def snapshot(folder: Path) -> dict[Path, bytes]:
    """The bytes of every regular file under ``folder`` (special files left alone)."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def lying_jpeg(path: Path, claimed: tuple[int, int] = (9000, 9000)) -> Path:
    """A valid 64-px JPEG whose frame header claims ``claimed`` pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buffer, "JPEG"
    )
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", claimed[1], claimed[0])
    path.write_bytes(bytes(data))
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG header (and no pixels) claiming ``width`` x ``height``: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(data[12:29]))  # and its checksum
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i in range(16):
        textured(folder / f"p{i:02d}.png", seed=i)
    return folder


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return textured(tmp_path / "target.png", seed=100, size=(96, 64))


@contextmanager
def small_filesystem(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (skips the test where mounting is impossible)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# -- the suite's headline: a folder of everything hostile at once ------------------------


def test_a_folder_of_hostile_files_gives_one_line_each_and_loses_nothing(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    hostile = {
        "dev-zero.jpg": "character device",
        "pipe.jpg": "named pipe",
        "socket.png": "socket",
        "dangling.png": "broken symbolic link",
        "new\nline.png": "not an image",
        "empty.jpg": "file is empty",
        "bomb.png": "decompression bomb",
        "liar.jpg": "9000x9000",
        "truncated.png": "truncated",
    }
    os.symlink("/dev/zero", tiles / "dev-zero.jpg")
    os.mkfifo(tiles / "pipe.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tiles / "socket.png"))
    os.symlink(tmp_path / "nowhere.png", tiles / "dangling.png")
    (tiles / "new\nline.png").write_text("text\nover two lines")
    (tiles / "empty.jpg").write_bytes(b"")
    png_claiming(tiles / "bomb.png", 30_000, 30_000)
    lying_jpeg(tiles / "liar.jpg")
    whole = (tiles / "p00.png").read_bytes()
    (tiles / "truncated.png").write_bytes(whole[: len(whole) // 2])
    textured(tiles / os.fsdecode(b"\xe9t\xe9-latin1.png"), seed=50)
    before = snapshot(tmp_path)
    library = tmp_path / "lib"
    try:
        run = mosaicfast("index", tiles, "--library", library, "-q")
        assert run.status == 0, run.err
        assert len(run.warnings) == len(hostile) == len(run.err), run.err
        for name, reason in hostile.items():
            shown = name.replace("\n", "\\n")
            assert any(shown in w and reason in w for w in run.warnings), (name, run.warnings)
        assert mosaicfast("library", "verify", library).status == 0
        out = tmp_path / "mosaic.png"
        made = mosaicfast(
            "build", target, "--library", library, "-o", out, "--manifest", tmp_path / "m.csv"
        )
        assert made.status == 0, made.err
        judged = mosaicfast("evaluate", target, out, "--manifest", tmp_path / "m.csv")
        assert judged.status == 0 and judged.err == [], judged.err
        again = mosaicfast("build", target, "--tiles", tiles, "-o", out, "-q")
        assert again.status == 0 and len(again.warnings) == len(hostile), again.err
    finally:
        server.close()
    assert {p: b for p, b in snapshot(tmp_path).items() if p in before} == before
    with Library.open(library) as lib:
        assert len(lib.tiles_in_use()) == 17


# -- 1, 2: devices and named pipes named as sources ---------------------------------------


def test_devices_and_named_pipes_named_as_sources_are_skipped_not_read(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    zero, pipe = tmp_path / "z.jpg", tmp_path / "p.jpg"
    os.symlink("/dev/zero", zero)
    os.mkfifo(pipe)
    good = tiles / "p00.png"
    run = mosaicfast("index", zero, pipe, good, "--library", tmp_path / "lib", "-q")
    assert run.status == 0
    assert run.err == [
        f"warning: skipped {zero}: not a regular file (a character device)",
        f"warning: skipped {pipe}: not a regular file (a named pipe)",
    ]
    made = mosaicfast(
        "build", target, "--tiles", zero, "--tiles", pipe, "--tiles", good,
        "-o", tmp_path / "m.png", "--min-distance", "0", "-q",
    )  # fmt: skip
    assert made.status == 0 and len(made.warnings) == 2, made.err


# -- 3, 18: file names with bytes that are not UTF-8, and with newlines --------------------


def test_names_that_are_not_utf8_are_kept_byte_for_byte(target: Path, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/x\xe9\xff.png"
    textured(Path(os.fsdecode(odd)), seed=77)
    textured(folder / "plain.png", seed=78)
    (folder / os.fsdecode(b"bad\xff.jpg")).write_bytes(b"not a jpeg")
    library = tmp_path / "lib"
    run = mosaicfast("index", folder, "--library", library, "-q")
    assert run.status == 0
    assert run.warnings == [
        f"warning: skipped {folder}/bad\\xff.jpg: not an image file Pillow can read"
    ]
    with Library.open(library) as lib:
        assert odd in [os.fsencode(p) for p in lib.tiles_in_use().paths]
    again = mosaicfast("index", folder, "--library", library)
    assert again.status == 0 and "0 indexed, 3 unchanged" in again.err[-1]
    assert mosaicfast("library", "verify", library).status == 0
    info = mosaicfast("library", "info", library)
    assert info.status == 0 and any("bad\\xff.jpg" in line for line in info.out)
    for manifest in (tmp_path / "m.csv", tmp_path / "m.json"):
        made = mosaicfast(
            "build", target, "--tiles", folder, "-o", tmp_path / "o.png", "--cols", "2",
            "--assign", "optimal", "--manifest", manifest, "-q",
        )  # fmt: skip
        assert made.status == 0 and len(made.warnings) == 1, made.err
    # Two cells, each tile once: the odd name is in both manifests, byte for byte.
    assert odd in (tmp_path / "m.csv").read_bytes()
    cells = json.loads((tmp_path / "m.json").read_text())["cells"]
    assert odd in [os.fsencode(c["source"]) for c in cells]


def test_library_folders_with_uri_characters_and_odd_bytes_work(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    library = tmp_path / os.fsdecode(b"lib?#%\xff")
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    assert mosaicfast("library", "verify", library).status == 0
    made = mosaicfast("build", target, "--library", library, "-o", tmp_path / "o.png", "-q")
    assert made.status == 0, made.err


# -- 4: the output never overwrites an input unasked --------------------------------------


def test_the_output_never_overwrites_the_target_or_a_tile_without_force(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    cases = [
        ("--tiles", tiles, target, "the target"),
        ("--tiles", tiles, tiles / "p03.png", "a tile photo"),
        ("--library", library, tiles / "p04.png", "a tile photo"),
        ("--library", library, target, "the target"),
    ]
    for option, source, output, what in cases:
        run = mosaicfast("build", target, option, source, "-o", output)
        assert run.status == 1 and len(run.err) == 1, run.err
        assert run.err[0].startswith("Error: ") and what in run.err[0] and "--force" in run.err[0]
    assert {p: b for p, b in snapshot(tmp_path).items() if p in before} == before
    forced = mosaicfast("build", target, "--tiles", tiles, "-o", tiles / "p05.png", "--force")
    assert forced.status == 0 and (tiles / "p05.png").read_bytes() != before[tiles / "p05.png"]


# -- 5, 6, 7, 8: damaged libraries ---------------------------------------------------------


def damage_page(catalog: Path, table: str) -> None:
    """Flip bytes in the cell area of ``table``'s first page (a leaf of a small table)."""
    db = sqlite3.connect(catalog)
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with open(catalog, "r+b") as handle:
        handle.seek(root * page_size - 700)
        data = handle.read(40)
        handle.seek(root * page_size - 700)
        handle.write(bytes(b ^ 0x5A for b in data))


def test_a_damaged_catalog_stops_every_command_in_one_line_and_repair_rebuilds_it(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    damage_page(library / CATALOG, "tiles")
    out = tmp_path / "o.png"
    for args in (
        ["build", target, "--library", library, "-o", out],
        ["index", tiles, "--library", library],  # not "unchanged"
        ["library", "verify", library],
    ):
        run = mosaicfast(*args)
        assert run.status == 1, (args, run.out, run.err)
        assert run.err[-1].startswith("Error: ") and len(run.err) == 1, run.err
    assert "verify --repair" in mosaicfast("build", target, "--library", library, "-o", out).err[0]
    assert not out.exists()
    repaired = mosaicfast("library", "verify", library, "--repair")
    assert repaired.status == 0 and "rebuilt" in repaired.out[0], repaired.out
    assert mosaicfast("library", "verify", library).status == 0
    reindexed = mosaicfast("index", tiles, "--library", library)
    assert reindexed.status == 0, reindexed.err
    assert mosaicfast("library", "verify", library).status == 0
    with Library.open(library) as lib:
        assert len(lib.tiles_in_use()) == 16
    assert mosaicfast("build", target, "--library", library, "-o", out).status == 0


def test_a_lost_catalog_header_is_rebuilt_and_says_what_to_do(tiles: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    with open(library / CATALOG, "r+b") as handle:
        handle.write(b"garbage garbage garbage")
    repaired = mosaicfast("library", "verify", library, "--repair")
    assert repaired.status == 0 and "run `mosaicfast index SOURCE..." in repaired.out[0]
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    assert mosaicfast("library", "verify", library).status == 0


@pytest.mark.parametrize("slot", [-5, 10**15, "'text'"])
def test_impossible_slots_are_one_line_errors_and_repaired(
    tiles: Path, target: Path, tmp_path: Path, slot: object
) -> None:
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    db = sqlite3.connect(library / CATALOG)
    with db:
        db.execute(f"UPDATE tiles SET slot = {slot} WHERE id = 3")
    db.close()
    run = mosaicfast("build", target, "--library", library, "-o", tmp_path / "o.png")
    assert run.status == 1 and len(run.err) == 1 and "verify --repair" in run.err[0], run.err
    assert mosaicfast("library", "verify", library).status == 1
    assert mosaicfast("library", "verify", library, "--repair").status == 0
    assert mosaicfast("library", "verify", library).status == 0
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    assert mosaicfast("build", target, "--library", library, "-o", tmp_path / "o.png").status == 0


@pytest.mark.parametrize("damage", ["delete thumbs", "delete descriptors", "cut thumbs"])
def test_missing_or_cut_arrays_are_one_line_errors_and_repair_converges(
    tiles: Path, target: Path, tmp_path: Path, damage: str
) -> None:
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    if damage == "delete thumbs":
        (library / THUMBS).unlink()
    elif damage == "delete descriptors":
        (library / "desc-g5.i16").unlink()
    else:
        os.truncate(library / THUMBS, 5 * 64 * 64 * 3 + 100)
    run = mosaicfast("build", target, "--library", library, "-o", tmp_path / "o.png")
    assert run.status == 1 and len(run.err) == 1, run.err
    assert "verify --repair" in run.err[0]
    assert mosaicfast("library", "verify", library).status == 1
    repaired = mosaicfast("library", "verify", library, "--repair")
    assert repaired.status == 0 and repaired.out[-1].endswith("consistent after repair")
    # Repair converges: the library verifies from now on, and index reads what was lost.
    assert mosaicfast("library", "verify", library).status == 0
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    assert mosaicfast("library", "verify", library).status == 0
    with Library.open(library) as lib:
        assert len(lib.tiles_in_use()) == 16
    assert mosaicfast("build", target, "--library", library, "-o", tmp_path / "o.png").status == 0


def thumbnails_match_sources(library: Path) -> bool:
    with Library.open(library) as lib:
        rows = lib.tiles_in_use()
        thumbs = lib.thumbnails(rows.slots)
        return all(
            np.array_equal(thumb, TileSource(Path(path), tuple(box)).load(lib.thumb_size))
            for thumb, path, box in zip(thumbs, rows.paths, rows.boxes.tolist(), strict=True)
        )


def test_swapped_and_damaged_thumbnails_fail_verify_and_are_read_again(
    tiles: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
    db = sqlite3.connect(library / CATALOG)
    with db:  # tiles 1 and 2 point at each other's rows: names and pixels disagree
        db.execute("UPDATE tiles SET slot = -1 WHERE id = 1")
        db.execute("UPDATE tiles SET slot = 0 WHERE id = 2")
        db.execute("UPDATE tiles SET slot = 1 WHERE id = 1")
    db.close()
    row = 64 * 64 * 3
    with open(library / THUMBS, "r+b") as handle:  # and damaged pixels in slot 5
        handle.seek(5 * row)
        handle.write(bytes(255 - b for b in handle.read(600)))
    assert not thumbnails_match_sources(library)
    run = mosaicfast("library", "verify", library)
    assert run.status == 1 and any("3 thumbnails do not match" in line for line in run.out)
    repaired = mosaicfast("library", "verify", library, "--repair")
    assert repaired.status == 0 and "3 read again from their photos" in repaired.out[0]
    assert mosaicfast("library", "verify", library).status == 0
    assert thumbnails_match_sources(library)


# -- 9, 10: writing the mosaic and its manifest --------------------------------------------


def test_a_read_only_folder_for_the_manifest_is_refused_before_any_work(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "ro", "1m", read_only=True) as folder:
        out = tmp_path / "o.png"
        run = mosaicfast(
            "build", target, "--tiles", tiles, "-o", out, "--manifest", folder / "m.json"
        )
        assert run.status == 1 and run.err == [
            f"Error: {folder}/m.json: cannot write in {folder} (read-only file system)"
        ]
        assert not out.exists()
        run = mosaicfast("build", target, "--tiles", tiles, "-o", folder / "o.png")
        assert run.status == 1 and len(run.err) == 1 and "read-only" in run.err[0]


def test_a_full_disk_leaves_neither_image_nor_manifest_nor_temporary_files(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "full", "96k") as folder:
        (folder / "keep.txt").write_text("the user's")
        for manifest, output in (
            (folder / "m.csv", folder / "o.png"),
            (folder / "m.json", tmp_path / "o.png"),
        ):
            run = mosaicfast(
                "build", target, "--tiles", tiles, "-o", output, "--manifest", manifest,
                "--cols", "60", "--tile-size", "40",
            )  # fmt: skip
            assert run.status == 1 and len(run.err) == 1, run.err
            assert "no space left on device" in run.err[0].lower()
            assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
            assert not (tmp_path / "o.png").exists()


def test_a_full_disk_while_indexing_keeps_the_library_consistent(
    tiles: Path, tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "full", "160k") as folder:
        library = folder / "lib"
        run = mosaicfast("index", tiles, "--library", library, "-q")
        assert run.status == 1 and len(run.err) == 1, run.err
        assert "no space left on device" in run.err[0] and "committed before are kept" in run.err[0]
        assert mosaicfast("library", "verify", library).status == 0
        subprocess.run(["mount", "-o", "remount,size=4m", str(folder)], check=True)
        assert mosaicfast("index", tiles, "--library", library, "-q").status == 0
        assert mosaicfast("library", "verify", library).status == 0


def held_build(marker: Path, *args: str | Path) -> subprocess.Popen[bytes]:
    """``mosaicfast build ARGS`` in a new process, held at the pause point that ``marker``
    names (see :func:`mosaicfast._util.lifetime.pause_point`) when this returns."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mosaicfast", "build", *map(str, args), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, PAUSE_VARIABLE: str(marker)},
    )
    deadline = time.monotonic() + LIMIT
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return process


def sigterm_and_go_on(process: subprocess.Popen[bytes], marker: Path) -> bytes:
    """Send SIGTERM to a held process, let it go on, and return its standard error once
    it has exited with the status of an interrupted command."""
    process.send_signal(signal.SIGTERM)
    marker.unlink()
    _, err = process.communicate(timeout=LIMIT)
    assert process.returncode == 130, err
    return err


@pytest.mark.parametrize(
    "pause",
    ["png-chunk-written-1", "output-written-1"],
    ids=["mid-write", "before-the-rename"],
)
def test_sigterm_while_writing_leaves_no_partial_file(
    tiles: Path, target: Path, tmp_path: Path, pause: str
) -> None:
    out = tmp_path / "out" / "mosaic.png"
    out.parent.mkdir()
    marker = tmp_path / pause
    process = held_build(
        marker, target, "--tiles", tiles, "-o", out, "--cols", 30, "--tile-size", 40
    )
    # A 1200 x 800 PNG is two compressed chunks: its temporary file is there, unfinished
    # or finished, and nothing is at the destination yet.
    assert [p.suffix for p in out.parent.iterdir()] == [".png"] and not out.exists()
    err = sigterm_and_go_on(process, marker)
    assert b"Traceback" not in err and err.decode().count("\n") == 1
    assert list(out.parent.iterdir()) == []


def test_sigterm_between_the_image_and_its_manifest_leaves_both_or_neither(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    marker = tmp_path / "output-written-2"  # the manifest, once the image is in place
    process = held_build(
        marker, target, "--tiles", tiles, "-o", out / "m.png", "--manifest", out / "m.json"
    )
    sigterm_and_go_on(process, marker)
    assert sorted(p.name for p in out.iterdir()) in ([], ["m.json", "m.png"])


# -- 11: no process outlives its parent ----------------------------------------------------


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[1] == str(pid) and fields[0] != "Z":
                found.append(int(entry))
    return found


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_worker_processes_exit_when_index_is_killed_during_their_start_up(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1600):
        Image.fromarray(rng.integers(0, 256, (6, 8, 3), np.uint8)).save(folder / f"{i:04d}.png")
    # Worker processes whatever the number of files (a big job's reading path).
    script = (
        "from mosaicfast.library import indexer\n"
        "indexer._PROCESS_MIN_FILES = 1\n"
        "from mosaicfast.cli import main\n"
        "main()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "index", str(folder), "--library",
         str(tmp_path / "lib"), "-q", "--threads", "3"],  # a thread and two processes
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + LIMIT
    kids: list[int] = []
    while len(kids) < 2 and time.monotonic() < deadline:  # two workers
        kids = children(process.pid)
        time.sleep(0.001)
    assert len(kids) >= 2, "no worker processes were started"
    process.kill()  # before the workers have even imported mosaicfast
    process.wait()
    deadline = time.monotonic() + 20
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [k for k in kids if alive(k)]
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert left == [], "processes outlived the index that started them"


# -- 12, 16: options out of range and other usage errors ------------------------------------


def test_usage_errors_are_one_line_with_exit_status_2(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = tmp_path / "o.png"
    cases = [
        (["build", target, "--tiles", tiles, "-o", out, "--threads", "10000"], "1<=x<=256"),
        (["build", target, "--tiles", tiles, "-o", out, "--blend", "5"], "--blend"),
        (["build", tmp_path, "--tiles", tiles, "-o", out], "is a directory"),
        (["build", target, "--tiles", tiles, "-o", tmp_path], "is a directory"),
        (["build", target, "--library", a_file, "-o", out], "is a file"),
        (["index", tiles, "--library", tmp_path / "l", "--threads", "0"], "--threads"),
        (["build", target, "--tiles", tiles], "Missing option"),
        (["build", target, "--no-such-option"], "No such option"),
    ]
    for args, words in cases:
        run = mosaicfast(*args)
        assert run.status == 2, (args, run.err)
        assert len(run.err) == 1 and run.err[0].startswith("Error: ") and words in run.err[0], (
            args,
            run.err,
        )
    assert not out.exists()
    bare = mosaicfast()  # a command group without a command shows its help
    assert bare.status == 2 and bare.err[0].startswith("Usage: ") and "Commands:" in bare.err
    with pytest.raises(MosaicfastError, match="threads must be from 1 to 256"):
        build(target, tiles, threads=10_000)


# -- 15: evaluate refuses partial manifests -------------------------------------------------


def test_evaluate_refuses_partial_manifests(tiles: Path, target: Path, tmp_path: Path) -> None:
    out, csv_file, json_file = tmp_path / "o.png", tmp_path / "m.csv", tmp_path / "m.json"
    for manifest in (csv_file, json_file):
        made = mosaicfast(
            "build", target, "--tiles", tiles, "-o", out, "--cols", "12", "--manifest", manifest
        )
        assert made.status == 0, made.err
        assert mosaicfast("evaluate", target, out, "--manifest", manifest).status == 0
    lines = csv_file.read_text().splitlines(keepends=True)
    text = json.loads(json_file.read_text())
    partial = {
        "rows.csv": "".join(lines[: 1 + 12 * 3]),  # the first three rows of cells
        "cut.csv": "".join(lines)[: len("".join(lines)) // 2],  # cut mid-line
        "five.json": json.dumps({"meta": text["meta"], "cells": text["cells"][:5]}),
        "bare.json": json.dumps({"cells": text["cells"][:5]}),
        "twice.json": json.dumps({"cells": text["cells"][:-1] + text["cells"][:1]}),
        "junk.json": "[[[[[[" * 10_000,
    }
    for name, content in partial.items():
        (tmp_path / name).write_text(content)
        run = mosaicfast("evaluate", target, out, "--manifest", tmp_path / name)
        assert run.status == 1 and len(run.err) == 1 and run.out == [], (name, run.err)
        assert run.err[0].startswith(f"Error: {tmp_path / name}: "), run.err


# -- 17: what --help and the docs say is what runs -----------------------------------------


def test_help_and_docs_state_the_pixel_limit_in_force() -> None:
    limit = f"{Image.MAX_IMAGE_PIXELS:,}"
    assert limit == "89,478,485"
    run = mosaicfast("index", "--help")
    text = " ".join(" ".join(run.out).split())
    assert limit in text
    for option in ("--fps", "--crops", "--flat-variance", "--static-difference"):
        assert option in text
    root = Path(__file__).parents[1]
    pages = {path: path.read_text() for path in [root / "README.md", *root.glob("docs/*.md")]}
    assert limit in pages[root / "docs" / "cli.md"] and limit in pages[root / "docs" / "library.md"]
    assert not [path for path, page in pages.items() if "179 M" in page]
    # The pruned search's default shortlist, as the code has it.
    shortlist = f"default {SHORTLIST_FACTOR} x the square root of the library size"
    assert shortlist in " ".join(" ".join(mosaicfast("build", "--help").out).split())
    assert shortlist in pages[root / "docs" / "cli.md"]


# -- 19: JPEGs whose header claims more than their data holds ----------------------------------


def test_a_tiny_jpeg_claiming_9000_pixels_a_side_is_a_truncated_image(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    liar = lying_jpeg(tmp_path / "liar.jpg")
    run = mosaicfast("build", liar, "--tiles", tiles, "-o", tmp_path / "o.png")
    assert run.status == 1 and len(run.err) == 1, run.err
    assert "truncated or corrupt image data" in run.err[0] and "9000x9000" in run.err[0]
    shutil.copy(liar, tiles / "liar.jpg")
    run = mosaicfast("index", tiles, "--library", tmp_path / "lib", "-q")
    assert run.status == 0 and len(run.warnings) == 1, run.err
    assert f"{tiles}/liar.jpg: truncated or corrupt image data" in run.warnings[0]
    # A real JPEG that compresses extremely well is not mistaken for one.
    Image.new("RGB", (2400, 2400), (120, 130, 140)).save(tmp_path / "flat.jpg", quality=5)
    made = mosaicfast("build", tmp_path / "flat.jpg", "--tiles", tiles, "-o", tmp_path / "o.png",
                      "--cols", "8", "-q")  # fmt: skip
    assert made.status == 0, made.err


# -- 20: builds from the same folders at the same time ---------------------------------------


def test_a_build_waits_for_the_cache_library_another_process_is_writing(
    tiles: Path, target: Path, tmp_path: Path
) -> None:
    assert mosaicfast("build", target, "--tiles", tiles, "-o", tmp_path / "a.png", "-q").status == 0
    with Library.open(folder_library([tiles]), write=True):  # another writer holds the lock
        process = subprocess.Popen(
            [sys.executable, "-m", "mosaicfast", "build", str(target), "--tiles", str(tiles),
             "-o", str(tmp_path / "b.png"), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.5)
        assert process.poll() is None, process.communicate()
    _, err = process.communicate(timeout=LIMIT)
    assert process.returncode == 0, err
    assert err.decode().splitlines() == [
        f"{folder_library([tiles])}: process {os.getpid()} is updating this library; waiting for it"
    ]
    # Two builds started together on new folders both succeed.
    fresh = tmp_path / "fresh"
    shutil.copytree(tiles, fresh)
    both = [
        subprocess.Popen(
            [sys.executable, "-m", "mosaicfast", "build", str(target), "--tiles", str(fresh),
             "-o", str(tmp_path / f"{i}.png"), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]  # fmt: skip
    for process in both:
        _, err = process.communicate(timeout=LIMIT)
        assert process.returncode == 0, err


# -- 13: matching memory per cell ------------------------------------------------------------

# The peak of the build process's own memory, VmHWM: its ru_maxrss would also count the
# test process's resident memory, which Linux carries into a child started by vfork and exec
# (hundreds of MB late in a full test run).
_PEAK_RSS = """
import sys
import mosaicfast
mosaicfast.build(sys.argv[1], sys.argv[2], cols=500, tile_size=1, threads=2)
status = open("/proc/self/status").read().split("\\n")
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
"""


def test_a_quarter_million_cells_stay_within_a_few_hundred_megabytes(
    tiles: Path, tmp_path: Path
) -> None:
    target = textured(tmp_path / "big.png", seed=5, size=(500, 500))
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(target), str(tiles)],
        capture_output=True, text=True, timeout=LIMIT * 2, check=True,
    )  # fmt: skip
    peak_mb = int(result.stdout.split()[-1])
    # 250,000 cells: the whole target resampled for matching alone took over 1 GB.
    assert peak_mb < 600, peak_mb


def test_cell_descriptors_in_bands_equal_those_of_the_whole_resized_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mosaicfast import api
    from mosaicfast.kernels import descriptors
    from mosaicfast.plan import GridPlan

    pixels = np.random.default_rng(4).integers(0, 256, (67, 91, 3), dtype=np.uint8)
    target = Image.fromarray(pixels)
    plan = GridPlan(rows=13, cols=17, tile_size=10)
    side = 5 * api.SAMPLES_PER_BLOCK
    whole = target.resize((plan.cols * side, plan.rows * side), Image.Resampling.BOX)
    want = descriptors.cell_descriptors(np.asarray(whole), plan.rows, plan.cols, 5)
    monkeypatch.setattr(api, "_SAMPLE_BAND_PIXELS", 3 * plan.cols * side * side)  # 3 rows
    assert np.array_equal(api._cell_descriptors(target, plan, 5, "lab", threads=2), want)
    side = 8 * api.SAMPLES_PER_BLOCK
    whole = target.resize((plan.cols * side, plan.rows * side), Image.Resampling.BOX)
    want = descriptors.cell_descriptors(np.asarray(whole), plan.rows, plan.cols, 8, space="ylab")
    assert np.array_equal(api._cell_descriptors(target, plan, 8, "ylab", threads=2), want)


def test_a_matching_beyond_half_the_memory_is_refused_up_front_with_the_figure(
    tiles: Path, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mosaicfast.matching._physical_memory", lambda: 60_000_000)
    # 400 x 267 cells, 16 candidates (all 16 tiles) of 25 bytes: 43 MB.
    with pytest.raises(MosaicfastError, match="needs about 43 MB, more than half of this"):
        build(target, tiles, cols=400, candidates=16, metric="color")
    # The default metric also keeps each cell's 8 x 8 luminance patch (256 bytes): 70 MB.
    with pytest.raises(MosaicfastError, match="needs about 70 MB, more than half of this"):
        build(target, tiles, cols=400, candidates=16)
    build(target, tiles, cols=40, candidates=16)


def test_quarter_turns_beyond_half_the_memory_are_refused_naming_rotate(
    tiles: Path, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mosaicfast.matching import check_matching_memory
    from mosaicfast.options import MatchOptions

    # 10 million tiles, each searched in 8 orientations of 96 values (and packed again):
    # 30.7 GB of descriptors, beside 0.4 MB of candidate lists for 100 cells.
    monkeypatch.setattr("mosaicfast.matching._physical_memory", lambda: 24_000_000_000)
    with pytest.raises(MosaicfastError, match="turn quarter turns off") as caught:
        check_matching_memory(100, 10_000_000, MatchOptions(rotate=True, max_uses=1))
    assert caught.value.parameters == ("rotate",)
    assert "80,000,000 tile orientations needs about 30.7 GB" in str(caught.value)
    check_matching_memory(100, 10_000_000, MatchOptions(max_uses=1))  # 7.7 GB: accepted
    # A build checks it before matching: 12 cells x 128 entries (41 kB) and 16 tiles in 8
    # orientations (49 kB) in 150 kB; upright, 13 kB and 12 kB.
    monkeypatch.setattr("mosaicfast.matching._physical_memory", lambda: 150_000)
    with pytest.raises(MosaicfastError, match="quarter turns off"):
        build(target, tiles, cols=4, rotate=True)
    build(target, tiles, cols=4)


def test_a_pruned_matching_beyond_half_the_memory_is_refused_naming_prune(
    tiles: Path, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mosaicfast.matching import check_matching_memory
    from mosaicfast.options import MatchOptions

    # 50,000 tiles with their mirror images, 96 values each: 38 MB searched; the KD-tree
    # adds 3 bytes a value (29 MB) and the 87 leaves each of a chunk's 24,000 cells probes
    # 26 bytes each (54 MB), beside 19 MB of candidate lists (32 a cell, 25 bytes each).
    monkeypatch.setattr("mosaicfast.matching._physical_memory", lambda: 200_000_000)
    pruned = MatchOptions(prune="pca", metric="color", max_uses=1)
    with pytest.raises(MosaicfastError, match=r"search exhaustively \(prune none\)") as caught:
        check_matching_memory(24_000, 50_000, pruned)
    assert caught.value.parameters == ("prune",)
    assert "100,000 tile orientations needs about 141 MB" in str(caught.value)
    with pytest.raises(MosaicfastError, match="prune none"):
        check_matching_memory(24_000, 50_000, replace(pruned, prune="mean"))
    check_matching_memory(24_000, 50_000, replace(pruned, prune="none"))  # 58 MB: accepted
    # The optimal assignment searches exhaustively whatever prune says: no tree.
    check_matching_memory(24_000, 50_000, replace(pruned, assign="optimal"))
    # A build checks it before matching: 12 cells x 32 entries (13 kB) and 16 tiles in 2
    # orientations (12 kB) in 60 kB; with the tree's 9 kB more, refused.
    monkeypatch.setattr("mosaicfast.matching._physical_memory", lambda: 60_000)
    with pytest.raises(MosaicfastError, match="more than half of this machine's"):
        build(target, tiles, cols=4, prune="pca")
    build(target, tiles, cols=4)
