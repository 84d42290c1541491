"""Encoder frames (50 per second) resampled to video frames.

Video frame ``i`` (shown over ``[i / fps, (i + 1) / fps)``) reads the encoder sequence at the fractional
position

    p_i = (i + 0.5) * rate / fps - 0.5          (rate = encoder frames per second, 50)

clamped to ``[0, F - 1]``, with linear interpolation between the two neighbouring encoder frames. This is
``torch.nn.functional.interpolate(mode="linear", align_corners=False)`` with the scale fixed at
``rate / fps`` instead of ``F / N``, so the mapping never drifts however F and N round. At 25 fps each
video frame is the mean of encoder frames 2i and 2i + 1, which is JoyVASA's 50 -> 25 fps resampling.
"""

from __future__ import annotations

import torch

ENCODER_FRAME_RATE = 50.0


def frame_positions(num_frames: int, fps: float, rate: float = ENCODER_FRAME_RATE) -> torch.Tensor:
    """p_i = (i + 0.5) * rate / fps - 0.5 for i in [0, num_frames), float64 (not clamped)."""
    i = torch.arange(num_frames, dtype=torch.float64)
    return (i + 0.5) * (float(rate) / float(fps)) - 0.5


def resample_to_video_frames(
    features: torch.Tensor, fps: float, num_frames: int, rate: float = ENCODER_FRAME_RATE
) -> torch.Tensor:
    """[B, F, D] at ``rate`` frames/s -> [B, num_frames, D] at ``fps`` (formula in the module docstring)."""
    if features.ndim != 3 or features.shape[1] == 0:
        raise ValueError(f"features must be [batch, frames > 0, dim], got {tuple(features.shape)}")
    if fps <= 0 or num_frames < 0:
        raise ValueError(f"fps must be > 0 and num_frames >= 0 (got fps={fps}, num_frames={num_frames})")
    last = features.shape[1] - 1
    pos = frame_positions(num_frames, fps, rate).clamp(0.0, float(last))
    lower = pos.floor().long()
    upper = (lower + 1).clamp(max=last)
    weight = (pos - lower.to(torch.float64)).to(features.dtype).to(features.device)[None, :, None]
    lower, upper = lower.to(features.device), upper.to(features.device)
    return features[:, lower] * (1 - weight) + features[:, upper] * weight
