from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mosaicfast._util.arrays import sorted_distinct
from mosaicfast.cli import main

from .conftest import palette_target


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_build_writes_the_mosaic_manifest_and_timings(
    palette_tiles: Path, layout: np.ndarray, tmp_path: Path
) -> None:
    target = tmp_path / "target.png"
    palette_target(layout).save(target)
    out, manifest = tmp_path / "out" / "mosaic.png", tmp_path / "cells.json"
    code, output = run(
        "build",
        target,
        "--tiles",
        palette_tiles,
        "-o",
        out,
        "--cols",
        layout.shape[1],
        "--tile-size",
        16,
        "--manifest",
        manifest,
        "--assign",
        "best",
        "--min-distance",
        0,
        "--blend",
        0,
    )
    assert code == 0, output
    with Image.open(out) as image:
        assert image.size == (layout.shape[1] * 16, layout.shape[0] * 16)
    cells = json.loads(manifest.read_text())["cells"]
    # Tile ids are the library's: the palette tiles were indexed in name order, from 1.
    assert [c["tile"] for c in cells] == (layout.ravel() + 1).tolist()
    assert "time:" in output and "match" in output and "render" in output


def test_enlargement_sets_the_grid(photo_target: Path, photo_tiles: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.jpg"
    code, output = run(
        "build",
        photo_target,
        "--tiles",
        photo_tiles,
        "-o",
        out,
        "--enlargement",
        2,
        "--tile-size",
        20,
        "-q",
    )
    assert code == 0, output
    with Image.open(out) as image:
        assert image.format == "JPEG"
        assert image.size == (240, 160)  # 120x80 target, 2x, 20-px tiles: 12x8 cells
    assert "time:" not in output


def test_bad_files_are_warned_about_and_counted(
    palette_tiles: Path, photo_target: Path, tmp_path: Path
) -> None:
    (palette_tiles / "empty.jpg").write_bytes(b"")
    (palette_tiles / "text.png").write_text("hello")
    code, output = run("build", photo_target, "--tiles", palette_tiles, "-o", tmp_path / "o.png")
    assert code == 0, output
    assert "skipped" in output and "empty.jpg" in output and "text.png" in output
    assert "2 tile file(s) skipped" in output


def test_errors_name_the_cause_without_a_traceback(palette_tiles: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    target = tmp_path / "t.png"
    palette_target(np.zeros((4, 6), int)).save(target)
    cases = [
        (["build", tmp_path / "missing.png", "--tiles", palette_tiles], "missing.png"),
        (["build", target, "--tiles", empty], "no usable tile"),
        (["build", target, "--tiles", tmp_path / "nowhere"], "nowhere"),
        (["build", target, "--tiles", palette_tiles, "--cols", 100000], "cells"),
        (["build", target, "--tiles", palette_tiles, "--tile-size", 4000, "--cols", 90], "pixels"),
        (
            ["build", target, "--tiles", palette_tiles, "--manifest", tmp_path / "m.txt"],
            ".json or .csv",
        ),
    ]
    for args, words in cases:
        code, output = run(*args, "-o", tmp_path / "o.png")
        assert code != 0, args
        assert words in output, (args, output)
        assert "Traceback" not in output
    code, output = run("build", target, "--tiles", palette_tiles, "-o", tmp_path / "o.bmp")
    assert code != 0 and "unsupported output format" in output
    assert not (tmp_path / "o.png").exists()


def test_help_says_how_tiles_are_compared() -> None:
    code, output = run("build", "--help")
    assert code == 0
    assert "CIELAB" in output and "--grid" in output and "--manifest" in output


def test_errors_name_the_flags_of_the_command_line(palette_tiles: Path, tmp_path: Path) -> None:
    target = tmp_path / "t.png"
    palette_target(np.zeros((4, 6), int)).save(target)
    args = ["build", target, "--tiles", palette_tiles, "-o", tmp_path / "o.png"]
    code, output = run(*args, "--cols", 5000, "--max-cells", 100)
    assert code != 0 and "use fewer columns (--cols)" in output
    assert "raise the limit (--max-cells)" in output
    code, output = run(*args, "--print-size", "10x10cm", "--tile-size", 20)
    assert code != 0 and "give --print-size or --tile-size, not both" in output


def test_the_installed_command_exits_cleanly_on_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mosaicfast",
            "build",
            str(tmp_path / "nope.png"),
            "--tiles",
            str(tmp_path),
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "nope.png" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_target_too_large_for_the_grid_is_refused_up_front(
    palette_tiles: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (2000, 1500), (10, 20, 30)).save(big)
    # 8x enlargement with 10-px tiles: 1600 x 1200 = 1.92 million cells.
    code, output = run(
        "build", big, "--tiles", palette_tiles, "-o", tmp_path / "o.png", "--tile-size", 10
    )
    assert code == 1
    assert "1,920,000 cells" in output and "--max-cells" in output
    assert not (tmp_path / "o.png").exists()


def test_matching_options_stats_and_evaluate(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    out, manifest = tmp_path / "m.png", tmp_path / "m.csv"
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 8,
        "--tile-size", 16, "--assign", "optimal", "--metric", "combined", "--flips",
        "--blend", 0.3, "--manifest", manifest, "--stats",
    )  # fmt: skip
    assert code == 0, output
    assert "SSIM" in output and "CIEDE2000" in output
    assert "distinct tiles: 40" in output  # 8 x 5 cells, every tile once
    assert "assignment: optimal over the re-ranked candidates (certified on them)" in output
    assert "combined score (units of 1e-06)" in output and "gap 0" in output
    code, evaluated = run("evaluate", photo_target, out, "--manifest", manifest)
    assert code == 0, evaluated
    assert [line for line in evaluated.splitlines() if "distinct tiles" in line] == [
        line for line in output.splitlines() if "distinct tiles" in line
    ]
    code, output = run("evaluate", photo_target, out, "--manifest", tmp_path / "none.json")
    assert code == 1 and "none.json" in output and "Traceback" not in output
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 20,
        "--assign", "optimal",
    )  # fmt: skip
    assert code == 1 and "too few" in output


def test_optimal_assignment_is_certified_in_stats_and_manifest(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    out, manifest = tmp_path / "m.png", tmp_path / "m.json"
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 12,
        "--tile-size", 8, "--assign", "optimal", "--max-uses", 2, "--manifest", manifest,
        "--metric", "color", "--stats",
    )  # fmt: skip
    assert code == 0, output
    line = next(x for x in output.splitlines() if x.startswith("assignment:"))
    assert line.startswith("assignment: optimal (certified), total squared colour-grid distance")
    assert line.endswith(", gap 0")
    meta = json.loads(manifest.read_text())["meta"]["optimal"]
    assert meta["status"] == "optimal (certified)" and meta["gap"] == 0
    assert f"{meta['total_cost']:,}" in line
    assert meta["solver"]["phases"] >= 1


def test_print_size_sets_the_tile_size_and_records_the_dpi(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "print.tif"
    # 6 x 4 cm at 100 dpi: 237 x 158 px; 12 cells across: ceil(237 / 12) = 20-px tiles,
    # ceil(158 / 20) = 8 rows.
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 12,
        "--print-size", "6x4cm", "--dpi", 100, "--stats",
    )  # fmt: skip
    assert code == 0, output
    assert "12x8 cells of 20 px, 100 dpi" in output and "cropped" not in output
    with Image.open(out) as image:
        assert image.size == (240, 160)
        assert image.info["dpi"] == pytest.approx((100, 100))
    assert "SSIM" in output


def test_a_target_of_another_aspect_is_cropped_for_print(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "square.png"
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 10,
        "--print-size", "2x2in", "--dpi", 50, "--stats",
    )  # fmt: skip
    assert code == 0, output
    # The 120 x 80 target loses 20 columns each side to become square.
    assert "centre-cropped to 80x80 px (box 20,0,100,80)" in output
    with Image.open(out) as image:
        assert image.size == (100, 100)  # ceil(100 / 10) = 10-px tiles, 10 rows
        assert image.info["dpi"] == pytest.approx((50, 50), abs=0.02)  # PNG: pixels per metre


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--print-size", "60x40"], "no unit"),
        (["--print-size", "60x40ft"], "unknown unit 'ft'"),
        (["--print-size", "0x40cm"], "above 0"),
        (["--print-size", "60x40cm", "--tile-size", 30], "not both"),
    ],
)
def test_print_size_errors_are_one_line(
    palette_tiles: Path, tmp_path: Path, args: list, words: str
) -> None:
    target = tmp_path / "t.png"
    palette_target(np.zeros((4, 6), int)).save(target)
    code, output = run("build", target, "--tiles", palette_tiles, "-o", tmp_path / "o.png", *args)
    assert code == 1
    assert output.strip().count("\n") == 0 and output.startswith("Error: ") and words in output


def test_a_mosaic_too_large_for_png_is_refused_before_matching(
    palette_tiles: Path, tmp_path: Path
) -> None:
    target = tmp_path / "t.png"
    palette_target(np.zeros((4, 6), int)).save(target)
    # 6 x 4 cells of 3,000 px: 216 megapixels, fine for TIFF, not for PNG.
    code, output = run(
        "build", target, "--tiles", palette_tiles, "-o", tmp_path / "o.png", "--cols", 6,
        "--tile-size", 3000,
    )  # fmt: skip
    assert code == 1
    assert "too large to compose in memory for PNG" in output and ".tif" in output
    assert "match" not in output and not (tmp_path / "o.png").exists()


#: Modules a build from a folder has no use for at start-up (``benches/NOTES.md``, "The
#: first mosaic"): progress bars (tqdm reads its version through importlib.metadata)
#: when none is shown, TIFF output, worker processes, quality figures and reports,
#: HEIC support when there is no HEIC file, library maintenance, batches.
UNUSED_AT_START_UP = (
    "tqdm",
    "importlib.metadata",
    "tifffile",
    "multiprocessing",
    "mosaicfast.quality",
    "mosaicfast.report",
    "pillow_heif",
    "mosaicfast.library.maintenance",
    "mosaicfast.library.salvage",
    "mosaicfast.batch",
    "PIL.ImageCms",  # for photos with an ICC profile only
    "csv",  # for csv manifests only
    "numpy.ma",  # through np.unique's and np.median's checks (not called)
)


def test_a_first_build_from_a_folder_imports_only_what_it_uses(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    args = ["build", photo_target, "--tiles", photo_tiles, "-o", tmp_path / "m.png", "--force"]
    env = {**os.environ, "MOSAICFAST_CACHE_DIR": str(tmp_path / "cache")}
    for _ in ("cold", "warm"):  # a first build, then one from the folder indexed
        script = (
            "import sys\n"
            "from mosaicfast.cli import main\n"
            "try:\n"
            f"    main({[str(a) for a in args]!r})\n"
            "except SystemExit as done:\n"
            "    assert done.code == 0, done.code\n"
            f"loaded = [m for m in {UNUSED_AT_START_UP!r} if m in sys.modules]\n"
            "assert not loaded, loaded\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "m.png").exists()


def test_the_collector_is_frozen_at_exit_only(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    args = ["build", photo_target, "--tiles", photo_tiles, "-o", tmp_path / "m.png"]
    script = (
        "import atexit, gc\n"
        "from mosaicfast.cli import main\n"
        # Registered before main, so run after the CLI's own exit handler.
        "atexit.register(lambda: print('frozen at exit', gc.get_freeze_count() > 0))\n"
        "try:\n"
        f"    main({[str(a) for a in args]!r})\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print('frozen after main', gc.get_freeze_count() > 0)\n"
    )
    env = {**os.environ, "MOSAICFAST_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["frozen after main False", "frozen at exit True"]
    assert (tmp_path / "m.png").exists()


@pytest.mark.parametrize(("given", "expected"), [(None, "1 1"), ("2", "2 2")])
def test_the_command_line_loads_numpy_with_one_blas_thread_unless_told(
    given: str | None, expected: str
) -> None:
    # OpenBLAS starts (and spins) a thread per core when NumPy loads; the CLI keeps one
    # (counted in /proc: on a one-core machine both cases show one thread).
    script = (
        "import os, mosaicfast.cli, numpy\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    if given is not None and (os.cpu_count() or 1) < 2:
        expected = "2 1"
    assert done.stdout.split() == expected.split()


def test_sorted_distinct_is_np_unique() -> None:
    rng = np.random.default_rng(3)
    for values in (
        rng.integers(0, 40, (9, 7)),
        rng.integers(-5, 5, 100).astype(np.int32),
        np.array([7]),
        np.empty(0, np.int64),
    ):
        found, expected = sorted_distinct(values), np.unique(values)
        assert found.dtype == expected.dtype and np.array_equal(found, expected)


def test_stats_say_what_the_local_improvement_did(
    photo_target: Path, photo_tiles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.png"
    base = ("build", photo_target, "--tiles", photo_tiles, "-o", out, "--cols", 20,
            "--tile-size", 8, "--max-uses", 3, "--stats")  # fmt: skip
    code, output = run(*base)
    assert code == 0, output
    line = next(x for x in output.splitlines() if x.startswith("local improvement:"))
    before, after = (
        float(x.replace(",", "")) for x in re.findall(r"score ([\d.,]+) -> ([\d.,]+)", line)[0]
    )
    assert after < before and "in 2 passes" in line
    code, output = run(*base, "--improve", 0)
    assert code == 0 and "local improvement" not in output, output
