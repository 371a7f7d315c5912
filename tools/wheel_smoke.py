"""Smoke test of an installed mosaicfast: every command once, on data made here.

Run by ``tools/wheel_check.sh`` with the Python of a fresh venv holding the wheel and its
dependencies only (no Rust, no test tools). It works in the current folder: generates 40
photos, one unreadable file, a target and a 4-second video, then runs ``--version``,
``splice``, ``index``, ``library info``, ``library verify``, ``build`` (from the library on
every search kernel this CPU runs: the same bytes each time; and from a folder),
``evaluate``, ``report`` (the viewer's files come from the wheel), and a build of a missing
file (a one-line error). Exit status 0 when every step does what it should; each step prints
one line, and the last line counts them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

import mosaicfast
from mosaicfast import _core

HERE = Path.cwd()
COLS, TILE = 12, 16


PASSED: list[str] = []


def finish(failed: int) -> None:
    """Print the closing count line and exit with the verdict."""
    print(f"wheel: {len(PASSED)} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def step(name: str, ok: bool, detail: str) -> None:
    """Print the step's verdict; stop at the first failure."""
    print(f"{'ok' if ok else 'FAIL'}: {name}: {detail}", flush=True)
    if not ok:
        finish(1)
    PASSED.append(name)


def mosaicfast_command(*args: str | Path, env: dict[str, str] | None = None) -> str:
    """Run the installed ``mosaicfast`` command; its output (a failure if it fails)."""
    command = [str(Path(sys.executable).with_name("mosaicfast")), *map(str, args)]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if done.returncode != 0:
        step(" ".join(command[1:]), False, f"exit {done.returncode}\n{done.stderr}")
    return done.stdout + done.stderr


def picture(seed: int, width: int, height: int) -> Image.Image:
    """A smooth random picture, different for every seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)


def make_photos(folder: Path) -> None:
    """40 photos (JPEG and PNG) and one file that is no image."""
    folder.mkdir()
    for i in range(40):
        picture(i, 80 + i, 60).save(folder / f"photo{i:02d}.{'png' if i % 4 == 0 else 'jpg'}")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a JPEG")


def make_video(path: Path, seconds: int = 4, rate: int = 10) -> None:
    """A 64 x 48 H.264 clip showing a new picture every second."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(seconds * rate):
            frame = av.VideoFrame.from_ndarray(
                np.asarray(picture(100 + i // rate, 64, 48)), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    installed = Path(mosaicfast.__file__).resolve()
    step("installed", Path(sys.prefix).resolve() in installed.parents, str(installed))
    os.environ["MOSAICFAST_CACHE_DIR"] = str(HERE / "cache")
    kernels = _core.search_kernels()

    version = mosaicfast_command("--version").splitlines()
    step(
        "--version",
        version[0] == f"mosaicfast {mosaicfast.__version__}"
        and version[1].startswith(f"search kernel: {kernels[-1]} ")
        and version[2] == "core build: release",
        " | ".join(version),
    )

    make_photos(HERE / "photos")
    picture(999, 120, 80).save(HERE / "target.jpg")
    make_video(HERE / "clip.mp4")

    mosaicfast_command("splice", "clip.mp4", "-o", "frames", "-q")
    frames = sorted((HERE / "frames").iterdir())
    step("splice", len(frames) >= 4, f"{len(frames)} tile images from a 4-second clip")

    said = mosaicfast_command("index", "photos", "frames", "clip.mp4", "--library", "lib")
    step("index", "broken.jpg" in said, f"skipped the broken file: {said.strip().splitlines()[-1]}")

    info = mosaicfast_command("library", "info", "lib")
    tiles = re.search(r"^tiles: +(\d+) ", info, re.MULTILINE)
    head = " | ".join(info.splitlines()[:3])
    step("library info", tiles is not None and int(tiles[1]) >= 40, head)

    verify = mosaicfast_command("library", "verify", "lib").strip()
    step("library verify", verify.endswith("lib: consistent"), verify.splitlines()[-1])

    outputs = []
    for kernel in kernels:
        out = HERE / f"mosaic-{kernel}.png"
        mosaicfast_command(
            "build", "target.jpg", "--library", "lib", "-o", out, "--cols", COLS,
            "--tile-size", TILE, "--manifest", "cells.json", "-q",
            env={_core.KERNEL_VAR: kernel},
        )  # fmt: skip
        outputs.append(out.read_bytes())
    with Image.open(out) as image:
        size = image.size
    step(
        "build --library",
        size == (COLS * TILE, COLS * TILE * 2 // 3) and len(set(outputs)) == 1,
        f"{size[0]} x {size[1]}, the same bytes on kernels {', '.join(kernels)}",
    )

    mosaicfast_command("build", "target.jpg", "--tiles", "photos", "-o", "folder.jpg", "-q")
    step("build --tiles", (HERE / "folder.jpg").stat().st_size > 0, "folder.jpg written")

    evaluated = mosaicfast_command(
        "evaluate", "target.jpg", f"mosaic-{kernels[-1]}.png", "--manifest", "cells.json"
    )
    cells = len(json.loads((HERE / "cells.json").read_text())["cells"])
    step("evaluate", "SSIM" in evaluated, f"{cells} cells: {' '.join(evaluated.split())[:120]}")

    mosaicfast_command("report", "cells.json", "-o", "report", "-q")
    shipped = [HERE / "report" / name for name in ("index.html", "viewer.js", "viewer.css")]
    step(
        "report",
        all(p.stat().st_size > 500 for p in shipped) and (HERE / "report/mosaic.dzi").exists(),
        "report/index.html and the viewer's files, shipped in the wheel, copied in",
    )

    command = [str(Path(sys.executable).with_name("mosaicfast")), "build", "missing.jpg"]
    done = subprocess.run(
        [*command, "--library", "lib", "-o", "x.png"], capture_output=True, text=True, check=False
    )
    lines = done.stderr.strip().splitlines()
    step(
        "a missing target",
        done.returncode in (1, 2) and len(lines) == 1 and lines[0].startswith("Error:"),
        f"exit {done.returncode}: {done.stderr.strip()}",
    )


if __name__ == "__main__":
    main()
    finish(0)
