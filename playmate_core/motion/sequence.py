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
    expression_offset: [B or 1, N, 63] expression units (delta), or None: added by every motion mode after
                  the motion is applied and before stitching, x_d,i += s_d,i * offset_i (emotion from reference
                  photos, a driving video's expression).
    """

    motion: torch.Tensor
    fps: float
    generated: torch.Tensor | None = None
    family: str = ""
    driving_pose: torch.Tensor | None = None
    expression_offset: torch.Tensor | None = None

    def __post_init__(self):
        offset = self.expression_offset
        if offset is not None and (offset.ndim != 3 or offset.shape[0] not in (1, self.motion.shape[0])
                                   or offset.shape[1:] != (self.motion.shape[1], 63)):
            raise ValueError(f"expression_offset must be [B or 1, N, 63] for motion {tuple(self.motion.shape)}, "
                             f"got {tuple(offset.shape)}")

    def with_offset(self) -> torch.Tensor:
        """[B, N, 70] motion with the expression offset added to its expression (what the face shows, for
        plots, and what the pack motion mode shows)."""
        if self.expression_offset is None:
            return self.motion
        exp = self.motion[..., :63] + self.expression_offset.to(self.motion.dtype)
        return torch.cat([exp, self.motion[..., 63:]], dim=-1)

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[1])
