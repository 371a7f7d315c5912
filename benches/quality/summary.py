"""Tables of the quality benchmark's results, each setting against the classic tool.

    .venv/bin/python benches/quality/summary.py                  # every setting measured
    .venv/bin/python benches/quality/summary.py --configs R0,L8ab4-W.5-p0 --long

Reads ``.bench/quality/results.jsonl`` (the last row of each target and setting) and
prints, per setting, the mean and worst difference to the classic tool's SSIM and
CIEDE2000 over the targets and how many targets meet issue 14's bars: item 1 (SSIM at
least the classic tool's and CIEDE2000 no worse) and item 2 (SSIM at least 0.05 above
and CIEDE2000 at least 2 units better). ``--long`` adds one row per target and setting,
with the diversity of the textured tiles alone (flat tiles left out, see ``run.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from dataset import LIBRARY_NAMES, data_folder

ITEM2_SSIM = 0.05
ITEM2_DELTA_E = 2.0


def latest(path: Path) -> dict[tuple[str, str], dict]:
    """The last row of every ``(target, config)`` in the results file."""
    rows: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        rows[row["target"], row["config"]] = row
    return rows


def summary(rows: dict[tuple[str, str], dict], configs: list[str]) -> str:
    """One line per setting: its figures relative to the classic tool's on each target."""
    lines = [
        "| setting | targets | SSIM - classic: mean (worst) | ΔE2000 - classic: mean (worst) "
        "| item 1 met | item 2 met | max uses (most) | adjacent dupes (most) | match s (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        pairs = [
            (row, rows[target, "classic"])
            for (target, name), row in rows.items()
            if name == config and (target, "classic") in rows
        ]
        if not pairs:
            continue
        d_ssim = [row["ssim"] - base["ssim"] for row, base in pairs]
        d_de = [row["delta_e"] - base["delta_e"] for row, base in pairs]
        item1 = sum(s >= 0 and e <= 0 for s, e in zip(d_ssim, d_de, strict=True))
        item2 = sum(
            s >= ITEM2_SSIM and e <= -ITEM2_DELTA_E for s, e in zip(d_ssim, d_de, strict=True)
        )
        lines.append(
            f"| {config} | {len(pairs)} | {statistics.mean(d_ssim):+.3f} ({min(d_ssim):+.3f}) "
            f"| {statistics.mean(d_de):+.2f} ({max(d_de):+.2f}) | {item1}/{len(pairs)} "
            f"| {item2}/{len(pairs)} | {max(r['max_uses'] for r, _ in pairs):,} "
            f"| {max(r['adjacent'] for r, _ in pairs):.1%} "
            f"| {statistics.median(r['match_s'] for r, _ in pairs):.2f} |"
        )
    return "\n".join(lines)


def long_table(rows: dict[tuple[str, str], dict], configs: list[str]) -> str:
    """One line per target and setting."""
    lines = [
        "| target | setting | SSIM | ΔE2000 | distinct | max uses | adjacent dupes "
        "| textured: max uses, adjacent | match s | render s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target in dict.fromkeys(target for target, _ in rows):
        for config in configs:
            row = rows.get((target, config))
            if row is None:
                continue
            lines.append(
                f"| {target} | {config} | {row['ssim']:.3f} | {row['delta_e']:.2f} "
                f"| {row['distinct']:,} | {row['max_uses']:,} | {row['adjacent']:.1%} "
                f"| {_textured(row)} | {row['match_s']:.2f} | {row['render_s']:.2f} |"
            )
    return "\n".join(lines)


def _textured(row: dict) -> str:
    if "textured_max_uses" not in row:
        return "—"
    return f"{row['textured_max_uses']:,}, {row['textured_adjacent']:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="", help="comma-separated names (default: all)")
    parser.add_argument("--long", action="store_true", help="a row per target and setting")
    parser.add_argument("--library", choices=LIBRARY_NAMES, default="standard",
                        help="the tile library whose results to read")  # fmt: skip
    parser.add_argument("--results", type=Path, help="default: results.jsonl of --library")
    args = parser.parse_args()
    rows = latest(args.results or data_folder(args.library) / "results.jsonl")
    configs = args.configs.split(",") if args.configs else list(dict.fromkeys(c for _, c in rows))
    print(summary(rows, configs))
    if args.long:
        print()
        print(long_table(rows, configs))


if __name__ == "__main__":
    main()
