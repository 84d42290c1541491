"""Encoding in independent fixed windows, as JoyVASA's release does around its embedded HuBERT.

Released behaviour: the 16 kHz waveform is cut into windows of 100 video frames (64,000 samples at 25 fps,
the last one zero-padded); each window is reflect-padded by 20 samples twice (40 per side), encoded
independently (the encoder's last hidden state, 200 frames at 50 Hz) and linearly resampled 200 -> 100 frames
(the mean of frame pairs). Not reproduced: the release's extra 1,280 leading / 640 trailing zero samples,
which shift the motion two frames later than the audio that is muxed back; here frame i covers audio
[i/fps, (i+1)/fps) s and the frame count is ceil(duration * fps) like every other encoder of the pack.

An encoder that must be run this way carries a :class:`WindowedEncoding` in ``AudioEncoder.windowing``;
``encode.encode_audio`` then takes this path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .features import AudioFeatures, frame_count
from .waveform import ENCODER_SAMPLE_RATE


@dataclass(frozen=True)
class WindowedEncoding:
    """How an encoder's features are made. label: ``AudioFeatures.encoder`` of its features (what a motion
    model checks); window_frames: video frames per independent window; reflect_pad: samples reflected on
    each side, twice."""

    label: str
    window_frames: int = 100
    reflect_pad: int = 20


def window_features(encoder, window: torch.Tensor, frames: int, reflect_pad: int = 20) -> torch.Tensor:
    """One window [B, S] -> [B, frames, D]: double reflect pad, last hidden state, linear resampling to frames."""
    padded = window.unsqueeze(1)
    for _ in range(2):
        padded = F.pad(padded, (reflect_pad, reflect_pad), mode="reflect")
    hidden = encoder.encode(padded.squeeze(1), layer=-1)
    return F.interpolate(hidden.transpose(1, 2), size=frames, mode="linear", align_corners=False).transpose(1, 2)


def windowed_features(encoder, waveform_16k: torch.Tensor, fps: float = 25.0,
                      progress: Callable[[int, int], None] | None = None, source: str = "") -> AudioFeatures:
    """A 16 kHz mono waveform [T] or [B, T] -> per-frame features [B, N, D] at fps, N = ceil(duration * fps),
    with ``encoder.windowing``'s windows (float32 on the CPU). progress(done, total) after each window."""
    windowing: WindowedEncoding = encoder.windowing
    wave = waveform_16k.unsqueeze(0) if waveform_16k.ndim == 1 else waveform_16k
    if wave.shape[-1] == 0:
        raise ValueError("the waveform is empty")
    samples_per_frame = ENCODER_SAMPLE_RATE / fps
    if samples_per_frame != int(samples_per_frame):
        raise ValueError(f"fps: {encoder.name} encodes fixed windows and needs a whole number of 16 kHz samples per "
                         f"frame; {fps:g} fps gives {samples_per_frame:g} (use the motion model's 25 fps)")
    window = windowing.window_frames * int(samples_per_frame)
    duration = wave.shape[-1] / ENCODER_SAMPLE_RATE
    n = frame_count(duration, fps)
    wave = F.pad(wave.float(), (0, math.ceil(wave.shape[-1] / window) * window - wave.shape[-1]))
    chunks = wave.split(window, dim=-1)
    feats = []
    for i, chunk in enumerate(chunks, 1):
        feats.append(window_features(encoder, chunk, windowing.window_frames, windowing.reflect_pad).float().cpu())
        if progress is not None:
            progress(i, len(chunks))
    return AudioFeatures(torch.cat(feats, dim=1)[:, :n], float(fps), n, duration, windowing.label, source)
