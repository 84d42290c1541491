"""Stream frames into an MP4 (H.264 video, AAC audio) that appears under its name only when complete.

Frames are encoded as they arrive; audio is encoded alongside, up to the time of the frames
written so far, so the muxer never buffers much. Everything goes to a hidden temporary file in the
destination folder, renamed to the final name by `close()`; an exception (the host's Cancel, a
full disk) removes the temporary file and leaves nothing under the final name.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction

import av
import numpy as np
import torch

from .soundtrack import check_audio, samples_for_frames

VIDEO_ENCODERS = ("libx264", "h264")  # x264 first (crf / preset apply to it); "h264" is FFmpeg's default H.264 encoder
AUDIO_CODEC = "aac"
# sample rates the AAC encoder takes; other rates are resampled to 48 kHz by the encoder
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def temporary_path(path: str) -> str:
    """The hidden file a video is written to before it is renamed to `path`."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.partial")


def check_writable(path: str) -> None:
    """Fail early (before any rendering) when the file cannot be created."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"cannot create the output folder {folder}: {err.strerror or err}") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"the output folder {folder} is not writable: choose another filename_prefix or fix its permissions"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"the output path {path} is a folder; choose another filename_prefix")


def h264_encoder() -> str:
    """The H.264 encoder this PyAV build offers."""
    for name in VIDEO_ENCODERS:
        try:
            av.Codec(name, "w")
        except (ValueError, av.FFmpegError):  # PyAV raises UnknownCodecError (a ValueError) for missing encoders
            continue
        return name
    raise RuntimeError("this PyAV build has no H.264 encoder: install the "
                       "PyPI wheel (pip install av), which includes libx264")


def to_rgb24(frames: torch.Tensor) -> np.ndarray:
    """[n, H, W, 3] float in [0, 1] (or uint8) -> uint8 numpy, rounded."""
    if frames.dtype == torch.uint8:
        return frames.cpu().numpy()
    return (frames.float() * 255).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()


class VideoWriter:
    """An H.264 MP4 written frame chunk by frame chunk.

    path: final file name (.mp4); fps: frames per second; width / height: even frame size;
    audio: optional AUDIO dict (first batch item is used, mono or stereo; more channels are mixed
    to mono), muxed as AAC and cut or padded to the video's duration; crf: x264 quality
    (0 lossless .. 51 worst, 18 visually lossless); metadata: container tags (values JSON-encoded
    unless strings), e.g. the host's prompt and workflow.

    Use as a context manager: leaving the block normally finalises the file, an exception aborts.
    """

    def __init__(self, path: str, fps: float, width: int, height: int, audio: dict | None = None, crf: int = 18,
                 preset: str = "medium", metadata: dict | None = None):
        if width < 2 or height < 2 or width % 2 or height % 2:
            raise ValueError(f"H.264 needs even frame sides of at least 2 px, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be within 0..51, got {crf}")
        check_writable(path)
        self.path = os.path.abspath(path)
        self.temp_path = temporary_path(self.path)
        self.fps, self.width, self.height = float(fps), int(width), int(height)
        self.frames_written = 0
        self._audio = None
        self._audio_pos = 0
        try:
            self._container = av.open(self.temp_path, "w", format="mp4",
                                      options={"movflags": "+faststart+use_metadata_tags"})
        except OSError as err:
            raise PermissionError(f"cannot write {self.temp_path}: {err}") from err
        try:
            for key, value in (metadata or {}).items():
                self._container.metadata[key] = value if isinstance(value, str) else json.dumps(value)
            rate = Fraction(round(self.fps * 1000), 1000)
            encoder = h264_encoder()
            options = {"crf": str(int(crf)), "preset": preset} if encoder == "libx264" else {}
            self._video = self._container.add_stream(encoder, rate=rate, options=options)
            self._video.width, self._video.height, self._video.pix_fmt = self.width, self.height, "yuv420p"
            if audio is not None:
                self._open_audio(audio)
        except BaseException:
            self.abort()
            raise

    def _open_audio(self, audio: dict) -> None:
        waveform, rate = check_audio(audio)
        samples = waveform[0]
        if samples.shape[0] > 2:
            samples = samples.mean(dim=0, keepdim=True)
        self._audio = np.ascontiguousarray(samples.numpy().astype(np.float32))
        self._audio_rate = rate
        self._layout = "mono" if samples.shape[0] == 1 else "stereo"
        stream_rate = rate if rate in AAC_RATES else 48000
        self._audio_stream = self._container.add_stream(AUDIO_CODEC, rate=stream_rate, layout=self._layout)

    def write(self, frames: torch.Tensor) -> None:
        """Append frames [n, H, W, 3] (float in [0, 1] or uint8, any device)."""
        if frames.ndim != 4 or tuple(frames.shape[1:]) != (self.height, self.width, 3):
            raise ValueError(f"frames must be [n, {self.height}, {self.width}, 3], got {tuple(frames.shape)}")
        for image in to_rgb24(frames):
            self._mux(self._video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        self.frames_written += frames.shape[0]
        if self._audio is not None:
            self._write_audio_until(samples_for_frames(self.frames_written, self.fps, self._audio_rate))

    def _write_audio_until(self, end: int) -> None:
        """Encode audio samples [pos, end) (silence past the end of the given audio)."""
        if end <= self._audio_pos:
            return
        chunk = self._audio[:, self._audio_pos:end]
        if chunk.shape[1] < end - self._audio_pos:
            chunk = np.pad(chunk, ((0, 0), (0, end - self._audio_pos - chunk.shape[1])))
        # packed float layout: [1, samples * channels], channels interleaved
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T.reshape(1, -1)), format="flt",
                                           layout=self._layout)
        frame.sample_rate, frame.pts = self._audio_rate, self._audio_pos
        self._mux(self._audio_stream.encode(frame))
        self._audio_pos = end

    def _mux(self, packets) -> None:
        self._container.mux(packets)

    def close(self) -> str:
        """Flush the encoders, finish the file and move it to its final name. Returns the path."""
        if self.frames_written == 0:
            self.abort()
            raise ValueError("no frames were written; nothing to save")
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._mux(self._audio_stream.encode(None))
            self._container.close()
        except BaseException:
            self.abort()
            raise
        os.replace(self.temp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file (safe to call more than once)."""
        try:
            self._container.close()
        except Exception:  # the container may be half-open; the file is deleted anyway
            pass
        if os.path.exists(self.temp_path):
            os.remove(self.temp_path)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
