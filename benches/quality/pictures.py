"""Before/after pictures of the quality benchmark for ``docs/quality.md``.

    .venv/bin/python benches/quality/run.py --targets china,grace_hopper \\
        --configs classic,mf-lab-div,mf-div,mf-div-blend --save
    .venv/bin/python benches/quality/pictures.py china grace_hopper

For each target: one row of whole pictures seen from afar (the target, then each
setting's mosaic reduced to the same width) and one row of the same detail at full
size, where the tiles show; written to ``docs/images/quality-<target>.jpg``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dataset import DATA
from PIL import Image, ImageDraw

SETTINGS = {"classic": "classic tool", "mf-lab-div": "before (lab 5x5)",
            "mf-div": "after, untouched", "mf-div-blend": "after, blend 0.5"}  # fmt: skip
#: ``--set adaptive`` (run.py ``--configs adaptive --save``): plain grid against adaptive
#: cells, written to ``docs/images/adaptive-<target>.jpg``.
ADAPTIVE = {"mf-div": "plain grid", "mf-adaptive": "adaptive", "mf-div-blend": "plain, blend 0.5",
            "mf-adaptive-blend": "adaptive, blend 0.5"}  # fmt: skip
#: ``--set rotate`` (run.py ``--configs rotate --save``): the mirror alone against quarter
#: turns too, written to ``docs/images/rotate-<target>.jpg``.
ROTATE = {"classic": "classic tool", "mf-div": "mirror (default)", "mf-div-rotate": "--rotate",
          "mf-div-rotate-blend": "--rotate, blend 0.5"}  # fmt: skip
SETS = {"quality": SETTINGS, "adaptive": ADAPTIVE, "rotate": ROTATE}
WIDTH = 236
GAP = 4
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


def picture(
    target: str, detail: tuple[float, float], settings: dict[str, str] = SETTINGS
) -> Image.Image:
    """The two rows of ``target``: afar, and a detail centred at ``detail`` (fractions
    of the width and height) 10 tiles wide."""
    images = [Image.open(DATA / "targets" / f"{target}.png").convert("RGB")]
    images += [Image.open(DATA / "mosaics" / f"{target}-{s}.jpg") for s in settings]
    labels = ["target", *settings.values()]
    big = images[1].size
    images[0] = images[0].resize(big, Image.Resampling.LANCZOS)
    height = round(WIDTH * big[1] / big[0])
    side = 500  # 10 tiles of 50 px
    left = min(big[0] - side, max(0, round(detail[0] * big[0]) - side // 2))
    top = min(big[1] - side, max(0, round(detail[1] * big[1]) - side // 2))
    box = (left, top, left + side, top + side)
    sheet = Image.new("RGB", (len(images) * (WIDTH + GAP) - GAP, height + WIDTH + 16 + GAP),
                      "white")  # fmt: skip
    draw = ImageDraw.Draw(sheet)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        x = i * (WIDTH + GAP)
        draw.text((x + 2, 2), label, fill="black")
        sheet.paste(image.resize((WIDTH, height), Image.Resampling.BOX), (x, 16))
        crop = image.crop(box).resize((WIDTH, WIDTH), Image.Resampling.LANCZOS)
        sheet.paste(crop, (x, 16 + height + GAP))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--detail", default="0.5,0.3", help="centre of the detail, x,y")
    parser.add_argument("--set", default="quality", choices=list(SETS), help="which settings")
    args = parser.parse_args()
    x, y = (float(v) for v in args.detail.split(","))
    for target in args.targets:
        out = DOCS / f"{args.set}-{target}.jpg"
        picture(target, (x, y), SETS[args.set]).save(out, quality=82)
        print(out, f"{out.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
