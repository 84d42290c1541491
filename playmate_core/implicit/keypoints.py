"""Keypoint math of LivePortrait's 3D implicit space (all float32, shapes in docstrings).

Conventions (checked against the golden fixture):
- head-pose bins: 66 bins of 3 degrees, degrees = E[bin] * 3 - 97.5;
- rotation: R = (Rz(roll) @ Ry(yaw) @ Rx(pitch))^T, applied to row vectors as ``kp @ R``;
- transform: x = scale * (kp @ R + exp), then x[..., :2] += t[..., :2] (tz is ignored).
"""

from __future__ import annotations

import math

import torch

from .motion_vector import NUM_KP, pack_motion, unpack_motion

NUM_BINS = 66
BIN_DEGREES = 3.0
BIN_OFFSET = 97.5


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """[B, 66] head-pose logits -> [B, 1] degrees (softmax expectation over the bins)."""
    idx = torch.arange(logits.shape[-1], dtype=torch.float32, device=logits.device)
    prob = torch.softmax(logits.float(), dim=-1)
    return ((prob * idx).sum(dim=-1, keepdim=True) * BIN_DEGREES) - BIN_OFFSET


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Angles in degrees, each [B] or [B, 1] -> [B, 3, 3], to be applied as ``kp @ R``."""
    x, y, z = (a.reshape(-1).float() * (math.pi / 180.0) for a in (pitch, yaw, roll))
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    cx, sx, cy, sy, cz, sz = x.cos(), x.sin(), y.cos(), y.sin(), z.cos(), z.sin()
    rot_x = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], dim=1).view(-1, 3, 3)
    rot_y = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], dim=1).view(-1, 3, 3)
    rot_z = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], dim=1).view(-1, 3, 3)
    return (rot_z @ rot_y @ rot_x).transpose(1, 2)


def transform_keypoints(
    kp: torch.Tensor, rotation: torch.Tensor, exp: torch.Tensor, scale: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Canonical kp [B, K, 3], R [B, 3, 3], exp [B, K, 3], scale [B, 1], t [B, 3] -> [B, K, 3]."""
    x = (kp @ rotation + exp) * scale.reshape(-1, 1, 1)
    offset = torch.zeros_like(x[:, :1, :])
    offset[..., :2] = t.reshape(-1, 1, 3)[..., :2]
    return x + offset


def keypoints_from_motion(kp_canonical: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Canonical kp [B, K, 3] and 70-d motion [B, 70] -> driving keypoints [B, K, 3]."""
    parts = unpack_motion(motion)
    a = parts.angles
    rot = rotation_matrix(a[:, 0], a[:, 1], a[:, 2])
    return transform_keypoints(kp_canonical, rot, parts.exp, parts.scale, parts.t)


def motion_from_head_outputs(raw: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw motion-extractor heads -> (canonical kp [B, 21, 3], 70-d motion [B, 70]).

    ``raw`` holds 'kp' [B, 63], 'exp' [B, 63], 'scale' [B, 1], 't' [B, 3] and the 66-bin
    'pitch' / 'yaw' / 'roll' logits.
    """
    b = raw["kp"].shape[0]
    angles = torch.cat([bins_to_degrees(raw[name]) for name in ("pitch", "yaw", "roll")], dim=1)
    kp = raw["kp"].float().reshape(b, NUM_KP, 3)
    motion = pack_motion(raw["exp"].float().reshape(b, NUM_KP, 3), raw["scale"].float(), raw["t"].float(), angles)
    return kp, motion


def apply_stitching_delta(kp_driving: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Driving kp [B, K, 3] + stitching output [B, 3K + 2] -> stitched kp [B, K, 3]."""
    b, k, _ = kp_driving.shape
    out = kp_driving + delta[:, : 3 * k].reshape(b, k, 3)
    shift = torch.zeros_like(out[:, :1, :])
    shift[..., :2] = delta[:, 3 * k : 3 * k + 2].reshape(b, 1, 2)
    return out + shift
