"""Operations on absolute 70-d motion after sampling: pose smoothing, driving pose, JoyVASA's anchoring."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..implicit.keypoints import rotation_matrix
from ..implicit.motion_vector import ANGLES, EXP, POSE, SCALE, T

# JoyVASA applies these keypoints' generated expression absolutely (not relative to frame 0).
JOYVASA_LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)
# pose_smoothing = 1 means a Gaussian of this many seconds standard deviation.
MAX_SMOOTHING_SECONDS = 0.5


def angles_from_rotation(rot: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation as built by rotation_matrix (applied as kp @ R) -> [..., 3] pitch, yaw, roll
    in degrees (yaw within +-90)."""
    m = rot.transpose(-1, -2)  # Rz(roll) @ Ry(yaw) @ Rx(pitch)
    pitch = torch.atan2(m[..., 2, 1], m[..., 2, 2])
    yaw = torch.asin((-m[..., 2, 0]).clamp(-1.0, 1.0))
    roll = torch.atan2(m[..., 1, 0], m[..., 0, 0])
    return torch.stack([pitch, yaw, roll], dim=-1) * (180.0 / math.pi)


def _rotations(angles: torch.Tensor) -> torch.Tensor:
    flat = angles.reshape(-1, 3)
    return rotation_matrix(flat[:, 0], flat[:, 1], flat[:, 2]).reshape(*angles.shape[:-1], 3, 3)


def anchor_to_first_frame(motion: torch.Tensor, source_motion: torch.Tensor,
                          absolute_keypoints=JOYVASA_LIP_KEYPOINTS) -> torch.Tensor:
    """JoyVASA's motion application, expressed as a new absolute motion [B, N, 70] for the source:
    R_i = R_gen,i R_gen,0^T R_src, exp_i = exp_src + (exp_gen,i - exp_gen,0) except absolute_keypoints
    (their generated expression is used as is), s_i = s_src s_gen,i / s_gen,0,
    t_i = t_src + (t_gen,i - t_gen,0) with tz = 0."""
    src = source_motion.unsqueeze(1).to(motion.dtype)
    first = motion[:, :1]
    exp = src[..., EXP] + motion[..., EXP] - first[..., EXP]
    exp = exp.unflatten(-1, (21, 3))
    absolute = list(absolute_keypoints)
    exp[..., absolute, :] = motion[..., EXP].unflatten(-1, (21, 3))[..., absolute, :]
    scale = src[..., SCALE] * motion[..., SCALE] / first[..., SCALE]
    t = src[..., T] + motion[..., T] - first[..., T]
    t = torch.cat([t[..., :2], torch.zeros_like(t[..., 2:])], dim=-1)
    first_inverse = _rotations(first[..., ANGLES]).transpose(-1, -2)
    rot = _rotations(motion[..., ANGLES]) @ first_inverse @ _rotations(src[..., ANGLES])
    return torch.cat([exp.flatten(-2), scale, t, angles_from_rotation(rot)], dim=-1)


def ema_smooth(values: torch.Tensor, alpha: float) -> torch.Tensor:
    """Causal exponential moving average over frames (dim -2): s_0 = x_0, s_i = a x_i + (1 - a) s_{i-1}
    (JoyVASA's pose smoothing uses a = 0.01)."""
    out = torch.empty_like(values)
    out[..., 0, :] = values[..., 0, :]
    for i in range(1, values.shape[-2]):
        out[..., i, :] = alpha * values[..., i, :] + (1 - alpha) * out[..., i - 1, :]
    return out


def gaussian_smooth(values: torch.Tensor, sigma_frames: float) -> torch.Tensor:
    """Zero-phase Gaussian smoothing over frames (dim -2) of [B, N, C], edges replicated; no lag."""
    if sigma_frames <= 0 or values.shape[-2] < 2:
        return values
    radius = max(1, int(math.ceil(3 * sigma_frames)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma_frames) ** 2)
    kernel = (kernel / kernel.sum()).to(values.dtype).to(values.device)
    b, n, c = values.shape
    x = values.transpose(1, 2).reshape(b * c, 1, n)
    x = F.pad(x, (radius, radius), mode="replicate")
    return F.conv1d(x, kernel.view(1, 1, -1)).reshape(b, c, n).transpose(1, 2)


def smooth_pose(motion: torch.Tensor, strength: float, fps: float) -> torch.Tensor:
    """Smooth scale, t and angles (not the expression) with a Gaussian of strength * 0.5 s std."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"pose smoothing strength must be within [0, 1], got {strength}")
    sigma = strength * MAX_SMOOTHING_SECONDS * fps
    if sigma <= 0:
        return motion
    return torch.cat([motion[..., EXP], gaussian_smooth(motion[..., POSE], sigma)], dim=-1)


def absolute_driving_pose(pose: torch.Tensor, source_motion: torch.Tensor, relative: bool) -> torch.Tensor:
    """Driving pose [N, 6] (pitch, yaw, roll, tx, ty, tz) -> absolute [B, N, 6] for sources [B, 70]: relative
    poses are offsets added to the source pose, absolute ones are used as is."""
    pose = pose.to(source_motion.device, torch.float32).unsqueeze(0).expand(source_motion.shape[0], -1, -1)
    if not relative:
        return pose.clone()
    src = source_motion.float().unsqueeze(1)
    return torch.cat([pose[..., :3] + src[..., ANGLES], pose[..., 3:] + src[..., T]], dim=-1)


def apply_driving_pose(motion: torch.Tensor, absolute_pose: torch.Tensor) -> torch.Tensor:
    """Replace angles and t of motion [B, N, 70] by absolute_pose [B, N, 6] (pitch, yaw, roll, tx, ty, tz).
    Expression and scale stay as generated."""
    pose = absolute_pose.to(motion.device, motion.dtype)
    return torch.cat([motion[..., EXP], motion[..., SCALE], pose[..., 3:], pose[..., :3]], dim=-1)
