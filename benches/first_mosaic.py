"""The first mosaic a new user makes (issue 16, item 4): `mosaicfast build TARGET --tiles DIR
-o out.png` on a folder of 2,000 photo crops (128-px JPEGs; `--files` for another count)
not yet indexed ("cold": an empty library cache) and indexed ("warm"), the classic job (600
x 400 target, 96 x 64 cells of 50 px), each as the real CLI in a fresh process; prints the
medians of the wall time, of the CPU time (the process and its workers) and of each stage
the CLI reports, and beside them the classic tool on the same job in a fresh process
(``benches/quality/classic.py``: codebox/mosaic's rule, which reads and prepares every tile
file each time, with its exhaustive search vectorised, so a lower bound on the original's
time; its mosaic saved as a JPEG, as the original does) and the ratio of its wall time to
mosaicfast's; and once per run the classic tool as it is, its search in pure Python in
``cpu_count - 1`` worker processes (``classic.python_assignment``; ``--skip-original`` to
leave it out, as it takes 15-30 s a run at 2,000 files), the tool issue 16 compares with.

    .venv/bin/python benches/first_mosaic.py [--runs 3] [--data .bench/first-mosaic]
    .venv/bin/python benches/first_mosaic.py --files 10000 --data .bench/first-mosaic-10k
    .venv/bin/python benches/first_mosaic.py --base /tmp/base/python   # old code beside

``--base`` runs another source tree of the package beside this one, interleaved round by
round (``base cold``, ``base warm``), to measure a change in the same run: e.g. ``git
archive BASE python | tar -x -C /tmp/base`` plus the core built from that commit (or, if
the Rust side did not change, this one) copied into ``/tmp/base/python/mosaicfast``.

The crops are cut from scikit-image's sample photos (`mosaicfast.demo`'s tile sources);
the target is Chelsea, which is not among them. The children run with their bytecode
cached (in ``DATA/pycache``), as from a wheel, whose installer compiles it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
import skimage.data
from PIL import Image

from mosaicfast.demo import TILE_SOURCES, sample_photo

FILES = 2000
SIDE = 128
STAGE = re.compile(r"(\w[\w ]*?) (\d+\.\d+)s")


def make_data(folder: Path, files: int = FILES) -> tuple[Path, Path]:
    """The ``files`` crops and the target, made once."""
    tiles, target = folder / "tiles", folder / "target.png"
    if len(list(tiles.glob("*.jpg"))) == files and target.exists():
        return target, tiles
    tiles.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    photos = [np.asarray(sample_photo(name)) for name in TILE_SOURCES]
    for i in range(files):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(32, min(h, w)))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[y : y + side, x : x + side]).resize((SIDE, SIDE))
        crop.save(tiles / f"t{i:04d}.jpg", quality=90)
    Image.fromarray(skimage.data.chelsea()).resize((600, 400)).save(target)
    return target, tiles


def build(
    target: Path, tiles: Path, cache: Path, out: Path, pythonpath: str | None = None
) -> dict[str, float]:
    """One `mosaicfast build` in a fresh process: its wall time and reported stages
    (``pythonpath``: the child's ``PYTHONPATH``, to run another copy of the package)."""
    command = [sys.executable, "-m", "mosaicfast", "build", str(target), "--tiles", str(tiles)]
    # The command, which writes a new file: the previous run's output is removed
    # before the clock starts (replacing it with --force frees its pages: 13-20 ms).
    command += ["-o", str(out)]
    out.unlink(missing_ok=True)
    env = {**os.environ, "MOSAICFAST_CACHE_DIR": str(cache)}
    # As an installed wheel runs: with its modules' bytecode compiled (pip compiles it at
    # install), here cached beside the data, whatever PYTHONDONTWRITEBYTECODE says.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache.parent / "pycache")
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    start, before = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    line = next(line for line in done.stderr.splitlines() if line.startswith("time:"))
    stages = {name.strip(): float(seconds) for name, seconds in STAGE.findall(line)}
    stages["wall"] = wall
    stages["start-up and exit"] = wall - stages["total"]
    stages["cpu"] = _children_cpu() - before
    return stages


def _children_cpu() -> float:
    """User plus system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def classic(target: Path, tiles: Path, out: Path, search: str) -> dict[str, float]:
    """The classic tool's job in a fresh process (:func:`classic_job`): its wall time."""
    command = [sys.executable, __file__, "--classic", search, str(target), str(tiles), str(out)]
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return {"wall": time.perf_counter() - start}


def classic_job(search: str, target: Path, tiles: Path, out: Path) -> None:
    """What the classic tool does: read every tile file, match (``search``: ``vectorised``
    or ``python``, the original's own loop), paste, save a JPEG."""
    sys.path.insert(0, str(Path(__file__).parent / "quality"))
    rule = importlib.import_module("classic")
    prepared = rule.classic_tiles(sorted(tiles.glob("*.jpg")))
    match = rule.python_assignment if search == "python" else rule.classic_assignment
    assignment = match(Image.open(target).convert("RGB"), prepared)
    rule.paste(assignment, prepared.large).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=FILES, help="tile files (default 2,000)")
    parser.add_argument("--data", type=Path, default=Path(".bench/first-mosaic"))
    parser.add_argument("--base", type=Path, help="another package tree, run beside this one")
    parser.add_argument(
        "--skip-original", action="store_true", help="leave out the pure-Python classic tool"
    )
    parser.add_argument("--classic", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.classic:
        search, *paths = args.classic
        classic_job(search, *map(Path, paths))
        return
    target, tiles = make_data(args.data, args.files)
    cache, out = args.data / "cache", args.data / "out.png"
    trees = {"": None} if args.base is None else {"base ": args.base, "": None}
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for name, tree in trees.items():
            shutil.rmtree(cache, ignore_errors=True)
            for mode in ("cold", "warm"):
                runs.setdefault(name + mode, []).append(
                    build(target, tiles, cache, out, None if tree is None else str(tree))
                )
        tool = classic(target, tiles, args.data / "classic.jpg", "vectorised")
        runs.setdefault("classic tool", []).append(tool)
        if not args.skip_original:
            tool = classic(target, tiles, args.data / "classic.jpg", "python")
            runs.setdefault("classic tool, pure Python", []).append(tool)
    for mode, found in runs.items():
        names = list(found[0])
        parts = "  ".join(f"{name} {median(run[name] for run in found):.2f}s" for name in names)
        print(f"{mode} (median of {len(found)}): {parts}")
    walls = {mode: median(run["wall"] for run in found) for mode, found in runs.items()}
    for tool in ("classic tool", "classic tool, pure Python"):
        for mode in ("cold", "warm"):
            if tool in walls:
                print(f"{tool} / {mode}: {walls[tool] / walls[mode]:.1f}x")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
