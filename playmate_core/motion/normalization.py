"""Motion statistics: the map between absolute 70-d motion and the space a model denoises in.

Both normalisers are modules whose statistics are buffers, saved with the weights as
``normalizer.<name>`` tensors (float32).
"""

from __future__ import annotations

import torch
from torch import nn

from ..implicit.motion_vector import EXP, POSE


class MotionNormalizer(nn.Module):
    """normalize(motion [B, N, 70], source_motion [B, 70]) and its inverse denormalize."""

    def normalize(self, motion: torch.Tensor, source_motion: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def denormalize(self, coded: torch.Tensor, source_motion: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class AdaptiveNormalizer(MotionNormalizer):
    """Playmate's adaptive normalisation.

    Expression (63): z-scored with whole-dataset statistics exp_mean / exp_std.
    Pose (scale, t, angles; 7): centred on the identity's own mean pose and divided by the typical
    within-identity spread pose_std_identity. At inference the identity mean is the source pose.
    pose_mean / pose_std (whole-dataset) scale the source pose fed to the network as identity input.
    """

    def __init__(self, exp_mean=None, exp_std=None, pose_mean=None, pose_std=None, pose_std_identity=None):
        super().__init__()
        defaults = {
            "exp_mean": torch.zeros(63), "exp_std": torch.full((63,), 0.02),
            "pose_mean": torch.tensor([1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            "pose_std": torch.tensor([0.1, 0.03, 0.03, 0.01, 10.0, 15.0, 6.0]),
            "pose_std_identity": torch.tensor([0.03, 0.01, 0.01, 0.005, 4.0, 6.0, 3.0]),
        }
        given = {"exp_mean": exp_mean, "exp_std": exp_std, "pose_mean": pose_mean, "pose_std": pose_std,
                 "pose_std_identity": pose_std_identity}
        for name, default in defaults.items():
            value = default
            if given[name] is not None:
                value = torch.as_tensor(given[name], dtype=torch.float32).reshape(default.shape)
            if name.endswith(("std", "std_identity")) and not (value > 0).all():
                raise ValueError(f"motion statistic {name} must be positive everywhere")
            self.register_buffer(name, value.clone().float())

    def normalize(self, motion, source_motion):
        center = source_motion[..., POSE].unsqueeze(-2)
        exp = (motion[..., EXP] - self.exp_mean) / self.exp_std
        pose = (motion[..., POSE] - center) / self.pose_std_identity
        return torch.cat([exp, pose], dim=-1)

    def normalize_with_center(self, motion: torch.Tensor, pose_center: torch.Tensor) -> torch.Tensor:
        """Training form: pose centred on the clip's identity mean pose_center [B, 7]."""
        exp = (motion[..., EXP] - self.exp_mean) / self.exp_std
        pose = (motion[..., POSE] - pose_center.unsqueeze(-2)) / self.pose_std_identity
        return torch.cat([exp, pose], dim=-1)

    def denormalize(self, coded, source_motion):
        center = source_motion[..., POSE].unsqueeze(-2)
        exp = coded[..., EXP] * self.exp_std + self.exp_mean
        pose = coded[..., POSE] * self.pose_std_identity + center
        return torch.cat([exp, pose], dim=-1)

    def identity_features(self, source_motion: torch.Tensor) -> torch.Tensor:
        """[B, 70] source motion -> [B, 70] dataset-normalised (the network's identity input)."""
        exp = (source_motion[..., EXP] - self.exp_mean) / self.exp_std
        pose = (source_motion[..., POSE] - self.pose_mean) / self.pose_std
        return torch.cat([exp, pose], dim=-1)


class TemplateNormalizer(MotionNormalizer):
    """JoyVASA's 'mix' normalisation from motion_template.pkl: expression z-scored with mean_exp / std_exp,
    pose (scale, t, pitch, yaw, roll) min-max coded to [0, 1] with pose_min / pose_max. Source-independent."""

    def __init__(self, exp_mean, exp_std, pose_min, pose_max):
        super().__init__()
        self.register_buffer("exp_mean", torch.as_tensor(exp_mean, dtype=torch.float32).reshape(63).clone())
        self.register_buffer("exp_std", torch.as_tensor(exp_std, dtype=torch.float32).reshape(63).clone())
        self.register_buffer("pose_min", torch.as_tensor(pose_min, dtype=torch.float32).reshape(7).clone())
        self.register_buffer("pose_max", torch.as_tensor(pose_max, dtype=torch.float32).reshape(7).clone())
        if not (self.exp_std > 0).all() or not (self.pose_max > self.pose_min).all():
            raise ValueError("motion template statistics must have std > 0 and max > min")

    def normalize(self, motion, source_motion):
        exp = (motion[..., EXP] - self.exp_mean) / self.exp_std
        pose = (motion[..., POSE] - self.pose_min) / (self.pose_max - self.pose_min)
        return torch.cat([exp, pose], dim=-1)

    def denormalize(self, coded, source_motion):
        exp = coded[..., EXP] * self.exp_std + self.exp_mean
        pose = coded[..., POSE] * (self.pose_max - self.pose_min) + self.pose_min
        return torch.cat([exp, pose], dim=-1)
