"""Generated motion over time (the PLAYMATE_MOTION payload)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MotionSequence:
    """motion: [B, N, 70] per-frame motion vectors ([exp 63 | scale | t 3 | pitch, yaw, roll deg]),
    fps: frames per second. One row of B per source portrait.

    expression_offset: [B or 1, N, 63] expression units (delta), or None: added by the renderer after the
    motion is applied and before stitching, x_d,i += s_d,i * offset_i (emotion from reference photos)."""

    motion: torch.Tensor
    fps: float
    expression_offset: torch.Tensor | None = None

    def __post_init__(self):
        offset = self.expression_offset
        if offset is not None and (offset.ndim != 3 or offset.shape[0] not in (1, self.motion.shape[0])
                                   or offset.shape[1:] != (self.motion.shape[1], 63)):
            raise ValueError(f"expression_offset must be [B or 1, N, 63] for motion {tuple(self.motion.shape)}, "
                             f"got {tuple(offset.shape)}")

    def offset_rows(self, row: int, start: int, stop: int) -> torch.Tensor | None:
        """[n, 63] expression offset of motion row `row`, frames start..stop (None without an offset)."""
        if self.expression_offset is None:
            return None
        return self.expression_offset[row if self.expression_offset.shape[0] > 1 else 0, start:stop]

    def with_offset(self) -> torch.Tensor:
        """[B, N, 70] motion with the expression offset added to its expression (what the face shows, for
        plots and tests in the current absolute render path)."""
        if self.expression_offset is None:
            return self.motion
        exp = self.motion[..., :63] + self.expression_offset.to(self.motion.dtype)
        return torch.cat([exp, self.motion[..., 63:]], dim=-1)

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[1])
