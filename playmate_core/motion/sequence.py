"""Generated motion over time (the PLAYMATE_MOTION payload)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MotionSequence:
    """Motion for the renderer. One row of B per source portrait (or per take).

    motion:       [B, N, 70] per-frame motion vectors ([exp 63 | scale | t 3 | pitch, yaw, roll deg]) as the
                  pack applies them (`pack` motion mode): absolute, pose smoothed with the sampler's
                  pose_smoothing, JoyVASA's output anchored to frame 0, a driving pose applied.
    fps:          frames per second.
    generated:    [B, N, 70] the sampler's de-normalised output before any smoothing, anchoring or driving
                  pose (what the official JoyVASA pipeline post-processes), or None for motion not made by
                  the sampler; the app / cli / animal motion modes need it.
    family:       motion model family that generated it ("joyvasa", "playmate"), "" when unknown.
    driving_pose: [B, N, 6] pitch, yaw, roll (deg), tx, ty, tz replacing the generated pose (from Pose From
                  Video, relative poses already added to the source pose), or None.
    """

    motion: torch.Tensor
    fps: float
    generated: torch.Tensor | None = None
    family: str = ""
    driving_pose: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[1])
