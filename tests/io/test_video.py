"""Videos as tile sources. Every clip is generated here with PyAV (several codecs and
containers, a rotated one, a variable-frame-rate one, a truncated one, one with a fade
to black and a static stretch)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mosaicfast
from mosaicfast import Library, index_library
from mosaicfast.cli import main
from mosaicfast.io.video import SpliceOptions, SpliceStats, format_time, splice, square_boxes
from mosaicfast.library.indexer import IndexInterruptedError, _BatchWriter

from ..conftest import query

W, H = 96, 64
Frame = Callable[[float], np.ndarray]


def pattern(seed: int) -> np.ndarray:
    """A textured W x H picture, different for every seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((W, H), Image.Resampling.BICUBIC))


def per_second(t: float) -> np.ndarray:
    """A new picture every second."""
    return pattern(int(t))


def write_video(
    path: Path,
    seconds: float,
    frame: Frame = per_second,
    *,
    codec: str = "libx264",
    rate: int = 10,
    times: list[float] | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
    gop: int | None = None,
) -> Path:
    """Encode ``frame(t)`` at ``rate`` fps (or at the given ``times``) into ``path``, with
    a keyframe every ``gop`` frames if given."""
    times = times if times is not None else [i / rate for i in range(round(seconds * rate))]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for t in times:
            video_frame = av.VideoFrame.from_ndarray(frame(t), format="rgb24")
            video_frame.pts = round(t * 1000)
            video_frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def spliced(path: Path, options: SpliceOptions | None = None) -> tuple[list, SpliceStats]:
    stats = SpliceStats()
    frames = list(splice(path, None, options or SpliceOptions(), stats))
    return frames, stats


def close(a: np.ndarray, b: np.ndarray, tolerance: float = 12) -> bool:
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) < tolerance


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        (".mp4", "libx264"),
        (".mkv", "libx265"),
        (".webm", "libvpx-vp9"),
        (".avi", "mpeg4"),
        (".mov", "libx264"),
        (".mkv", "libsvtav1"),
    ],
)
def test_codecs_and_containers_give_one_sample_a_second(
    tmp_path: Path, suffix: str, codec: str
) -> None:
    path = write_video(tmp_path / f"clip{suffix}", 3, codec=codec)
    frames, stats = spliced(path)
    assert [round(f.time, 2) for f in frames] == [0.0, 1.0, 2.0]
    assert (stats.sampled, stats.kept, stats.error) == (3, 3, None)
    for frame in frames:
        left, right = frame.tiles
        assert left[1] == (0, 0, 64, 64) and right[1] == (32, 0, 96, 64)
        assert close(left[0], pattern(round(frame.time))[:, :64])
        assert close(right[0], pattern(round(frame.time))[:, 32:])


def test_crops_and_rate_options(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 2)
    frames, _ = spliced(path, SpliceOptions(fps=2, crops=1, static_difference=0))
    assert [f.time for f in frames] == [0.0, 0.5, 1.0, 1.5]
    assert [box for _, box in frames[0].tiles] == [(16, 0, 80, 64)]
    assert square_boxes(100, 40, 3) == [(0, 0, 40, 40), (30, 0, 70, 40), (60, 0, 100, 40)]
    assert square_boxes(40, 100, 2) == [(0, 0, 40, 40), (0, 60, 40, 100)]


def test_rotation_metadata_is_honoured(tmp_path: Path) -> None:
    def marked(t: float) -> np.ndarray:
        picture = np.zeros((H, W, 3), np.uint8) + 40
        picture[:16, :16] = (255, 0, 0)  # top left of the stored frame
        picture[-16:, -16:] = (0, 0, 255)  # bottom right
        return picture

    path = write_video(tmp_path / "phone.mp4", 1, marked, rotation=90, rate=5)
    frames, _ = spliced(path, SpliceOptions(flat_variance=0))
    top, bottom = frames[0].tiles
    # Shown upright the frame is portrait, W wide... turned a quarter counter-clockwise:
    assert top[1] == (0, 0, 64, 64) and bottom[1] == (0, 32, 64, 96)
    # the stored top-left corner is now bottom-left, the bottom-right corner top-right.
    assert top[0][:12, -12:, 2].mean() > 150 and top[0][:12, -12:, 0].mean() < 100
    assert bottom[0][-12:, :12, 0].mean() > 150 and bottom[0][-12:, :12, 2].mean() < 100


def test_variable_frame_rate_samples_by_presentation_time(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.15, 0.9, 1.05, 1.6, 2.2, 2.9, 3.4]
    path = write_video(
        tmp_path / "vfr.mkv", 0, lambda t: pattern(int(t * 100)), times=times, rate=100
    )
    frames, stats = spliced(path, SpliceOptions(static_difference=0))
    assert [round(f.time, 3) for f in frames] == [0.0, 1.05, 2.2, 3.4]
    assert stats.sampled == 4


def test_fades_and_static_shots_are_skipped_and_counted(tmp_path: Path) -> None:
    def story(t: float) -> np.ndarray:
        if 2 <= t < 4:
            return np.zeros((H, W, 3), np.uint8)  # fade to black
        if 4 <= t < 7:
            return pattern(4)  # a static shot
        return pattern(int(t))

    path = write_video(tmp_path / "story.mp4", 8, story)
    frames, stats = spliced(path)
    assert [round(f.time) for f in frames] == [0, 1, 4, 7]
    assert (stats.sampled, stats.flat, stats.static, stats.kept) == (8, 2, 2, 4)
    frames, stats = spliced(path, SpliceOptions(flat_variance=0, static_difference=0))
    assert stats.kept == 8


def test_a_truncated_video_keeps_the_tiles_before_the_damage(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cut.mkv", 8)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    frames, stats = spliced(path)
    assert 2 <= len(frames) <= 6
    assert [round(f.time) for f in frames] == list(range(len(frames)))
    assert stats.error is not None and ("truncated" in stats.error or "damaged" in stats.error)


def test_unreadable_videos_are_reported(tmp_path: Path) -> None:
    (tmp_path / "fake.mp4").write_bytes(b"\x00\x00\x00 not a video at all" * 50)
    with av.open(str(tmp_path / "sound.mkv"), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
    write_video(tmp_path / "good.mp4", 2)
    report = index_library(tmp_path / "lib", [tmp_path])
    reasons = {p.name: r for p, r in report.skipped}
    assert "not a video file" in reasons["fake.mp4"]
    assert reasons["sound.mkv"] == "the file has no video stream"
    assert report.tiles_added == 4 and report.failed == 2


def test_index_records_provenance_and_the_manifest_shows_it(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "clip.mp4", 3)
    Image.fromarray(pattern(99)).save(videos / "photo.png")
    report = index_library(tmp_path / "lib", [videos])
    assert (report.videos, report.frames_sampled, report.tiles_added) == (1, 3, 7)
    with Library.open(tmp_path / "lib") as lib:
        rows = query(
            lib,
            "SELECT s.kind, t.frame_time, t.left FROM tiles t JOIN sources s ON s.id = t.source_id"
            " ORDER BY t.id",
        )
    assert rows[0] == ("image", None, 16)
    assert [(kind, time, left) for kind, time, left in rows[1:]] == [
        ("video", 0.0, 0), ("video", 0.0, 32), ("video", 1.0, 0),
        ("video", 1.0, 32), ("video", 2.0, 0), ("video", 2.0, 32),
    ]  # fmt: skip
    mosaic = mosaicfast.build(
        Image.fromarray(pattern(1)), library=tmp_path / "lib", cols=6, tile_size=16, min_distance=0
    )
    manifest = json.loads(mosaic.write_manifest(tmp_path / "m.json").read_text())["cells"]
    sources = {cell["source"] for cell in manifest}
    assert any(s.endswith("clip.mp4@00:00:01") for s in sources), sources
    video_cell = next(c for c in manifest if "@" in c["source"])
    assert video_cell["time"] in (0.0, 1.0, 2.0)


def test_large_video_tiles_render_from_the_video(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.mp4", 3)
    index_library(tmp_path / "lib", [tmp_path / "clip.mp4"], thumb_size=32)
    mosaic = mosaicfast.build(
        Image.fromarray(pattern(2)[:, :64]), library=tmp_path / "lib", cols=1, tile_size=64
    )
    tile = mosaic.sources[int(mosaic.assignment[0, 0])]
    assert tile.time == 2.0 and tile.box == (0, 0, 64, 64)
    assert close(np.asarray(mosaic.image), pattern(2)[:, :64])


def test_finished_videos_are_not_read_again_and_interrupted_ones_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "long.mp4", 12)
    clean = index_library(tmp_path / "clean", [videos])

    real_add = _BatchWriter.add
    seen = {"frames": 0}

    def interrupt_after_five_frames(self: _BatchWriter, entry: object) -> None:
        real_add(self, entry)  # type: ignore[arg-type]
        seen["frames"] += 1
        if seen["frames"] == 5:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_BatchWriter, "add", interrupt_after_five_frames)
    with pytest.raises(IndexInterruptedError):
        index_library(tmp_path / "lib", [videos])
    monkeypatch.setattr(_BatchWriter, "add", real_add)
    with Library.open(tmp_path / "lib") as lib:
        assert query(lib, "SELECT status, done_until FROM sources") == [("partial", 4.0)]
    resumed = index_library(tmp_path / "lib", [videos])
    assert resumed.frames_sampled == 12 - 5

    def times(library: Path) -> list[tuple[float, int]]:
        with Library.open(library) as lib:
            return query(lib, "SELECT frame_time, left FROM tiles ORDER BY frame_time, left")

    assert times(tmp_path / "lib") == times(tmp_path / "clean")
    assert len(times(tmp_path / "lib")) == clean.tiles_added == 24
    again = index_library(tmp_path / "lib", [videos])
    assert (again.unchanged, again.frames_sampled, again.tiles_added) == (1, 0, 0)


def test_splice_command_writes_tile_images(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 2)
    out = tmp_path / "tiles"
    result = CliRunner().invoke(main, ["splice", str(video), "-o", str(out), "--size", "32"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "clip_00h00m00s_0.jpg", "clip_00h00m00s_1.jpg",
        "clip_00h00m01s_0.jpg", "clip_00h00m01s_1.jpg",
    ]  # fmt: skip
    with Image.open(out / names[2]) as tile:
        assert tile.size == (32, 32)
        expected = Image.fromarray(pattern(1)[:, :64]).resize((32, 32))
        assert close(np.asarray(tile), np.asarray(expected), 16)
    assert "4 tiles from 2 frames" in result.output
    result = CliRunner().invoke(main, ["splice", str(tmp_path / "none.mp4"), "-o", str(out)])
    assert result.exit_code == 1 and "none.mp4" in result.output


def test_format_time() -> None:
    assert format_time(0) == "00:00:00"
    assert format_time(751.0) == "00:12:31"
    assert format_time(3600 * 2 + 5.5) == "02:00:05.5"


def test_the_index_command_takes_the_video_options(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 3)
    counts = {}
    for name, options in (("default", []), ("dense", ["--fps", "2", "--crops", "3"])):
        library = tmp_path / name
        args = ["index", str(video), "--library", str(library), "--static-difference", "0"]
        result = CliRunner().invoke(main, [*args, *options])
        assert result.exit_code == 0, result.output
        with Library.open(library) as lib:
            counts[name] = len(query(lib, "SELECT id FROM tiles"))
    # 3 frames x 2 squares by default; 6 frames (twice a second) x 3 squares.
    assert counts == {"default": 6, "dense": 18}
