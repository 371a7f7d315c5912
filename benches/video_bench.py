"""Video splicing throughput: seconds of 1080p30 H.264 video cut into tiles per second.

``.venv/bin/python benches/video_bench.py [--seconds 60] [--data .bench/video]``

Makes (once) a 1080p 30 fps H.264 clip with B-frames (x264, preset ``faster``:
the frame structure of ordinary camera and web video) of moving, textured
content, then measures, each best of 3, on the same clip:

* **full decode**: every frame decoded on FFmpeg's threads and discarded, the
  cost of decode-and-discard;
* **splice**: :func:`mosaicfast.io.video.splice` at 1 frame per second, 2 crops,
  64-px tiles (what ``mosaicfast index`` does), reported as a multiple of real
  time; the target is at least 10x.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from mosaicfast.io.video import SpliceOptions, SpliceStats, splice

WIDTH, HEIGHT, RATE = 1920, 1080, 30


def make_clip(path: Path, seconds: int) -> None:
    """Encode a textured, panning 1080p30 clip with B-frames."""
    rng = np.random.default_rng(0)
    base = np.asarray(
        Image.fromarray(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)).resize(
            (WIDTH + 64 * seconds, HEIGHT), Image.Resampling.BICUBIC
        )
    )
    texture = rng.integers(-12, 13, (HEIGHT, WIDTH, 1), dtype=np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE, options={"preset": "faster"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(seconds * RATE):
            shift = i * 64 // RATE
            pixels = np.clip(base[:, shift : shift + WIDTH] + texture, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def best_of(runs: int, work: Callable[[], object]) -> float:
    """Fastest wall time of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def full_decode(path: Path) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass


def splice_clip(path: Path) -> SpliceStats:
    stats = SpliceStats()
    for _ in splice(path, 64, SpliceOptions(), stats):
        pass
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="clip length")
    parser.add_argument("--data", type=Path, default=Path(".bench/video"))
    args = parser.parse_args()
    clip = args.data / f"clip-{args.seconds}s-1080p30.mp4"
    if not clip.exists():
        start = time.perf_counter()
        make_clip(clip, args.seconds)
        print(f"made {clip} in {time.perf_counter() - start:.0f}s")
    decode = best_of(3, lambda: full_decode(clip))
    stats = splice_clip(clip)
    cut = best_of(3, lambda: splice_clip(clip))
    print(f"clip: {args.seconds} s of {WIDTH}x{HEIGHT} at {RATE} fps, H.264 with B-frames")
    print(f"{'stage':<34} {'seconds':>8} {'x real time':>12}")
    print(f"{'full decode (decode and discard)':<34} {decode:8.2f} {args.seconds / decode:11.1f}x")
    print(f"{'splice 1 fps, 2 crops, 64-px tiles':<34} {cut:8.2f} {args.seconds / cut:11.1f}x")
    print(f"sampled {stats.sampled} frames, kept {stats.kept}; target >= 10x real time")


if __name__ == "__main__":
    main()
