"""A pose track over time: smoothing, resampling to the output frame rate, fitting to the output length.

Smoothing is the motion sampler's filter (motion.postprocess.gaussian_smooth): a zero-phase
Gaussian over time, edges replicated, standard deviation strength x 0.5 s, applied at the driving
video's own frame rate before resampling. Resampling interpolates linearly at the output frame
times k / fps (by timestamps, so variable-frame-rate videos come out right).

Length policies when the driving video is shorter than the output: "loop" starts again from the
first frame, "ping_pong" plays backwards and forwards, "hold_last" keeps the last pose, "trim"
keeps the video's length (the consumer then decides; the motion sampler holds the last pose). A
longer video is always cut to the output length.
"""

from __future__ import annotations

import numpy as np
import torch

from ..audio.features import frame_count
from ..motion.postprocess import MAX_SMOOTHING_SECONDS, gaussian_smooth

LENGTH_POLICIES = ("loop", "ping_pong", "hold_last", "trim")


def smooth(values: torch.Tensor, strength: float, fps: float) -> torch.Tensor:
    """[N, C] -> [N, C] smoothed with a Gaussian of strength * 0.5 s (0 = unchanged)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be within [0, 1], got {strength}")
    return gaussian_smooth(values[None].double(), strength * MAX_SMOOTHING_SECONDS * fps)[0].to(values.dtype)


def resample(values: torch.Tensor, times: torch.Tensor, fps: float, frame_period: float) -> torch.Tensor:
    """Rows at `times` (seconds, increasing) -> rows at k / fps covering the video's duration
    (last time + one frame_period), i.e. ceil(duration * fps) rows."""
    count = max(1, frame_count(float(times[-1]) + frame_period, fps))
    target = np.arange(count, dtype=np.float64) / fps
    source = times.double().numpy()
    data = values.double().numpy()
    columns = [np.interp(target, source, data[:, c]) for c in range(values.shape[1])]
    return torch.from_numpy(np.stack(columns, axis=1)).to(values.dtype)


def fit_length(values: torch.Tensor, num_frames: int, policy: str) -> torch.Tensor:
    """[K, C] -> [num_frames, C] (or [min(K, num_frames), C] for "trim")."""
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"length policy must be one of {', '.join(LENGTH_POLICIES)}, got {policy!r}")
    if num_frames < 1:
        raise ValueError(f"the output needs at least one frame, got {num_frames}")
    k = values.shape[0]
    if k >= num_frames or policy == "trim":
        return values[:num_frames]
    steps = torch.arange(num_frames)
    if policy == "loop":
        index = steps % k
    elif policy == "ping_pong" and k > 1:
        period = 2 * (k - 1)
        phase = steps % period
        index = torch.where(phase < k, phase, period - phase)
    else:  # hold_last (and ping_pong of a single frame)
        index = steps.clamp(max=k - 1)
    return values[index]
