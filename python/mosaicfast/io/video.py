"""Cutting videos into square tiles: a few frames per second, several squares a frame.

Frames are sampled by presentation time (so variable-frame-rate video works):
for each sampling instant ``start, start + 1/fps, ...`` the first frame at or
after it is taken. Decoding uses FFmpeg's own threads and skips non-reference
frames (which no other frame needs) except shortly before each instant, so the
frame taken is the same as with full decoding, for much less work. Only sampled
frames are converted to RGB. The rotation stored in the file is applied.

Useless frames are skipped and counted: *flat* ones (fades to black, plain
cards: luminance variance below a threshold) and *static* ones (nearly the same
as the previous frame kept: mean absolute luminance difference below a
threshold).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.fields import check_fields, integer, real
from ..errors import ImageReadError
from ._atomic import atomic_path
from .images import Box

if TYPE_CHECKING:
    import av
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = [
    "VIDEO_SUFFIXES",
    "FrameTiles",
    "SpliceOptions",
    "SpliceStats",
    "StaticFilter",
    "format_time",
    "load_video_square",
    "splice",
    "splice_to_folder",
    "square_boxes",
    "video_duration",
]


def _av() -> ModuleType:
    """PyAV, imported on first use: loading FFmpeg takes ~0.1 s that runs without
    videos do not need."""
    import av

    return av


VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wmv"}
)
SkipMode = Literal["DEFAULT", "NONREF"]

#: Side of the grey thumbnail the flat and static tests look at.
_PROBE = 32
#: Seconds before each sampling instant in which every frame is decoded; covers the
#: frames in flight in FFmpeg's decoding threads and B-frame reordering.
_FULL_DECODE_WINDOW = 0.35


@dataclass(frozen=True)
class SpliceOptions:
    """How a video is cut into tiles; each option's default, range and help is defined
    here once, and the ``index`` and ``splice`` commands make their flags from it.

    Attributes
    ----------
    fps : float
        Frames sampled per second of video.
    crops : int
        Squares cut from each frame: 1 is the centre square; 2 the left and right
        squares of a landscape frame (top and bottom of a portrait one); more are
        spread evenly along the long side.
    flat_variance : float
        Frames whose luminance variance (0-255 scale) is below this are skipped as
        flat (fades, black, plain cards); 0 keeps them.
    static_difference : float
        Frames whose mean absolute luminance difference from the previous kept frame
        is below this are skipped as static; 0 keeps them.
    """

    fps: float = real(
        1.0, "Video frames sampled per second (by presentation time).",
        low=0, open_low=True, metavar="F",
    )  # fmt: skip
    crops: int = integer(
        2, "Squares cut from each frame: 1 the centre, 2 left and right (top and bottom of "
        "a portrait video), more spread along the long side.", low=1, metavar="N",
    )  # fmt: skip
    flat_variance: float = real(
        20.0, "Skip frames whose luminance variance is below this (fades, black, plain "
        "cards); 0 keeps them.", low=0, metavar="V",
    )  # fmt: skip
    static_difference: float = real(
        2.0, "Skip frames whose mean luminance difference (0-255) from the previous kept "
        "frame is below this (static shots); 0 keeps them.", low=0, metavar="D",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)  # MosaicfastError (a ValueError) naming the option


@dataclass
class FrameTiles:
    """The tiles of one sampled frame: pixels at the requested size and crop boxes
    in the upright frame's pixels, and the grey probe the static test compares."""

    time: float
    tiles: list[tuple[NDArray[np.uint8], Box]]
    probe: NDArray[np.float32] | None = None


@dataclass
class SpliceStats:
    """What splicing one video found."""

    duration: float | None = None
    sampled: int = 0
    flat: int = 0
    static: int = 0
    kept: int = 0
    last_time: float | None = None
    decoded_until: float | None = None
    error: str | None = None


def format_time(seconds: float) -> str:
    """``HH:MM:SS`` (with tenths when not whole), as shown in manifests."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    tenths = round((seconds - whole) * 10)
    return text if tenths in (0, 10) else f"{text}.{tenths}"


def square_boxes(width: int, height: int, crops: int) -> list[Box]:
    """``crops`` squares of the short side, spread evenly along the long side."""
    side = min(width, height)
    span = max(width, height) - side
    # One crop: the centre; several: from one end to the other.
    offsets = [span // 2] if crops == 1 else [round(i * span / (crops - 1)) for i in range(crops)]
    if width >= height:
        return [(x, 0, x + side, side) for x in offsets]
    return [(0, y, side, y + side) for y in offsets]


@contextmanager
def _open_video(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open a video's first video stream for threaded decoding, or ImageReadError."""
    try:
        container = _av().open(str(path))
    except (_av().FFmpegError, OSError) as err:
        raise ImageReadError(path, f"not a video file FFmpeg can read ({_reason(err)})") from err
    with container:
        if not container.streams.video:
            raise ImageReadError(path, "the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield container, stream


def _seek(container: InputContainer, stream: VideoStream, time: float) -> None:
    """Seek to the keyframe at or before ``time`` (decoding then goes forward)."""
    if time > 0 and stream.time_base is not None:
        container.seek(int(time / stream.time_base), stream=stream, backward=True)


def splice(
    path: str | Path,
    size: int | None,
    options: SpliceOptions,
    stats: SpliceStats,
    *,
    start: float = 0.0,
    end: float | None = None,
    on_time: Callable[[float], None] | None = None,
) -> Iterator[FrameTiles]:
    """Yield the tiles of the sampled frames of a video, in time order.

    Parameters
    ----------
    path : str or Path
        The video file.
    size : int or None
        Side of each tile in pixels; None keeps the squares at full resolution.
    options : SpliceOptions
        Sampling rate, crops and skipping thresholds.
    stats : SpliceStats
        Filled in as the video is read: counts, duration, the time reached, and
        the error that ended it early, if any. A damaged file yields the tiles
        before the damage and records the error instead of raising.
    start : float
        Sample only at or after this time (to resume an interrupted video).
    end : float, optional
        Stop once the next sampling instant is at or after this time (to cut a video
        into time ranges read apart, see :mod:`mosaicfast.library.cluster`); the frame taken
        for the last instant before ``end`` may lie after it. The check for a
        truncated file is made only without ``end``.
    on_time : callable, optional
        Told the time of every decoded frame (for progress bars).

    Raises
    ------
    ImageReadError
        If the file cannot be opened as a video at all, or has no video stream.
    """
    path = Path(path)
    with _open_video(path) as (container, stream):
        stats.duration = _duration(container, stream)
        _seek(container, stream, start)
        sampler = _Sampler(options, stats, size, start, on_time)
        try:
            for packet in container.demux(stream):
                stream.codec_context.skip_frame = sampler.skip_mode(packet)
                for frame in packet.decode():
                    tiles = sampler.take(frame)
                    if tiles is not None:
                        yield tiles
                    if end is not None and sampler.due >= end - 1e-6:
                        return
        except _av().FFmpegError as err:
            reached = format_time(stats.decoded_until or start)
            stats.error = f"video data damaged after {reached} ({_reason(err)})"
            return
        _check_complete(stats, stream)


class _Sampler:
    """Picks the frames to keep as they are decoded, and says which frames to decode."""

    def __init__(
        self,
        options: SpliceOptions,
        stats: SpliceStats,
        size: int | None,
        start: float,
        on_time: Callable[[float], None] | None,
    ) -> None:
        self.options, self.stats, self.size, self.on_time = options, stats, size, on_time
        self.step = 1.0 / options.fps
        self.due = start
        self.static = StaticFilter(options.static_difference)

    def skip_mode(self, packet: av.Packet) -> SkipMode:
        """Decode every frame shortly before a sampling instant, else only reference frames.

        Non-reference frames are needed by no other frame, so skipping them far from
        an instant saves time without changing which frame is sampled.
        """
        if packet.pts is None or packet.time_base is None:
            return "DEFAULT"
        at = float(packet.pts * packet.time_base)
        return "DEFAULT" if at >= self.due - _FULL_DECODE_WINDOW else "NONREF"

    def take(self, frame: av.VideoFrame) -> FrameTiles | None:
        """The tiles of ``frame`` if it is the one sampled for the next instant and useful."""
        stats, options = self.stats, self.options
        if frame.time is None:
            return None
        stats.decoded_until = frame.time
        if frame.time < self.due - 1e-6:
            return None
        if self.on_time is not None:
            self.on_time(frame.time)
        stats.sampled += 1
        stats.last_time = frame.time
        self.due = _next_instant(self.due, frame.time, self.step)
        rgb = _upright(_rgb(frame), frame.rotation)
        probe = _grey_probe(rgb)
        if probe.var() < options.flat_variance:
            stats.flat += 1
            return None
        if self.static.is_static(probe):
            stats.static += 1
            return None
        stats.kept += 1
        return FrameTiles(frame.time, _cut(rgb, options.crops, self.size), probe)


class StaticFilter:
    """Tells static frames: those whose mean absolute difference from the previous
    frame kept is below ``threshold`` (0 keeps every frame)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.previous: NDArray[np.float32] | None = None

    def is_static(self, probe: NDArray[np.float32]) -> bool:
        """Whether the frame of ``probe`` is static; if not, it becomes the one kept."""
        previous = self.previous
        if previous is not None and np.abs(probe - previous).mean() < self.threshold:
            return True
        self.previous = probe
        return False


def video_duration(path: str | Path) -> float | None:
    """A video's declared duration in seconds, if it declares one (reads the header only).

    Raises
    ------
    ImageReadError
        If the file cannot be opened as a video, or has no video stream.
    """
    with _open_video(Path(path)) as (container, stream):
        return _duration(container, stream)


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    """The video stream's duration in seconds (else the container's), if declared."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / _av().time_base
    return None


def _check_complete(stats: SpliceStats, stream: VideoStream) -> None:
    """Record an error if the frames stop well before the declared duration.

    FFmpeg often ends a cut-off file quietly; a stream that stops more than a second
    (or two frames) short of its declared duration was truncated or damaged.
    """
    if stats.duration is None or stats.decoded_until is None:
        return
    rate = float(stream.average_rate) if stream.average_rate else 0.0
    slack = max(1.0, 2.0 / rate) if rate > 0 else 1.0
    if stats.decoded_until < stats.duration - slack:
        stats.error = (
            f"video ends at {format_time(stats.decoded_until)} of a declared "
            f"{format_time(stats.duration)} (truncated or damaged)"
        )


def _next_instant(due: float, taken: float, step: float) -> float:
    """The first sampling instant after the frame at ``taken``."""
    skipped = math.floor((taken - due) / step + 1e-9) + 1
    return due + skipped * step


def _rgb(frame: av.VideoFrame) -> NDArray[np.uint8]:
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def _upright(rgb: NDArray[np.uint8], rotation: float) -> NDArray[np.uint8]:
    """Apply the display rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    quarter_turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def _grey_probe(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    small = Image.fromarray(rgb).convert("L").resize((_PROBE, _PROBE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def _square(image: Image.Image, box: Box, size: int | None) -> NDArray[np.uint8]:
    square = image.crop(box)
    if size is not None and square.width != size:
        square = square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(square, dtype=np.uint8)


def _cut(rgb: NDArray[np.uint8], crops: int, size: int | None) -> list[tuple[NDArray, Box]]:
    height, width = rgb.shape[:2]
    image = Image.fromarray(rgb)
    return [(_square(image, box, size), box) for box in square_boxes(width, height, crops)]


def load_video_square(path: str | Path, time: float, box: Box, size: int) -> NDArray[np.uint8]:
    """The square ``box`` of the frame shown at ``time``, at ``size x size`` pixels.

    Raises
    ------
    ImageReadError
        If the video cannot be read or has no frame at that time.
    """
    path = Path(path)
    with _open_video(path) as (container, stream):
        _seek(container, stream, time)
        try:
            for frame in container.decode(stream):
                if frame.time is not None and frame.time >= time - 1e-3:
                    rgb = _upright(_rgb(frame), frame.rotation)
                    return _square(Image.fromarray(rgb), box, size)
        except _av().FFmpegError as err:
            raise ImageReadError(path, f"video data damaged ({_reason(err)})") from err
    raise ImageReadError(path, f"no frame at {format_time(time)}")


def splice_to_folder(
    video: str | Path, folder: Path, size: int | None, options: SpliceOptions
) -> tuple[int, SpliceStats]:
    """Write the tiles of ``video`` as JPEG files in ``folder``; return the count and stats.

    Each file is written whole or not at all; names follow the frame time and crop:
    ``STEM_HHhMMmSSs_C.jpg`` (tenths of a second added when the time is not whole).
    """
    video = Path(video)
    stats = SpliceStats()
    written = 0
    for frame in splice(video, size, options, stats):
        stamp = format_time(frame.time).replace(":", "h", 1).replace(":", "m", 1) + "s"
        for crop, (pixels, _) in enumerate(frame.tiles):
            with atomic_path(folder / f"{video.stem}_{stamp}_{crop}.jpg") as tmp:
                Image.fromarray(pixels).save(tmp, format="JPEG", quality=92)
            written += 1
    return written, stats


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return text.splitlines()[0][:200]
