"""A warm build with the default options from a library that stores the ylab descriptors
beside one that does not (format 1: lab only, computed from the thumbnails at each
build), the real CLI in a fresh process, runs interleaved; prints the medians of the
wall time, the process's CPU time and the describe stage.

    .venv/bin/python benches/stored_descriptors.py LIBRARY TARGET [--runs 3]

LIBRARY is a format-1 library of real photo crops (``benches/quality``'s, made by
``make bench-quality`` before format 2) or a format-2 one; it is copied twice into
``.bench/stored-descriptors`` and left unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from mosaicfast import Library
from mosaicfast.library.store import CATALOG, DEFAULT_DESCRIPTORS, DescriptorKind

DESCRIBE = re.compile(r"describe (\d+\.\d+)s")


def copies(library: Path, folder: Path) -> tuple[Path, Path]:
    """Copies of ``library`` with the ylab array stored and without it (format 1)."""
    stored, computed = folder / "stored", folder / "computed"
    for copy in (stored, computed):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(library, copy)
    with Library.open(stored, write=True) as lib:
        start = time.perf_counter()
        added = lib.store_missing_descriptors(DEFAULT_DESCRIPTORS)
        print(f"upgrade ({', '.join(map(str, added)) or 'nothing'}): "
              f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    (computed / DescriptorKind("ylab", 8).file).unlink(missing_ok=True)
    db = sqlite3.connect(computed / CATALOG)
    with db:
        db.execute("DELETE FROM meta WHERE key IN ('descriptors', 'grids')")
        db.execute("INSERT INTO meta VALUES ('grids', ?)", (json.dumps([5]),))
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    db.close()
    return stored, computed


def build(target: Path, library: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and the describe stage of one build."""
    command = [sys.executable, "-m", "mosaicfast", "build", str(target)]
    command += ["--library", str(library), "-o", str(out), "--force"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(output)
    found = DESCRIBE.search(output)
    return wall, usage.ru_utime + usage.ru_stime, float(found[1]) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(".bench/stored-descriptors"))
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    libraries = dict(zip(("stored", "computed"), copies(args.library, args.data), strict=True))
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in libraries}
    for name, library in libraries.items():  # one warm-up each: the page cache
        build(args.target, library, args.data / f"{name}.png")
    for _ in range(args.runs):
        for name, library in libraries.items():
            times[name].append(build(args.target, library, args.data / f"{name}.png"))
    print(f"medians of {args.runs}, interleaved: wall s, CPU s, describe stage s")
    for name, runs in times.items():
        wall, cpu, describe = (median(column) for column in zip(*runs, strict=True))
        print(f"{name:9} {wall:6.2f} {cpu:6.2f} {describe:6.2f}")


if __name__ == "__main__":
    main()
