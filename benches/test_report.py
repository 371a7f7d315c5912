"""The benchmark command (``report.py``): its arithmetic on known timings, and one run end to
end at tiny sizes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import report

from mosaicfast import _core

STAGES = [
    "float32 peak: np.matmul (BLAS)",
    "tile descriptors",
    "exhaustive search top-1",
    "pruned search: index build",
    "pruned search top-1 (pca)",
    "SSIM re-rank",
    "penalised greedy",
    "optimal assignment",
    "optimal assignment (random descriptors)",
    "thread scaling (search)",
    "scaling in tiles (exhaustive)",
    "scaling in cells (exhaustive)",
    f"full build (--metric {report.BUILD_METRIC})",
]
"""The main table's rows, in order, when every benchmark ran."""
WITH_TARGET = {
    "exhaustive search top-1",
    "pruned search top-1 (pca)",
    "thread scaling (search)",
    "scaling in tiles (exhaustive)",
    "scaling in cells (exhaustive)",
    f"full build (--metric {report.BUILD_METRIC})",
}
EXTRAPOLATED = {"tile descriptors", "exhaustive search top-1", "SSIM re-rank"}


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``text``, as dicts keyed by the header."""
    lines = next(block for block in text.split("\n\n") if block.startswith("| stage")).splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def bench(name: str, median: float, best: float | None = None, **info: object) -> dict:
    """One benchmark as pytest-benchmark writes it to its JSON file."""
    stats = {"median": median, "min": median if best is None else best, "rounds": 3}
    return {"name": name, "stats": stats, "extra_info": info}


def test_rows_from_known_timings(tmp_path: Path) -> None:
    size = {"cells": 6144, "tiles": 190_000, "dim": 75}
    search = {"stage": "search", **size}
    pruned = {"stage": "pruned", "cells": 6144, "tiles": 190_000, "shortlist": 200}
    scale = {"stage": "scale-tiles", "implementation": "exhaustive", "cells": 1000}
    optimal = {"stage": "optimal", "cells": 6144, "data": "photo crops"}
    benchmarks = [
        bench("peak", 2.0, 1.0, stage="peak", implementation="numpy", size=1, operations=1e11),
        bench("rust", 0.5, **search, implementation="rust"),
        bench("numpy", 2.0, **search, implementation="baseline"),
        bench("python", 0.1, **search, implementation="python", extrapolation=1000.0),
        bench("pruned", 0.6, **pruned, implementation="rust", recall=0.995, scanned=0.08),
        bench("kdtree", 1.2, **pruned, implementation="baseline", recall=0.995),
        bench("t1", 1.0, stage="threads", implementation="rust", threads=1, **size),
        bench("t2", 0.5, stage="threads", implementation="rust", threads=2, **size),
        bench("s1", 1.0, **scale, tiles=1000),
        bench("s2", 20.0, **scale, tiles=10_000),
        bench("opt", 1.5, **optimal, implementation="rust", tiles=10_000),
        bench("scipy", 73.0, **optimal, implementation="baseline", tiles=10_000),
        bench("opt190", 9.0, **optimal, implementation="rust", tiles=190_000, peak_mb=1100.0),
        bench("optbars", 1.2, **optimal, implementation="rust", tiles=10_000, bars=0.125),
        bench("scipybars", 60.0, **optimal, implementation="baseline", tiles=10_000, bars=0.125),
        bench("unlabelled", 1.0),
    ]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    measurements, _ = report.load_measurements(path)
    build = report.Build(9.0, 1600.0, 12.0, "96x64", 190_000, {"match": 1.0}, ["mosaicfast"])
    huge = report.Build(30.0, 400.0, 40.0, "96x64", 190_000, {}, ["mosaicfast"], (19200, 12800))
    rows = {row.stage: row for row in report.main_rows(report.Results(measurements), build, huge)}

    assert len(measurements) == 15
    # 19200 x 12800 RGB is 737 MB; a peak of 400 MB means the image was never held whole.
    assert rows["huge output (streamed TIFF)"].result == "PASS"
    assert rows["float32 peak: np.matmul (BLAS)"].gflops == "100.0 (peak)"
    searched = rows["exhaustive search top-1"]
    # 2 * 6144 * 190000 * 75 operations in 0.5 s: 350.2 GFLOP/s; at 100 GFLOP/s, 1.75 s.
    assert (searched.gflops, searched.vs_baseline) == ("350.2 (350%)", "4.00x")
    assert (searched.python, searched.vs_python) == ("~100.0 s (extrap.)", "200x")
    assert (searched.target, searched.result) == ("<= 1.5x floor: 0.29x", "PASS")
    assert rows["pruned search top-1 (pca)"].result == "FAIL"  # 0.6 s > 0.5 s
    assert rows["thread scaling (search)"].target == ">= 1.8x: 2.00x"
    assert rows["scaling in tiles (exhaustive)"].target == "spread <= 1.5x: 2.00x"
    assert rows["scaling in tiles (exhaustive)"].result == "FAIL"
    assert rows[STAGES[-1]].result == "FAIL"  # 1,600 MB > 1,500 MB
    optimal_rows = report.optimal_rows(report.Results(measurements))
    assert [row.size for row in optimal_rows] == [
        "6,144 x 10,000 photo crops, each tile once",
        "6,144 x 10,000 photo crops, targets letterboxed (0.125 of their height top and bottom), "
        "each tile once",
        "6,144 x 190,000 photo crops, each tile once",
    ]
    assert (optimal_rows[0].vs_baseline, optimal_rows[0].target) == ("48.7x", "<= 2 s: 1.50 s")
    assert optimal_rows[0].result == "PASS"
    # 9 s is within 10 s, but 1,100 MB is more than 1,000 MB.
    # A letterboxed row is beside its own SciPy run, without a target.
    assert (optimal_rows[1].vs_baseline, optimal_rows[1].target) == ("50.0x", "—")
    assert optimal_rows[2].mosaicfast == "9.00 s, peak RSS 1,100 MB"
    assert optimal_rows[2].result == "FAIL"

    # The README's rows: the largest size of each headline stage that ran, in order.
    headline = table_rows(report.headline_table(list(rows.values())))
    assert [row["stage"] for row in headline] == [
        "exhaustive search top-1",
        "pruned search top-1 (pca)",
        "optimal assignment",
        STAGES[-1],
        "huge output (streamed TIFF)",
    ]
    assert headline[0]["mosaicfast"] == "500.0 ms" and headline[0]["size"].endswith("190,000, d=75")


def test_the_docs_blocks_are_rewritten_between_their_markers(tmp_path: Path) -> None:
    begin, end = report.block_markers("report")
    page = tmp_path / "page.md"
    page.write_text(f"# Figures\n\nkept\n{begin}\nold figures\n{end}\nkept too\n")
    report.replace_block(page, "report", "\nnew figures\n\n")
    assert page.read_text() == f"# Figures\n\nkept\n{begin}\nnew figures\n{end}\nkept too\n"
    with pytest.raises(SystemExit, match="no headline block"):
        report.replace_block(page, "headline", "figures")
    # The files make bench writes hold their blocks.
    for path, name in [(report.DOCS, report.REPORT_BLOCK), (report.README, report.HEADLINE_BLOCK)]:
        begin, end = report.block_markers(name)
        text = path.read_text()
        assert 0 <= text.find(begin) < text.find(end), path


def test_docs_are_written_only_by_a_whole_full_size_run() -> None:
    assert report.parse_args(["--docs"]).docs
    for partial in (["--quick"], ["-k", "search"], ["--no-build"], ["--json", "b.json"]):
        with pytest.raises(SystemExit):
            report.parse_args(["--docs", *partial])


def test_kernel_table_from_known_timings(tmp_path: Path) -> None:
    size = {"stage": "kernel", "cells": 6144, "tiles": 10_000, "dim": 75}
    benchmarks = [
        bench("portable", 2.0, **size, implementation="portable", chosen=False),
        bench("avx512", 0.25, **size, implementation="avx512-vnni", chosen=True),
        bench("avx2", 0.5, **size, implementation="avx2", chosen=False),
    ]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    measurements, _ = report.load_measurements(path)
    header, *rows = report.kernel_table(report.Results(measurements))
    assert header[1:] == ["kernel", "median", "GFLOP/s", "time / chosen kernel"]
    # 2 * 6144 * 10000 * 75 = 9.216 GFLOP: 36.9 GFLOP/s in 0.25 s.
    assert rows == [
        ["6,144 x 10,000, d=75", "avx512-vnni (chosen)", "250.0 ms", "36.9", "1.00x"],
        ["6,144 x 10,000, d=75", "avx2", "500.0 ms", "18.4", "2.00x"],
        ["6,144 x 10,000, d=75", "portable", "2.00 s", "4.6", "8.00x"],
    ]


@pytest.mark.slow
def test_command_end_to_end_at_tiny_sizes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, str(Path(report.__file__)), "--sizes", "tiny", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    text = (out / "report.md").read_text()
    assert done.stdout == text
    rows = table_rows(text)
    assert [row["stage"] for row in rows] == STAGES
    peak, *stages = rows
    assert re.fullmatch(r"[\d.]+ \(peak\)", peak["GFLOP/s (% of peak)"])
    for row in stages:
        assert row["result"] in (("PASS", "FAIL") if row["stage"] in WITH_TARGET else ("—",))
        assert re.fullmatch(
            r"[\d.,]+ (µs|ms|s|min)(,? .*)?|[\d.]+-[\d.]+ ns per pair", row["mosaicfast"]
        )
        if row["stage"] in EXTRAPOLATED:
            assert row["pure Python"].startswith("~") and row["pure Python"].endswith("(extrap.)")
    search = rows[STAGES.index("exhaustive search top-1")]
    assert re.fullmatch(r"[\d.]+ \(\d+%\)", search["GFLOP/s (% of peak)"])
    assert search["size"] == "6,144 x 500, d=75"
    assert "scaling" in text and "| in cells | 100 " in text
    assert (out / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "mosaic.png").is_file()
    assert "[bench" in done.stderr
    kernels = text.split("## Search kernels", 1)[1]
    for kernel in _core.search_kernels():
        assert f"| {kernel}" in kernels
