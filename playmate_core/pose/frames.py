"""Driving frames, streamed: from a video file (PyAV) or an IMAGE batch, a chunk at a time.

A video is decoded frame by frame and each frame is downscaled by the decoder's scaler (area
filter) so its longer side is at most `max_side`, then kept as uint8: a chunk of 16 frames at
720p is about 44 MB, whatever the clip's length and resolution. Decoding stops once `max_seconds`
are covered (a driving video longer than the audio is not decoded past what is needed).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import av
import torch
import torch.nn.functional as F

DEFAULT_MAX_SIDE = 720


@dataclass(frozen=True)
class FrameChunk:
    """frames [n, h, w, 3] uint8 (RGB), times [n] seconds from the first frame."""

    frames: torch.Tensor
    times: torch.Tensor


def scaled_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) with the longer side at most max_side, aspect kept, even."""
    k = min(1.0, max_side / max(height, width))
    return max(2, int(round(height * k / 2)) * 2), max(2, int(round(width * k / 2)) * 2)


def video_info(source: str | io.BytesIO) -> tuple[float, int]:
    """(average frame rate, frame count) of a video file; the count is the container's figure or,
    when it has none, duration x rate (0 when unknown)."""
    with _open(source) as container:
        stream = _video_stream(container, source)
        rate = _rate(stream, source)
        count = int(stream.frames or 0)
        if not count and container.duration:
            count = int(round(container.duration / av.time_base * rate))
        return rate, count


def video_chunks(source: str | io.BytesIO, chunk_size: int = 16, max_side: int = DEFAULT_MAX_SIDE,
                 max_seconds: float | None = None) -> Iterator[FrameChunk]:
    """Decode a video file (path or BytesIO) in chunks of downscaled uint8 frames."""
    with _open(source) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "AUTO"
        frames, times, start, size = [], [], None, None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            elapsed = frame.time - start
            if max_seconds is not None and elapsed > max_seconds:
                break
            if size is None:
                size = scaled_size(frame.height, frame.width, max_side)
            small = frame.reformat(width=size[1], height=size[0], format="rgb24", interpolation="AREA")
            frames.append(torch.from_numpy(small.to_ndarray()))
            times.append(elapsed)
            if len(frames) == chunk_size:
                yield FrameChunk(torch.stack(frames), torch.tensor(times, dtype=torch.float64))
                frames, times = [], []
        if frames:
            yield FrameChunk(torch.stack(frames), torch.tensor(times, dtype=torch.float64))


def image_chunks(images: torch.Tensor, fps: float, chunk_size: int = 16, max_side: int = DEFAULT_MAX_SIDE,
                 max_seconds: float | None = None) -> Iterator[FrameChunk]:
    """An IMAGE batch [N, H, W, 3] (float 0..1) at `fps`, in chunks of downscaled uint8 frames."""
    count = images.shape[0]
    if max_seconds is not None:
        count = min(count, int(max_seconds * fps) + 1)
    height, width = scaled_size(images.shape[1], images.shape[2], max_side)
    for start in range(0, count, chunk_size):
        chunk = images[start:min(start + chunk_size, count), ..., :3].float()
        if (height, width) != tuple(chunk.shape[1:3]):
            chunk = F.interpolate(chunk.permute(0, 3, 1, 2), size=(height, width), mode="area").permute(0, 2, 3, 1)
        times = torch.arange(start, start + chunk.shape[0], dtype=torch.float64) / fps
        yield FrameChunk((chunk.clamp(0, 1) * 255).round().to(torch.uint8), times)


def _open(source):
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        return av.open(source, "r")
    except (av.FFmpegError, OSError) as err:
        raise ValueError(f"cannot read the driving video {_name(source)}: {err}") from err


def _video_stream(container, source):
    if not container.streams.video:
        raise ValueError(f"the driving video {_name(source)} has no video stream")
    return container.streams.video[0]


def _rate(stream, source) -> float:
    rate = stream.average_rate or stream.guessed_rate
    if not rate or float(rate) <= 0:
        raise ValueError(f"the frame rate of the driving video {_name(source)} is unknown")
    return float(rate)


def _name(source) -> str:
    return "(in memory)" if isinstance(source, io.BytesIO) else repr(str(source))
