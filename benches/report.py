"""The benchmark command (``make bench``): run the suite, time a full build, print one table.

Usage::

    python benches/report.py [--quick] [--no-build] [-k EXPR] [--json FILE] [--out DIR]
                             [--data DIR] [--sizes full|quick|tiny] [--docs]

1. Runs the pytest-benchmark suite of ``benches/`` at full size in a child process (its
   progress goes to standard error) and reads its ``--benchmark-json`` file. The suite
   measures, in one process, the machine's float32 peak (a large ``np.matmul`` through
   NumPy's BLAS) beside the Rust core, the NumPy/SciPy baselines and the pure-Python
   references (timed on subsamples and extrapolated), and the scaling sweeps.
2. Runs ``mosaicfast build`` on the 190,000-tile benchmark library (made once by the
   functions of ``library_bench.py``) under a wrapper process that reports its wall time,
   peak RSS (``RUSAGE_CHILDREN``) and per-stage timings.
3. Prints one table, a row per stage, with the targets of the issue "Performance to the
   floor" and PASS/FAIL, then the scaling table and the search on each SIMD kernel the CPU
   runs (``test_bench_kernels.py``: the AVX2 and portable paths beside the chosen one, on
   real-photo descriptors); writes them to ``OUT/report.md`` and the log-log scaling plot
   to ``OUT/scaling.png``.
4. With ``--docs`` (``make bench`` at full size), writes the report into
   ``docs/benchmarks.md`` and its headline rows into the README, each between its two
   marker comments, so that no figure there is copied by hand.

``--quick`` (or ``MOSAICFAST_BENCH_QUICK=1``) runs everything at small sizes (under a
minute): a smoke test of the command, whose verdicts are indicative only (``--sizes tiny``
is smaller still, for its test).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import library_bench

from mosaicfast import demo
from mosaicfast.library.maintenance import library_info

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent

SEARCH_FLOOR_FACTOR = 1.5
"""The exhaustive search must take at most this multiple of the compute floor."""
PRUNED_MAX_SECONDS = 0.5
PRUNED_MIN_RECALL = 0.99
BUILD_MAX_SECONDS = 10.0
BUILD_MAX_MB = 1500.0
THREAD_MIN_SPEEDUP = 1.8
SCALING_MAX_SPREAD = 1.5
"""Near-linear: the time per cell x tile varies by at most this factor over a sweep."""
OPTIMAL_TARGETS = {(10_000, 10_000): 5.0, (6144, 10_000): 2.0, (6144, 190_000): 10.0}
"""Most seconds of the certified optimum on photo crops, by (cells, tiles)."""
OPTIMAL_MAX_MB = 1000.0
"""Most peak RSS of the certified optimum at 6,144 x 190,000."""
DEMO_MAX_SECONDS = 1.0
"""Most seconds of the demo build's match stage with --assign optimal."""
BUILD_METRIC = "combined"
"""The build's metric: colour search, then the SSIM re-rank of the candidates."""
DISTURBED_SHARE = 0.05
"""Warn when other processes used more than this share of the machine meanwhile."""
SUITE_TIMEOUT = 1800
"""Seconds one benchmark may take in the full-size suite (pytest-timeout)."""
DOCS = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
REPORT_BLOCK = "report"
"""The block of ``docs/benchmarks.md`` that ``--docs`` rewrites."""
HEADLINE_BLOCK = "headline"
"""The block of the README that ``--docs`` rewrites."""
HEADLINE_STAGES = (
    "exhaustive search top-1",
    "pruned search top-1 (pca)",
    "SSIM re-rank",
    "optimal assignment",
    f"full build (--metric {BUILD_METRIC})",
    "huge output (streamed TIFF)",
)
"""The README's rows: the largest size of each of these stages."""


# -- sizes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run of the command."""

    search_tiles: tuple[int, ...]
    rounds: int
    thumbs: int
    assign: tuple[str, ...]
    """``CELLSxTILES`` problems of the optimal assignment."""
    peak: int
    shortlist: int
    scaling_tiles: tuple[int, ...]
    scaling_cells: tuple[int, ...]
    scaling_cells_tiles: int
    build_tiles: int
    build_enlargement: float
    huge_tile_size: int | None = None
    """Tile side of the huge build (streamed TIFF), or None to skip it."""
    demo: bool = False
    """Time the optimal assignment's match stage on the demo's library and target."""

    def environment(self) -> dict[str, str]:
        """The suite's environment variables (see ``conftest.py``)."""
        prefix = "MOSAICFAST_BENCH_"
        return {
            f"{prefix}SIZES": ",".join(map(str, self.search_tiles)),
            f"{prefix}ROUNDS": str(self.rounds),
            f"{prefix}THUMBS": str(self.thumbs),
            f"{prefix}ASSIGN_SHAPES": ",".join(self.assign),
            f"{prefix}PEAK_SIZE": str(self.peak),
            f"{prefix}SHORTLIST": str(self.shortlist),
            f"{prefix}SCALING_TILES": ",".join(map(str, self.scaling_tiles)),
            f"{prefix}SCALING_CELLS": ",".join(map(str, self.scaling_cells)),
            f"{prefix}SCALING_CELLS_TILES": str(self.scaling_cells_tiles),
        }


FULL = Sizes(
    search_tiles=(10_000, 190_000),
    rounds=3,
    thumbs=20_000,
    assign=("10000x10000", "6144x10000", "6144x190000", "6144x10000+bars"),
    peak=4096,
    shortlist=200,
    scaling_tiles=(10_000, 50_000, 190_000, 1_000_000),
    scaling_cells=(1_000, 3_000, 10_000, 30_000, 100_000),
    scaling_cells_tiles=50_000,
    build_tiles=190_000,
    build_enlargement=8.0,
    huge_tile_size=200,
    demo=True,
)
QUICK = Sizes(
    search_tiles=(2_000,),
    rounds=1,
    thumbs=200,
    assign=("1000x1000", "600x10000"),
    peak=512,
    shortlist=200,
    scaling_tiles=(1_000, 2_000, 4_000),
    scaling_cells=(100, 300, 1_000),
    scaling_cells_tiles=2_000,
    build_tiles=300,
    build_enlargement=2.0,
)
TINY = Sizes(
    search_tiles=(500,),
    rounds=1,
    thumbs=40,
    assign=("100x100",),
    peak=128,
    shortlist=50,
    scaling_tiles=(250, 500),
    scaling_cells=(50, 100),
    scaling_cells_tiles=500,
    build_tiles=60,
    build_enlargement=1.0,
)
"""For the end-to-end test of the command (``test_report.py``)."""
SIZES = {"full": FULL, "quick": QUICK, "tiny": TINY}


# -- progress and machine load -------------------------------------------------------------

_START = time.monotonic()


def say(message: str) -> None:
    """A progress line on standard error, with the time since the command started."""
    print(f"[bench {time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def own_cpu_seconds() -> float:
    """CPU time of this process and its waited-for descendants."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy, or None where ``/proc/stat`` is missing."""
    try:
        return library_bench.busy_cpu_seconds()
    except OSError:
        return None


@dataclass
class Load:
    """CPU that other processes used while the command ran (a shared machine disturbs it)."""

    wall: float = field(default_factory=time.monotonic)
    busy: float | None = field(default_factory=machine_busy_seconds)
    own: float = field(default_factory=own_cpu_seconds)

    def other_share(self) -> float | None:
        """Share of the machine's CPU (all cores) used by other processes since creation."""
        now = machine_busy_seconds()
        if now is None or self.busy is None:
            return None
        wall = time.monotonic() - self.wall
        own = own_cpu_seconds() - self.own
        return max(0.0, now - self.busy - own) / (wall * (os.cpu_count() or 1))


# -- the pytest-benchmark suite ------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One benchmark of the JSON file: its median and best times and its ``extra_info``."""

    stage: str
    implementation: str
    median: float
    best: float
    rounds: int
    info: dict[str, Any]

    @property
    def extrapolation(self) -> float:
        """Factor from the timed subsample to the full problem (1 when not subsampled)."""
        return float(self.info.get("extrapolation", 1.0))

    @property
    def estimate(self) -> float:
        """The median scaled to the full problem."""
        return self.median * self.extrapolation


def run_suite(sizes: Sizes, json_path: Path, select: str | None) -> None:
    """Run the benchmarks of ``benches/`` in a child pytest, writing ``json_path``.

    Raises
    ------
    SystemExit
        If a benchmark fails.
    """
    command = [
        sys.executable, "-m", "pytest", str(BENCHES), "--benchmark-enable", "--benchmark-only",
        f"--benchmark-json={json_path}", "--benchmark-quiet", "-v", "-p", "no:cacheprovider",
        f"--ignore={BENCHES / 'test_report.py'}", f"--ignore={BENCHES / 'test_references.py'}",
        # At full size a benchmark takes minutes (SciPy's dense assignment alone ~40 s a
        # round): a longer limit than make test's 120 s per test, still catching a hang.
        f"--timeout={SUITE_TIMEOUT}",
    ]  # fmt: skip
    if select:
        command += ["-k", select]
    say(f"running the benchmark suite: {' '.join(command[3:])}")
    env = {**os.environ, **sizes.environment()}
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the benchmark suite failed (exit status {done.returncode})")


def load_measurements(path: Path) -> tuple[list[Measurement], dict[str, Any]]:
    """The benchmarks of a ``--benchmark-json`` file that name their stage, and its header."""
    data = json.loads(path.read_text())
    found = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "stage" not in info:
            continue
        stats = bench["stats"]
        found.append(
            Measurement(
                stage=info["stage"],
                implementation=info.get("implementation", ""),
                median=stats["median"],
                best=stats["min"],
                rounds=stats["rounds"],
                info=info,
            )
        )
    header = {key: data.get(key) for key in ("machine_info", "commit_info", "datetime")}
    return found, header


class Results:
    """The measurements, looked up by stage, implementation and size."""

    def __init__(self, measurements: list[Measurement]) -> None:
        self.measurements = measurements

    def get(self, stage: str, implementation: str, **info: Any) -> Measurement | None:
        """The measurement of this stage and implementation whose info holds ``info``."""
        wanted = {"stage": stage, "implementation": implementation, **info}
        for m in self.measurements:
            if all(m.info.get(key) == value for key, value in wanted.items()):
                return m
        return None

    def values(self, stage: str, key: str) -> list[Any]:
        """The distinct values of ``info[key]`` among a stage's measurements, sorted."""
        return sorted({m.info[key] for m in self.measurements if m.stage == stage})

    def peak_gflops(self) -> float | None:
        """The float32 matrix-product throughput, best round, in GFLOP/s."""
        peak = self.get("peak", "numpy")
        return None if peak is None else peak.info["operations"] / peak.best / 1e9


# -- the full build ------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """A ``mosaicfast build`` run: wall time, peak RSS, CPU, size and stage timings."""

    seconds: float
    peak_mb: float
    cpu: float
    cells: str
    tiles: int
    stages: dict[str, float]
    command: list[str]
    pixels: tuple[int, int] | None = None
    """Output ``(width, height)``, from the ``wrote`` line."""


def prepare_library(data: Path, tiles: int) -> tuple[Path, Path]:
    """The benchmark library and target, generated and indexed once (reused while complete).

    The tiles and target are ``library_bench.py``'s; the library is the one it indexes,
    ``DATA/work/lib-tiles``.

    Returns
    -------
    library, target : Path
    """
    say(f"build data: {tiles:,} synthetic tiles and a 600x400 target in {data}")
    with contextlib.redirect_stdout(sys.stderr):
        tiles_dir, _, target = library_bench.generate_data(data, tiles)
    library = data / "work" / "lib-tiles"
    if _library_tiles(library) != tiles:
        say(f"indexing the tiles into {library} (once; a few minutes at 190,000 tiles)")
        library.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mosaicfast", "index", str(tiles_dir), "-q"]
        subprocess.run([*command, "--library", str(library)], check=True, stdout=sys.stderr)
    return library, target


def _library_tiles(library: Path) -> int | None:
    """Source files recorded by the library, or None if there is none."""
    if not (library / "catalog.sqlite").is_file():
        return None
    return sum(library_info(library).sources.values())


def run_build(
    library: Path, target: Path, output: Path, enlargement: float, extra: Sequence[str] = ()
) -> Build:
    """Run ``mosaicfast build`` at the classic defaults (plus ``extra`` options) under the
    measuring wrapper.

    Raises
    ------
    SystemExit
        If the build fails.
    """
    command = [
        sys.executable, "-m", "mosaicfast", "build", str(target), "--library", str(library),
        "-o", str(output), "--enlargement", f"{enlargement:g}", "--metric", BUILD_METRIC,
        *extra,
    ]  # fmt: skip
    say("full build: " + " ".join(["mosaicfast", *command[3:]]))
    return measure_build(command)


def measure_build(command: list[str], tiles: int | None = None) -> Build:
    """Run a ``mosaicfast build`` command under the measuring wrapper; ``tiles`` overrides
    the count read from its ``wrote`` line.

    Raises
    ------
    SystemExit
        If the build fails.
    """
    wrapper = subprocess.run(
        [sys.executable, "-c", library_bench.WRAPPER, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(wrapper.stdout)
    if result["returncode"] != 0:
        raise SystemExit(f"the build failed:\n{result['stderr']}")
    wrote = next((line for line in result["stderr"].splitlines() if line.startswith("wrote")), "")
    cells = re.search(r"(\d+)x(\d+) cells", wrote)
    found = re.search(r"([\d,]+) tiles", wrote)
    pixels = re.search(r"\((\d+)x(\d+) px", wrote)
    if tiles is None:
        tiles = 0 if found is None else int(found[1].replace(",", ""))
    return Build(
        seconds=result["seconds"],
        peak_mb=result["peak_kib"] * 1024 / 1e6,
        cpu=result["cpu"],
        cells="?" if cells is None else f"{cells[1]}x{cells[2]}",
        tiles=tiles,
        stages=_stage_timings(result["stderr"]),
        command=["mosaicfast", *command[3:]],
        pixels=None if pixels is None else (int(pixels[1]), int(pixels[2])),
    )


def run_demo_optimal(folder: Path) -> Build:
    """``mosaicfast build --assign optimal`` on make demo's target and library (made in
    ``folder`` once), under the measuring wrapper."""
    target, tiles, count = demo.make_sample_data(folder)
    library = folder / "library"
    if _library_tiles(library) != count:
        index = [sys.executable, "-m", "mosaicfast", "index", str(tiles), "-q"]
        subprocess.run([*index, "--library", str(library)], check=True, stdout=sys.stderr)
    command = [
        sys.executable, "-m", "mosaicfast", "build", str(target), "--library", str(library),
        "-o", str(folder / "optimal.png"), "--assign", "optimal",
    ]  # fmt: skip
    return measure_build(command, tiles=count)


def _stage_timings(stderr: str) -> dict[str, float]:
    """The build's ``time:`` line as stage -> seconds (empty if it printed none)."""
    try:
        return library_bench.stage_timings(stderr)
    except StopIteration:
        say("the build printed no 'time:' line: no per-stage timings")
        return {}


# -- the table -----------------------------------------------------------------------------


@dataclass
class Row:
    """One stage of the table, as text cells."""

    stage: str
    size: str
    mosaicfast: str = "—"
    baseline: str = "—"
    vs_baseline: str = "—"
    python: str = "—"
    vs_python: str = "—"
    gflops: str = "—"
    target: str = "—"
    result: str = "—"


HEADER = Row(
    stage="stage",
    size="size",
    mosaicfast="mosaicfast",
    baseline="baseline",
    vs_baseline="baseline/mf",
    python="pure Python",
    vs_python="Python/mf",
    gflops="GFLOP/s (% of peak)",
    target="target: measured",
    result="result",
)


def format_seconds(seconds: float | None) -> str:
    """A duration with a readable unit, or ``—`` when it was not measured."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 600:
        return f"{seconds:.1f} s"
    if seconds < 36000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_time(m: Measurement | None) -> str:
    """A measurement's (extrapolated) median, labelled ``~… (extrap.)`` when extrapolated."""
    if m is None:
        return "—"
    if m.extrapolation != 1.0:
        return f"~{format_seconds(m.estimate)} (extrap.)"
    return format_seconds(m.median)


def format_ratio(slow: float | None, fast: float | None) -> str:
    """``slow / fast`` as ``12.3x``, or ``—`` if either is missing."""
    if slow is None or fast is None:
        return "—"
    ratio = slow / fast
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def verdict(ok: bool) -> str:
    """``PASS`` or ``FAIL``."""
    return "PASS" if ok else "FAIL"


def compared(
    stage: str,
    size: str,
    rust: Measurement | None,
    baseline: Measurement | None,
    python: Measurement | None,
) -> Row:
    """A row with mosaicfast's median beside the baseline and the pure-Python reference."""
    fast = None if rust is None else rust.median
    return Row(
        stage=stage,
        size=size,
        mosaicfast=format_time(rust),
        baseline=format_time(baseline),
        vs_baseline=format_ratio(None if baseline is None else baseline.estimate, fast),
        python=format_time(python),
        vs_python=format_ratio(None if python is None else python.estimate, fast),
    )


def _n(value: int) -> str:
    return f"{value:,}"


def _short(value: int) -> str:
    """``10k``, ``1M``: a compact count for size ranges."""
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value >= 1000 and value % 1000 == 0:
        return f"{value // 1000}k"
    return _n(value)


def peak_row(results: Results) -> list[Row]:
    """The float32 matrix product that sets the peak."""
    peak = results.get("peak", "numpy")
    if peak is None:
        return []
    size = peak.info["size"]
    return [
        Row(
            stage="float32 peak: np.matmul (BLAS)",
            size=f"{size}x{size}, best of {peak.rounds}: {format_seconds(peak.best)}",
            gflops=f"{peak.info['operations'] / peak.best / 1e9:.1f} (peak)",
        )
    ]


def descriptor_rows(results: Results) -> list[Row]:
    """Tile descriptors of N thumbnails."""
    rust = results.get("descriptors", "rust")
    if rust is None:
        return []
    size = f"{_n(rust.info['thumbs'])} thumbs {rust.info['side']} px, g=5"
    return [
        compared(
            "tile descriptors",
            size,
            rust,
            results.get("descriptors", "baseline"),
            results.get("descriptors", "python"),
        )
    ]


def search_rows(results: Results) -> list[Row]:
    """The exhaustive top-1 search at each tile count, with GFLOP/s and the compute floor."""
    peak = results.peak_gflops()
    rows = []
    for tiles in results.values("search", "tiles"):
        rust = results.get("search", "rust", tiles=tiles)
        if rust is None:
            continue
        cells, dim = rust.info["cells"], rust.info["dim"]
        row = compared(
            "exhaustive search top-1",
            f"{_n(cells)} x {_n(tiles)}, d={dim}",
            rust,
            results.get("search", "baseline", tiles=tiles),
            results.get("search", "python", tiles=tiles),
        )
        gflops = 2 * cells * tiles * dim / rust.median / 1e9
        row.gflops = f"{gflops:.1f}"
        if peak is not None:
            row.gflops += f" ({gflops / peak:.0%})"
            floor = 2 * cells * tiles * dim / (peak * 1e9)
            ratio = rust.median / floor
            row.target = f"<= {SEARCH_FLOOR_FACTOR}x floor: {ratio:.2f}x"
            row.result = verdict(ratio <= SEARCH_FLOOR_FACTOR)
        rows.append(row)
    return rows


def pruned_rows(results: Results) -> list[Row]:
    """Index build and pruned query at each tile count, with recall@1."""
    rows = []
    sizes = set(results.values("pruned", "tiles")) | set(results.values("pruned-build", "tiles"))
    for tiles in sorted(sizes):
        build = results.get("pruned-build", "rust", tiles=tiles)
        if build is not None:
            rows.append(
                compared(
                    "pruned search: index build",
                    f"{_n(tiles)} photo-crop tiles",
                    build,
                    results.get("pruned-build", "baseline", tiles=tiles),
                    None,
                )
            )
        rust = results.get("pruned", "rust", tiles=tiles)
        if rust is None:
            continue
        baseline = results.get("pruned", "baseline", tiles=tiles)
        size = (
            f"{_n(rust.info['cells'])} x {_n(tiles)} photo crops, S={_n(rust.info['shortlist'])} "
            f"({rust.info['scanned']:.1%} scanned)"
        )
        row = compared("pruned search top-1 (pca)", size, rust, baseline, None)
        recall = rust.info["recall"]
        row.mosaicfast += f", recall@1 {recall:.4f}"
        if baseline is not None:
            row.baseline += (
                f", recall@1 {baseline.info['recall']:.4f} (S={_n(baseline.info['shortlist'])})"
            )
        row.target = (
            f"<= {PRUNED_MAX_SECONDS:g} s, recall@1 >= {PRUNED_MIN_RECALL}: "
            f"{format_seconds(rust.median)}, {recall:.4f}"
        )
        row.result = verdict(rust.median <= PRUNED_MAX_SECONDS and recall >= PRUNED_MIN_RECALL)
        rows.append(row)
    return rows


def matching_rows(results: Results) -> list[Row]:
    """SSIM re-rank, penalised greedy and optimal assignment."""
    rows = []
    for tiles in results.values("ssim", "tiles"):
        rust = results.get("ssim", "rust", tiles=tiles)
        if rust is not None:
            info = rust.info
            side = int(info["dim"] ** 0.5)
            size = f"{_n(info['cells'])} x top-{info['k']}, {side}x{side}, {_n(tiles)} tiles"
            baseline = results.get("ssim", "baseline", tiles=tiles)
            python = results.get("ssim", "python", tiles=tiles)
            rows.append(compared("SSIM re-rank", size, rust, baseline, python))
    greedy = results.get("greedy", "rust")
    if greedy is not None:
        info = greedy.info
        size = f"{_n(info['cells'])} cells, k={info['k']}, r={info['radius']}"
        python = results.get("greedy", "python")
        rows.append(compared("penalised greedy", size, greedy, None, python))
    return rows + optimal_rows(results)


def optimal_rows(results: Results) -> list[Row]:
    """The certified optimum on photo crops beside SciPy, with targets; random descriptors."""
    rows = []
    optimal = [m for m in results.measurements if m.stage == "optimal"]

    def problem(m: Measurement) -> tuple[int, int, float]:
        return m.info["cells"], m.info["tiles"], m.info.get("bars", 0.0)

    def get(implementation: str, shape: tuple[int, int, float]) -> Measurement | None:
        found = (
            m
            for m in optimal
            if problem(m) == shape
            and m.info.get("data") == "photo crops"
            and m.info.get("implementation") == implementation
        )
        return next(found, None)

    for cells, tiles, bars in sorted({problem(m) for m in optimal}, key=lambda s: (-s[0], *s[1:])):
        rust = get("rust", (cells, tiles, bars))
        if rust is None:
            continue
        baseline = get("baseline", (cells, tiles, bars))
        flat = f", targets letterboxed ({bars:g} of their height top and bottom)" if bars else ""
        row = compared(
            "optimal assignment", f"{_n(cells)} x {_n(tiles)} photo crops{flat}, each tile once",
            rust, baseline, None,
        )  # fmt: skip
        limit = None if bars else OPTIMAL_TARGETS.get((cells, tiles))
        peak = rust.info.get("peak_mb")
        if peak is not None:
            row.mosaicfast += f", peak RSS {peak:,.0f} MB"
        if limit is not None:
            ok = rust.median <= limit and (peak is None or peak <= OPTIMAL_MAX_MB)
            memory = f", <= {OPTIMAL_MAX_MB:,.0f} MB" if peak is not None else ""
            row.target = f"<= {limit:g} s{memory}: {format_seconds(rust.median)}"
            row.result = verdict(ok)
        rows.append(row)
    for rust in optimal:
        if rust.info.get("data") == "random descriptors":
            size = f"{_n(rust.info['cells'])} x {_n(rust.info['tiles'])}, each tile once"
            rows.append(compared("optimal assignment (random descriptors)", size, rust, None, None))
    return rows


def demo_rows(build: Build | None) -> list[Row]:
    """The demo build's match stage with --assign optimal."""
    if build is None or "match" not in build.stages:
        return []
    match = build.stages["match"]
    return [
        Row(
            stage="optimal assignment, demo build",
            size=f"{build.cells} cells, {build.tiles:,} tiles (make demo), each tile once",
            mosaicfast=f"match stage {format_seconds(match)}",
            target=f"match <= {DEMO_MAX_SECONDS:g} s: {format_seconds(match)}",
            result=verdict(match <= DEMO_MAX_SECONDS),
        )
    ]


def thread_rows(results: Results) -> list[Row]:
    """The search on 1 thread against 2."""
    one, two = results.get("threads", "rust", threads=1), results.get("threads", "rust", threads=2)
    if one is None or two is None:
        return []
    speedup = one.median / two.median
    return [
        Row(
            stage="thread scaling (search)",
            size=f"{_n(two.info['cells'])} x {_n(two.info['tiles'])}, 1 -> 2 threads",
            mosaicfast=f"{format_seconds(two.median)} (2 thr)",
            baseline=f"{format_seconds(one.median)} (1 thr)",
            vs_baseline=format_ratio(one.median, two.median),
            target=f">= {THREAD_MIN_SPEEDUP}x: {speedup:.2f}x",
            result=verdict(speedup >= THREAD_MIN_SPEEDUP),
        )
    ]


@dataclass(frozen=True)
class Point:
    """One size of a scaling sweep."""

    sweep: str
    cells: int
    tiles: int
    exhaustive: float | None
    pruned: float | None
    shortlist: int | None

    @property
    def per_pair(self) -> float | None:
        """Exhaustive seconds per cell x tile."""
        return None if self.exhaustive is None else self.exhaustive / (self.cells * self.tiles)


def scaling_points(results: Results) -> list[Point]:
    """The sweeps' sizes in order, each with its exhaustive and pruned medians."""
    points = []
    for sweep in ("tiles", "cells"):
        stage = f"scale-{sweep}"
        for value in results.values(stage, sweep):
            exhaustive = results.get(stage, "exhaustive", **{sweep: value})
            pruned = results.get(stage, "pruned", **{sweep: value})
            known = exhaustive or pruned
            assert known is not None
            points.append(
                Point(
                    sweep=sweep,
                    cells=known.info["cells"],
                    tiles=known.info["tiles"],
                    exhaustive=None if exhaustive is None else exhaustive.median,
                    pruned=None if pruned is None else pruned.median,
                    shortlist=None if pruned is None else pruned.info["shortlist"],
                )
            )
    return points


def scaling_rows(points: list[Point]) -> list[Row]:
    """Per sweep: the spread of the exhaustive search's time per cell x tile."""
    rows = []
    for sweep in ("tiles", "cells"):
        swept = [p for p in points if p.sweep == sweep and p.per_pair is not None]
        if len(swept) < 2:
            continue
        per_pair = [p.per_pair for p in swept if p.per_pair is not None]
        spread = max(per_pair) / min(per_pair)
        first, last = swept[0], swept[-1]
        if sweep == "tiles":
            size = f"{_n(first.cells)} x {_short(first.tiles)}..{_short(last.tiles)} tiles"
        else:
            size = f"{_short(first.cells)}..{_short(last.cells)} cells x {_n(first.tiles)}"
        rows.append(
            Row(
                stage=f"scaling in {sweep} (exhaustive)",
                size=size,
                mosaicfast=f"{min(per_pair) * 1e9:.3f}-{max(per_pair) * 1e9:.3f} ns per pair",
                target=f"spread <= {SCALING_MAX_SPREAD}x: {spread:.2f}x",
                result=verdict(spread <= SCALING_MAX_SPREAD),
            )
        )
    return rows


def build_rows(build: Build | None) -> list[Row]:
    """The full build: wall time and peak RSS against their budgets."""
    if build is None:
        return []
    ok = build.seconds <= BUILD_MAX_SECONDS and build.peak_mb <= BUILD_MAX_MB
    return [
        Row(
            stage=f"full build (--metric {BUILD_METRIC})",
            size=f"600x400 -> {build.cells} cells, {_n(build.tiles)} tiles",
            mosaicfast=f"{format_seconds(build.seconds)} wall",
            target=(
                f"<= {BUILD_MAX_SECONDS:g} s, <= {BUILD_MAX_MB:,.0f} MB: "
                f"{build.seconds:.2f} s, {build.peak_mb:,.0f} MB"
            ),
            result=verdict(ok),
        )
    ]


def huge_rows(huge: Build | None) -> list[Row]:
    """The huge build: its peak memory must stay below the size of the image it wrote."""
    if huge is None or huge.pixels is None:
        return []
    width, height = huge.pixels
    image_mb = width * height * 3 / 1e6
    return [
        Row(
            stage="huge output (streamed TIFF)",
            size=f"{huge.cells} cells -> {width}x{height} px ({width * height / 1e6:,.0f} MP)",
            mosaicfast=f"{format_seconds(huge.seconds)} wall, peak RSS {huge.peak_mb:,.0f} MB",
            target=f"peak RSS < the RGB image ({image_mb:,.0f} MB): {huge.peak_mb:,.0f} MB",
            result=verdict(huge.peak_mb < image_mb),
        )
    ]


def main_rows(
    results: Results,
    build: Build | None,
    huge: Build | None = None,
    demo_build: Build | None = None,
) -> list[Row]:
    """Every row of the main table, in pipeline order."""
    return [
        *peak_row(results),
        *descriptor_rows(results),
        *search_rows(results),
        *pruned_rows(results),
        *matching_rows(results),
        *demo_rows(demo_build),
        *thread_rows(results),
        *scaling_rows(scaling_points(results)),
        *build_rows(build),
        *huge_rows(huge),
    ]


def scaling_table(points: list[Point]) -> list[list[str]]:
    """The sweeps as text cells, header first."""
    rows = [
        ["sweep", "cells", "tiles", "cells x tiles", "exhaustive", "ns per cell x tile",
         "pruned", "us per cell (pruned)"],
    ]  # fmt: skip
    for p in points:
        pruned_label = "—" if p.pruned is None else f"{format_seconds(p.pruned)} (S={p.shortlist})"
        rows.append(
            [
                f"in {p.sweep}",
                _n(p.cells),
                _n(p.tiles),
                f"{p.cells * p.tiles:.2e}",
                format_seconds(p.exhaustive),
                "—" if p.per_pair is None else f"{p.per_pair * 1e9:.3f}",
                pruned_label,
                "—" if p.pruned is None else f"{p.pruned / p.cells * 1e6:.1f}",
            ]
        )
    return rows


def kernel_table(results: Results) -> list[list[str]]:
    """The search on each SIMD kernel, fastest first per size, header first: the chosen
    kernel (the fastest this CPU runs) beside those of CPUs without AVX-512 or AVX2."""
    rows = [["size (photo crops)", "kernel", "median", "GFLOP/s", "time / chosen kernel"]]
    for tiles in results.values("kernel", "tiles"):
        runs = [m for m in results.measurements if m.stage == "kernel" and m.info["tiles"] == tiles]
        chosen = next((m.median for m in runs if m.info.get("chosen")), None)
        for m in sorted(runs, key=lambda m: m.median):
            cells, dim = m.info["cells"], m.info["dim"]
            rows.append(
                [
                    f"{_n(cells)} x {_n(tiles)}, d={dim}",
                    m.implementation + (" (chosen)" if m.info.get("chosen") else ""),
                    format_seconds(m.median),
                    f"{2 * cells * tiles * dim / m.median / 1e9:.1f}",
                    format_ratio(m.median, chosen),
                ]
            )
    return rows


def render(rows: list[list[str]]) -> str:
    """Text cells as an aligned Markdown table (readable as plain text too)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def cells_of(row: Row) -> list[str]:
    """A row's text cells, in column order."""
    return [getattr(row, f.name) for f in fields(row)]


# -- the plot ------------------------------------------------------------------------------


def plot_scaling(points: list[Point], path: Path) -> bool:
    """Log-log plot of the sweeps (time against tiles, and against cells) to ``path``.

    Returns False, saying why, when matplotlib is missing or there is nothing to plot.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("no scaling plot: matplotlib is not installed (pip install -e '.[dev]')")
        return False
    if not points:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, sweep in zip(axes, ("tiles", "cells"), strict=True):
        swept = [p for p in points if p.sweep == sweep]
        if not swept:
            ax.set_visible(False)
            continue
        _plot_sweep(ax, sweep, swept)
    figure.suptitle("mosaicfast top-1 search: median time (log-log)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def _plot_sweep(ax: Any, sweep: str, swept: list[Point]) -> None:
    """One panel: exhaustive and pruned medians, and a line of slope 1 through the middle."""
    x = [getattr(p, sweep) for p in swept]
    exhaustive = [(xi, p.exhaustive) for xi, p in zip(x, swept, strict=True) if p.exhaustive]
    pruned = [(xi, p.pruned) for xi, p in zip(x, swept, strict=True) if p.pruned]
    if exhaustive:
        ax.loglog(*zip(*exhaustive, strict=True), "o-", label="exhaustive (exact)")
        mid_x, mid_y = exhaustive[len(exhaustive) // 2]
        ax.loglog(
            [x[0], x[-1]], [mid_y * x[0] / mid_x, mid_y * x[-1] / mid_x], "k--", lw=0.8,
            label="linear",
        )  # fmt: skip
    if pruned:
        shortlists = {p.shortlist for p in swept if p.pruned}
        shortlist = f"S={shortlists.pop()}" if len(shortlists) == 1 else "S=35 sqrt(tiles)"
        ax.loglog(*zip(*pruned, strict=True), "s-", label=f"pruned (pca, {shortlist})")
    fixed = f"{swept[0].cells:,} cells" if sweep == "tiles" else f"{swept[0].tiles:,} tiles"
    ax.set_xlabel(f"{sweep} (at {fixed})")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", lw=0.3)
    ax.legend()


# -- the report ----------------------------------------------------------------------------


def describe_machine(header: dict[str, Any]) -> str:
    """CPU, cores, search kernel and commit, in one line."""
    from mosaicfast import _core

    machine = header.get("machine_info") or {}
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "CPU"
    commit = header.get("commit_info") or {}
    revision = str(commit.get("id") or "?")[:7] + (" (dirty)" if commit.get("dirty") else "")
    return (
        f"{cpu}, {os.cpu_count()} cores; Rust kernel {_core.search_kernel()}, "
        f"{_core.default_threads()} threads; commit {revision}; {header.get('datetime') or ''}"
    )


LEGEND = """\
mosaicfast: median of the rounds (pytest-benchmark); the full build is one run, wall time
of the whole command (start-up included) with its peak RSS. baseline/mf and Python/mf:
how many times longer the baseline and the reference take.
baselines (benches/baselines.py, test_bench_*.py): descriptors, a NumPy lookup table +
np.add.reduceat; exhaustive search, blocked float32 |a|^2+|b|^2-2ab matrix products +
argmin; pruned search, the k nearest tiles (S) of a SciPy cKDTree on 8 PCA dims + NumPy
exact distances, on the same photo crops; SSIM, SciPy uniform_filter on pair stacks (256
cells, extrapolated); optimal assignment, scipy.optimize.linear_sum_assignment on the
dense matrix of the same squared distances (1 round; where it fits in 2 GiB), whose total
the certified optimum must equal; its photo crops are benches/photo_data.py's (cells of
held-out sample photos, tiles cropped from the others); peak RSS, the whole solve in a
fresh process; the demo build is `mosaicfast build` of make demo's target and library
with --assign optimal, timed by its `time:` line.
pure Python: mosaicfast._reference.descriptors (descriptors, search) and
benches/references.py (SSIM, greedy); "~ (extrap.)": timed on a subsample and scaled by
the ratio of work.
GFLOP/s: 2*cells*tiles*d / median (the flops of the equivalent matrix product), and its
share of the float32 peak measured in the same process; the compute floor is
2*cells*tiles*d / peak. recall@1: share of cells given the exhaustive search's best tile;
mosaicfast's pruned search scans whole KD-tree leaves until they hold S tiles.
huge output: the full build at 200-px tiles, written as a streamed tiled TIFF."""


def build_summary(build: Build) -> str:
    """Where the build's time goes: each stage, largest first, and the start-up."""
    stages = dict(build.stages)
    stages["start-up and exit"] = max(0.0, build.seconds - sum(build.stages.values()))
    parts = [
        f"{name} {seconds:.2f} s ({seconds / build.seconds:.0%})"
        for name, seconds in sorted(stages.items(), key=lambda item: -item[1])
    ]
    return (
        f"full build, where the {build.seconds:.2f} s go: " + ", ".join(parts) + f"; CPU "
        f"{build.cpu:.1f} s, peak RSS {build.peak_mb:,.0f} MB.\n  command: "
        + " ".join(build.command)
    )


def report_text(
    results: Results,
    header: dict[str, Any],
    build: Build | None,
    sizes: Sizes,
    other_share: float | None,
    huge: Build | None = None,
    demo_build: Build | None = None,
    level: int = 1,
) -> str:
    """The whole report: machine, main table, legend, build stages, scaling and kernel
    tables; its title a Markdown heading of ``level``, the other tables' one level below."""
    name = next(name for name, known in SIZES.items() if known is sizes)
    title = "#" * level + f" mosaicfast benchmark ({name} sizes)"
    lines = [title, "", describe_machine(header)]
    if sizes is not FULL:
        lines.append(
            f"{name.upper()} run: small sizes; the targets are those of the full sizes, so the "
            "verdicts are indicative only."
        )
    table = main_rows(results, build, huge, demo_build)
    lines += ["", render([cells_of(HEADER), *map(cells_of, table)]), ""]
    lines += ["```", LEGEND, "```"]
    if build is not None:
        lines += ["", build_summary(build)]
    points = scaling_points(results)
    if points:
        fixed = next((p.tiles for p in points if p.sweep == "cells"), None)
        lines += [
            "",
            "#" * (level + 1)
            + " Scaling (medians; the cells sweep at "
            + ("?" if fixed is None else f"{fixed:,}")
            + " tiles; plot in scaling.png)",
            "",
            render(scaling_table(points)),
        ]
    kernels = kernel_table(results)
    if len(kernels) > 1:
        heading = "#" * (level + 1) + " Search kernels (medians, top-1)"
        lines += ["", heading, "", render(kernels)]
    if other_share is not None:
        lines.append("")
        lines.append(f"Other processes used {other_share:.0%} of the machine's CPU meanwhile.")
        if other_share > DISTURBED_SHARE:
            lines.append("WARNING: the machine was shared; the timings are disturbed.")
    return "\n".join(lines) + "\n"


def headline_table(rows: list[Row]) -> str:
    """The README's table: per stage of :data:`HEADLINE_STAGES`, its last (largest) row."""
    last = {row.stage: row for row in rows if row.stage in HEADLINE_STAGES}
    table = [["stage", "size", "mosaicfast", "baseline (NumPy/SciPy)", "target: measured"]]
    for stage in HEADLINE_STAGES:
        if stage in last:
            row = last[stage]
            table.append([stage, row.size, row.mosaicfast, row.baseline, row.target])
    return render(table)


def block_markers(name: str) -> tuple[str, str]:
    """The comments that open and close the generated block ``name`` of a Markdown file."""
    return (
        f"<!-- make bench writes the {name} block from here (benches/report.py --docs) -->",
        f"<!-- end of the {name} block -->",
    )


def replace_block(path: Path, name: str, text: str) -> None:
    """Put ``text`` between the markers of block ``name`` in ``path``, keeping the rest.

    Raises
    ------
    SystemExit
        If ``path`` does not hold the block's two markers, in order.
    """
    begin, end = block_markers(name)
    content = path.read_text()
    start, stop = content.find(begin), content.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"{path}: no {name} block to write ({begin!r} ... {end!r})")
    path.write_text(content[: start + len(begin)] + "\n" + text.strip("\n") + "\n" + content[stop:])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", choices=SIZES, default="full", help="problem sizes (default full)"
    )
    parser.add_argument(
        "--quick", dest="sizes", action="store_const", const="quick", help="same as --sizes quick"
    )
    parser.add_argument("--no-build", action="store_true", help="skip the full build")
    parser.add_argument(
        "-k", dest="select", help="run only the benchmarks matching this pytest -k expression"
    )
    parser.add_argument(
        "--json", type=Path, help="report this --benchmark-json file instead of running the suite"
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".bench", help="output folder")
    parser.add_argument(
        "--data", type=Path, help="build data folder (default OUT/data, OUT/quick-data)"
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write the report into docs/benchmarks.md and its headline rows into the README "
        "(a whole run at full size only)",
    )
    args = parser.parse_args(argv)
    if os.environ.get("MOSAICFAST_BENCH_QUICK", "") not in ("", "0"):
        args.sizes = "quick"
    if args.docs and (args.sizes != "full" or args.select or args.no_build or args.json):
        parser.error("--docs takes a whole run at full size (no --quick, -k, --no-build, --json)")
    return args


@contextlib.contextmanager
def _step(message: str) -> Iterator[None]:
    say(message)
    start = time.monotonic()
    yield
    say(f"... done in {time.monotonic() - start:.1f}s")


def main(argv: list[str] | None = None) -> int:
    """Run the suite and the build, print the report and write its files."""
    args = parse_args(argv)
    sizes = SIZES[args.sizes]
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    load = Load()
    json_path = args.json
    if json_path is None:
        json_path = out / "bench.json"
        with _step("benchmark suite"):
            run_suite(sizes, json_path, args.select)
    measurements, header = load_measurements(json_path)
    build = huge = demo_build = None
    if sizes.demo and not args.no_build:
        with _step("demo build (--assign optimal)"):
            demo_build = run_demo_optimal(out / "demo")
    if not args.no_build:
        data = args.data or out / ("data" if sizes is FULL else f"{args.sizes}-data")
        library, target = prepare_library(data.resolve(), sizes.build_tiles)
        with _step("full build"):
            build = run_build(library, target, out / "mosaic.png", sizes.build_enlargement)
        if sizes.huge_tile_size is not None:
            with _step("huge build"):
                huge_path = out / "huge.tif"
                huge = run_build(
                    library, target, huge_path, sizes.build_enlargement,
                    ["--cols", "96", "--tile-size", str(sizes.huge_tile_size)],
                )  # fmt: skip
                huge_path.unlink(missing_ok=True)  # hundreds of MB; only its figures matter
    results = Results(measurements)
    if plot_scaling(scaling_points(results), out / "scaling.png"):
        say(f"wrote {out / 'scaling.png'}")
    other = load.other_share() if args.json is None else None
    text = report_text(results, header, build, sizes, other, huge, demo_build)
    (out / "report.md").write_text(text)
    say(f"wrote {out / 'report.md'}")
    if args.docs and other is not None and other > DISTURBED_SHARE:
        say(f"the machine was shared: {DOCS} and {README} left as they were")
    elif args.docs:
        docs = report_text(results, header, build, sizes, other, huge, demo_build, level=3)
        replace_block(DOCS, REPORT_BLOCK, docs)
        headline = headline_table(main_rows(results, build, huge, demo_build))
        replace_block(README, HEADLINE_BLOCK, describe_machine(header) + "\n\n" + headline)
        say(f"wrote the figures into {DOCS} and {README}")
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
