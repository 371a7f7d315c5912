"""Report benchmark: time and peak memory of ``mosaicfast report`` on real photographs.

Usage::

    .venv/bin/python benches/report_bench.py [--runs 3] [--data .bench/report] [--quick]

Makes once, in ``--data``, the demo's sample data (crops of scikit-image's sample
photos, which ship with the package: nothing is downloaded) and its tile library,
then builds two mosaics of the demo's target with their manifests:

- the classic job: 96 x 64 = 6,144 cells of 50 px, a 4800 x 3200 PNG;
- a 250-megapixel one: 320 x 213 cells of 61 px, a 19520 x 12993 TIFF (streamed).

Then runs ``mosaicfast report MANIFEST -o DIR`` on each, as a fresh process under the
wrapper of ``library_bench.py`` (wall time, CPU time and peak resident memory of the
command alone, CPU used meanwhile by other processes), ``--runs`` times, and prints the
medians.
``--quick`` makes the big mosaic 20 megapixels instead, to try the script.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

import library_bench
from library_bench import Run, run_cli

from mosaicfast.demo import make_sample_data

DATA = Path(__file__).resolve().parent.parent / ".bench" / "report"
JOBS = {
    "classic": ("6,144 cells, 4800 x 3200 PNG", ["--cols", "96", "--tile-size", "50"], ".png"),
    "250 MP": ("68,160 cells, 19520 x 12993 TIFF", ["--cols", "320", "--tile-size", "61"], ".tif"),
}
QUICK_BIG = ("20,480 cells, 5120 x 3400 TIFF", ["--cols", "160", "--tile-size", "32"], ".tif")


def prepare(data: Path) -> tuple[Path, Path]:
    """The demo's target and its tile library in ``data`` (made on the first run)."""
    library = data / "library"
    target = data / "target.png"
    if not (library / "catalog.sqlite").exists() or not target.exists():
        shutil.rmtree(data, ignore_errors=True)
        target, tiles, count = make_sample_data(data)
        print(f"indexing {count:,} tile photos into {library}", flush=True)
        run_cli("index", tiles, "--library", library, "--quiet")
    return target, library


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each report (median)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="a 20-MP big mosaic instead")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="do not wait for the machine to be idle before each run (on a machine known to "
        "be shared: times are then noisy, the CPU time much less so)",
    )
    args = parser.parse_args(argv)
    if args.no_wait:
        library_bench.wait_for_idle = lambda: None
    target, library = prepare(args.data)
    jobs = dict(JOBS)
    if args.quick:
        jobs["250 MP"] = QUICK_BIG
    rows = []
    for name, (what, options, suffix) in jobs.items():
        stem = args.data / name.replace(" ", "")
        output, manifest = stem.with_suffix(suffix), stem.with_suffix(".json")
        if not manifest.exists():
            print(f"building the {name} mosaic ({what})", flush=True)
            build = run_cli("build", target, "--library", library, "-o", output,
                            "--manifest", manifest, "--quiet", *options)  # fmt: skip
            print(f"  {build.seconds:.1f} s, peak {build.peak_mb:,.0f} MB", flush=True)
        runs: list[Run] = []
        for _ in range(args.runs):
            folder = stem.with_name(stem.name + "-report")
            runs.append(run_cli("report", manifest, "-o", folder, "--force", "--quiet"))
            run = runs[-1]
            print(f"  {name} report: {run.seconds:.2f} s ({run.cpu:.1f} CPU s), peak "
                  f"{run.peak_mb:,.0f} MB, other processes {run.other_cpu:.1f} CPU s",
                  flush=True)  # fmt: skip
        tiles = sum(1 for _ in folder.glob("mosaic_files/*/*.jpg"))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append(
            f"| {name} | {what} | {statistics.median(r.seconds for r in runs):.2f} s | "
            f"{statistics.median(r.cpu for r in runs):.1f} s | "
            f"{statistics.median(r.peak_mb for r in runs):,.0f} MB | {tiles:,} | "
            f"{size / 1e6:,.0f} MB | {statistics.median(r.other_cpu for r in runs):.1f} s |"
        )
    print(f"\nmedian of {args.runs} run(s) of `mosaicfast report MANIFEST -o DIR`:\n")
    print("| mosaic | size | time | CPU time | peak RSS | image tiles | report size "
          "| other processes' CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
