"""Generated motion over time (the PLAYMATE_MOTION payload)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MotionSequence:
    """motion: [B, N, 70] per-frame motion vectors ([exp 63 | scale | t 3 | pitch, yaw, roll deg]),
    fps: frames per second. One row of B per source portrait."""

    motion: torch.Tensor
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[1])
