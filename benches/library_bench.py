"""Tile-library benchmark: index, incremental re-index, photo index and build at scale.

Usage::

    .venv/bin/python benches/library_bench.py [--tiles 190000] [--photos 120] [--data .bench/data]

Generates deterministic synthetic data once (reused while the counts match): N 128 x 128
JPEG tiles in folders of 1,000, M 12-megapixel JPEG photos and a 600 x 400 target. Then
runs each stage as the real command line (``python -m mosaicfast ...``) in a fresh child
process, under a small wrapper that reports the command's wall time and peak resident
memory (``RUSAGE_CHILDREN`` after ``wait()``: the wrapper runs exactly one command, so
that is the command's own peak) and CPU time. Each stage waits for the machine to be idle
first, and reports the CPU that other processes used while it ran, so that a run on a
shared machine is recognisable. Prints one table with the targets, the libraries' size on
disk per tile and duplicate counts, and the build's stage timings.

The data files were written just before (or by an earlier run) and so are in the page
cache: the figures are for warm reads, not for a cold disk.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mosaicfast.library.maintenance import library_info

TILE_SIDE = 128
TILES_PER_FOLDER = 1000
TILE_QUALITY = 85
PHOTO_SIZE = (4000, 3000)
PHOTO_QUALITY = 90
TARGET_SIZE = (600, 400)
SEED = 20240601
KIND_TILE, KIND_PHOTO, KIND_TARGET = 0, 1, 2
TILE_NOISE = (2.0, 6.0)
PHOTO_NOISE = (6.0, 10.0)

TILES_PER_SECOND = 2000.0
PHOTOS_PER_SECOND = 60.0
INDEX_MAX_MB = 1000.0
BUILD_MAX_MB = 1500.0
OPEN_LIBRARY_MAX_S = 1.0
STARTUP_RUNS = 3
IDLE_SAMPLE_S = 1.0
IDLE_MAX_BUSY = 0.1
IDLE_MAX_WAIT_S = 120.0

WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": done.returncode, "seconds": seconds, "peak_kib": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "stdout": done.stdout, "stderr": done.stderr}))
"""
"""Runs one command, then prints its exit status, wall time, peak RSS, CPU time and output
as JSON."""


# -- synthetic data ----------------------------------------------------------------------


def synthetic_image(
    rng: np.random.Generator, width: int, height: int, noise: tuple[float, float]
) -> Image.Image:
    """A photo-like RGB image: a smooth random colour field, a grating and noise.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random choice, so the image is a function of its seed.
    width, height : int
        Size in pixels.
    noise : tuple of float
        Range of the Gaussian noise's standard deviation (it sets the JPEG file size).

    Returns
    -------
    PIL.Image.Image
        Mode ``RGB``.
    """
    cols = int(rng.integers(2, 7))
    rows = max(2, round(cols * height / width))
    mean = rng.uniform(40, 215, 3)
    contrast = rng.uniform(0.2, 1.0)
    coarse = np.clip(mean + (rng.uniform(0, 255, (rows, cols, 3)) - 127.5) * contrast, 0, 255)
    smooth = Image.fromarray(coarse.astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    pixels = np.asarray(smooth, np.float32)
    angle = rng.uniform(0, math.pi)
    cycles = rng.uniform(2, 20) / width
    x = np.arange(width, dtype=np.float32) * np.float32(math.cos(angle) * cycles * 2 * math.pi)
    y = np.arange(height, dtype=np.float32) * np.float32(math.sin(angle) * cycles * 2 * math.pi)
    grating = np.sin(y[:, None] + x[None, :] + np.float32(rng.uniform(0, 2 * math.pi)))
    pixels += (np.float32(rng.uniform(0, 25)) * grating)[:, :, None]
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(rng.uniform(*noise))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _rng(kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng((SEED, kind, index))


def _write_tile_folder(task: tuple[Path, int, int]) -> None:
    """Write tiles ``start`` to ``stop - 1`` into one folder (runs in a worker process)."""
    folder, start, stop = task
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, stop):
        image = synthetic_image(_rng(KIND_TILE, index), TILE_SIDE, TILE_SIDE, TILE_NOISE)
        image.save(folder / f"t{index:06d}.jpg", quality=TILE_QUALITY)


def _write_photo(task: tuple[Path, int]) -> None:
    """Write one 12-megapixel photo (runs in a worker process)."""
    path, index = task
    synthetic_image(_rng(KIND_PHOTO, index), *PHOTO_SIZE, PHOTO_NOISE).save(
        path, quality=PHOTO_QUALITY
    )


def _tile_tasks(folder: Path, count: int) -> list[tuple[Path, int, int]]:
    """One task per subfolder of ``TILES_PER_FOLDER`` tiles."""
    return [
        (folder / f"f{start // TILES_PER_FOLDER:03d}", start, min(start + TILES_PER_FOLDER, count))
        for start in range(0, count, TILES_PER_FOLDER)
    ]


def _photo_tasks(folder: Path, count: int) -> list[tuple[Path, int]]:
    """One task per photo."""
    return [(folder / f"p{index:04d}.jpg", index) for index in range(count)]


def _generate(
    folder: Path, count: int, write: Callable[[Any], None], tasks: list[Any], processes: int
) -> bool:
    """Run ``write`` over ``tasks`` to fill ``folder`` with ``count`` files, unless its
    marker says it holds them already; return whether anything was generated.

    The marker (``folder.count``, beside the folder) is written last, so an interrupted
    generation starts over next time.
    """
    marker = folder.with_suffix(".count")
    if marker.is_file() and marker.read_text().strip() == str(count):
        return False
    marker.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(write, tasks, chunksize=1)
    marker.write_text(f"{count}\n")
    return True


def generate_data(data: Path, tiles: int, photos: int = 0) -> tuple[Path, Path, Path]:
    """Create (or reuse) the tiles, photos and target under ``data``; print what it cost.

    ``photos=0`` leaves the photos alone: the tiles and the target are all that a build
    needs (``benches/report.py`` uses them so).

    Returns
    -------
    tiles_dir, photos_dir, target : Path
    """
    processes = os.cpu_count() or 1
    tiles_dir, photos_dir, target = data / "tiles", data / "photos", data / "target.jpg"
    jobs = [(tiles_dir, tiles, "tiles", _write_tile_folder, _tile_tasks(tiles_dir, tiles))]
    if photos:
        jobs.append((photos_dir, photos, "photos", _write_photo, _photo_tasks(photos_dir, photos)))
    for folder, count, kind, write, tasks in jobs:
        start = time.perf_counter()
        if _generate(folder, count, write, tasks, processes):
            elapsed = time.perf_counter() - start
            print(f"generated {count:,} {kind} in {elapsed:.1f}s ({processes} processes)")
        else:
            print(f"reusing {count:,} {kind} in {folder}")
    if not target.is_file():
        synthetic_image(_rng(KIND_TARGET, 0), *TARGET_SIZE, TILE_NOISE).save(
            target, quality=PHOTO_QUALITY
        )
    return tiles_dir, photos_dir, target


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())


# -- measuring -----------------------------------------------------------------------------


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (from ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_idle() -> None:
    """Wait (up to ``IDLE_MAX_WAIT_S``) until other processes use under ``IDLE_MAX_BUSY``
    of one core, so that a stage does not share the machine; warn if they never stop."""
    deadline = time.monotonic() + IDLE_MAX_WAIT_S
    while True:
        before = busy_cpu_seconds()
        time.sleep(IDLE_SAMPLE_S)
        busy = (busy_cpu_seconds() - before) / IDLE_SAMPLE_S
        if busy < IDLE_MAX_BUSY:
            return
        if time.monotonic() > deadline:
            print(f"warning: the machine stays busy ({busy:.1f} cores in use); measuring anyway")
            return


@dataclass
class Run:
    """One command's wall time, peak resident memory, CPU time and output.

    ``other_cpu`` is the CPU time the rest of the machine used meanwhile (other processes
    competing for the cores), in seconds.
    """

    seconds: float
    peak_mb: float
    cpu: float
    other_cpu: float
    stdout: str
    stderr: str


def run_cli(*args: str | Path) -> Run:
    """Run ``python -m mosaicfast ARGS`` in a fresh process under the wrapper.

    Raises
    ------
    SystemExit
        If the command fails.
    """
    command = [sys.executable, "-m", "mosaicfast", *map(str, args)]
    wait_for_idle()
    busy = busy_cpu_seconds()
    wrapper = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True
    )
    busy = busy_cpu_seconds() - busy
    result = json.loads(wrapper.stdout)
    if result["returncode"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result['stderr']}")
    return Run(
        seconds=result["seconds"],
        peak_mb=result["peak_kib"] * 1024 / 1e6,
        cpu=result["cpu"],
        other_cpu=max(0.0, busy - result["cpu"]),
        stdout=result["stdout"],
        stderr=result["stderr"],
    )


def stage_timings(stderr: str) -> dict[str, float]:
    """The stage times of a ``build`` run, from its ``time: NAME 1.23s  ...`` line."""
    line = next(text for text in stderr.splitlines() if text.startswith("time: "))
    body = line.removeprefix("time: ").split("  (total")[0]
    timings = {}
    for part in body.split("  "):
        name, seconds = part.rsplit(" ", 1)
        timings[name] = float(seconds.removesuffix("s"))
    return timings


@dataclass
class Stage:
    """A measured stage and the targets it is held to."""

    name: str
    items: int
    unit: str
    run: Run
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.items / self.run.seconds

    def verdict(self) -> str:
        if not self.checks:
            return "-"
        return "PASS" if all(ok for _, ok in self.checks) else "FAIL"


def build_stage(run: Run) -> Stage:
    """The ``build`` stage, its cells read from the ``wrote OUT (..., 96x64 cells, ...)`` line."""
    match = re.search(r"(\d+)x(\d+) cells", run.stderr)
    if match is None:
        raise SystemExit(f"no cell count in the build's output:\n{run.stderr}")
    return Stage("build 600x400 target", int(match[1]) * int(match[2]), "cells", run)


def render_table(stages: list[Stage], startup: float) -> str:
    """The stages as an aligned text table."""
    header = ["stage", "items", "wall s", "items/s", "net items/s", "peak RSS MB", "CPU s"]
    rows = [[*header, "other CPU", "target", ""]]
    for stage in stages:
        work = stage.run.seconds - startup
        net = f"{stage.items / work:,.0f}" if work > startup else "-"
        rows.append(
            [
                stage.name,
                f"{stage.items:,} {stage.unit}",
                f"{stage.run.seconds:.2f}",
                f"{stage.rate:,.0f}",
                net,
                f"{stage.run.peak_mb:,.0f}",
                f"{stage.run.cpu:.1f}",
                f"{stage.run.other_cpu / (stage.run.seconds * (os.cpu_count() or 1)):.0%}",
                "; ".join(label for label, _ in stage.checks) or "-",
                stage.verdict(),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def describe_library(path: Path) -> list[str]:
    """``library info`` lines, the size per tile of each file, and a duplicates warning."""
    info = library_info(path)
    lines = info.lines()
    sizes = {f.name: f.stat().st_size for f in sorted(path.iterdir()) if f.is_file()}
    lines.append(
        "per tile:    "
        + ", ".join(f"{name} {size / info.tiles:,.0f} B" for name, size in sizes.items())
        + f"; total {info.disk_bytes / info.tiles:,.0f} B"
    )
    duplicates = info.exact_duplicates + info.near_duplicates
    if duplicates > 0.01 * info.tiles:
        lines.append(f"WARNING: {duplicates:,} duplicates: the synthetic tiles are too alike")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Generate the data, measure every stage and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=190_000, help="128-px tiles to index")
    parser.add_argument("--photos", type=int, default=120, help="12-megapixel photos to index")
    parser.add_argument("--data", type=Path, default=Path(".bench/data"), help="data folder")
    args = parser.parse_args(argv)

    data: Path = args.data.resolve()
    tiles_dir, photos_dir, target = generate_data(data, args.tiles, args.photos)
    print(
        f"data: {folder_bytes(tiles_dir) / 1e6:,.0f} MB of tiles, "
        f"{folder_bytes(photos_dir) / 1e6:,.0f} MB of photos "
        f"({folder_bytes(photos_dir) / args.photos / 1e6:.1f} MB each), in the page cache"
    )
    work = data / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    lib_tiles, lib_photos, mosaic = work / "lib-tiles", work / "lib-photos", work / "mosaic.png"

    startup = min(run_cli("--version").seconds for _ in range(STARTUP_RUNS))
    stages = [
        Stage(
            "index tiles (new library)",
            args.tiles,
            "tiles",
            run_cli("index", tiles_dir, "--library", lib_tiles, "-q"),
        ),
        Stage(
            "index tiles (no-op re-run)",
            args.tiles,
            "files",
            run_cli("index", tiles_dir, "--library", lib_tiles, "-q"),
        ),
        Stage(
            "index photos (new library)",
            args.photos,
            "photos",
            run_cli("index", photos_dir, "--library", lib_photos, "-q"),
        ),
        build_stage(run_cli("build", target, "--library", lib_tiles, "-o", mosaic)),
        Stage("library verify", args.tiles, "tiles", run_cli("library", "verify", lib_tiles)),
    ]
    index_tiles, _, index_photos, build, _ = stages
    index_tiles.checks = [
        (f">= {TILES_PER_SECOND:,.0f}/s", index_tiles.rate >= TILES_PER_SECOND),
        (f"<= {INDEX_MAX_MB:,.0f} MB", index_tiles.run.peak_mb <= INDEX_MAX_MB),
    ]
    index_photos.checks = [
        (f">= {PHOTOS_PER_SECOND:.0f}/s", index_photos.rate >= PHOTOS_PER_SECOND)
    ]
    timings = stage_timings(build.run.stderr)
    build.checks = [
        (
            f"open library {timings['open library']:.2f}s <= {OPEN_LIBRARY_MAX_S:.0f}s",
            timings["open library"] <= OPEN_LIBRARY_MAX_S,
        ),
        (f"<= {BUILD_MAX_MB:,.0f} MB", build.run.peak_mb <= BUILD_MAX_MB),
    ]

    print(f"\n{os.cpu_count()} cores; CLI start-up (`mosaicfast --version`): {startup:.2f}s")
    print(
        "wall s: the whole command, start-up included; net items/s: start-up subtracted "
        "(shown when the work takes longer than the start-up);\nCPU s: user + system time of "
        "the command; other CPU: share of the machine used by other processes meanwhile"
    )
    print(render_table(stages, startup))
    print("\nbuild: " + "  ".join(f"{name} {secs:.2f}s" for name, secs in timings.items()))
    for path in (lib_tiles, lib_photos):
        print()
        print("\n".join(describe_library(path)))
    print("\nverify: " + stages[-1].run.stdout.strip())
    print("(data files were recently written, so reads came from the page cache)")
    return 0 if all(stage.verdict() != "FAIL" for stage in stages) else 1


if __name__ == "__main__":
    raise SystemExit(main())
