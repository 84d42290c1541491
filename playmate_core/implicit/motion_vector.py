"""The 70-d motion vector shared by every stage (the layout JoyVASA uses too).

Layout, per frame: ``[exp 63 | scale 1 | t 3 | pitch, yaw, roll in degrees]``.
``exp`` is the 21x3 expression offset (row-major), ``t`` = (tx, ty, tz); tz is carried but never
used by the keypoint transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NUM_KP = 21
EXP_DIM = NUM_KP * 3
MOTION_DIM = 70
EXP = slice(0, 63)
SCALE = slice(63, 64)
T = slice(64, 67)
ANGLES = slice(67, 70)
POSE = slice(63, 70)


@dataclass
class MotionParts:
    """A motion vector split into its parts. Leading dims are kept (e.g. [B] or [B, N])."""

    exp: torch.Tensor  # [..., 21, 3]
    scale: torch.Tensor  # [..., 1]
    t: torch.Tensor  # [..., 3]
    angles: torch.Tensor  # [..., 3] pitch, yaw, roll in degrees


def pack_motion(exp: torch.Tensor, scale: torch.Tensor, t: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """[..., 21, 3] / [..., 1] / [..., 3] / [..., 3] -> [..., 70]."""
    lead = scale.shape[:-1]
    return torch.cat([exp.reshape(*lead, EXP_DIM), scale, t, angles], dim=-1)


def unpack_motion(motion: torch.Tensor) -> MotionParts:
    """[..., 70] -> MotionParts."""
    if motion.shape[-1] != MOTION_DIM:
        raise ValueError(f"motion vectors must have {MOTION_DIM} values in the last dim, got {tuple(motion.shape)}")
    lead = motion.shape[:-1]
    return MotionParts(
        exp=motion[..., EXP].reshape(*lead, NUM_KP, 3),
        scale=motion[..., SCALE],
        t=motion[..., T],
        angles=motion[..., ANGLES],
    )
