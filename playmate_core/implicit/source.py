"""What the implicit space knows about a source portrait (the PLAYMATE_SOURCE payload)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .keypoints import keypoints_from_motion


@dataclass(frozen=True)
class SourceFeatures:
    """One or more source portraits in LivePortrait's implicit space (CPU or device tensors).

    appearance:   [B, C, D, H, W] appearance volume f_s (32x16x64x64 for the official networks)
    kp_canonical: [B, 21, 3] canonical keypoints x_c
    motion:       [B, 70] source motion [exp 63 | scale | t 3 | pitch, yaw, roll degrees]
    eye_ratio:    [B, 2] eye openness (left, right), None when no landmarks were available
    lip_ratio:    [B, 1] lip openness, None when no landmarks were available
    """

    appearance: torch.Tensor
    kp_canonical: torch.Tensor
    motion: torch.Tensor
    eye_ratio: torch.Tensor | None = None
    lip_ratio: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.motion.shape[0])

    def keypoints(self) -> torch.Tensor:
        """Source keypoints x_s [B, 21, 3] (the canonical keypoints moved by the source motion)."""
        return keypoints_from_motion(self.kp_canonical.float(), self.motion.float())
