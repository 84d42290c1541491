"""Stitching and eye / lip retargeting MLPs."""

from __future__ import annotations

import torch
from torch import nn

from ..config import MLPConfig, StitchingConfig


class RetargetMLP(nn.Module):
    """Linear + ReLU stack ending in a Linear: [B, input_size] -> [B, output_size]."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        sizes = [cfg.input_size, *cfg.hidden_sizes]
        layers: list[nn.Module] = []
        for cin, cout in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(cin, cout), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], cfg.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class StitchingRetargeting(nn.Module):
    """The three MLPs of stitching_retargeting_module: stitching (126 -> 65), lip (65 -> 63),
    eye (66 -> 63). Inputs are flattened keypoints [B, 63] concatenated with ratios."""

    def __init__(self, cfg: StitchingConfig):
        super().__init__()
        self.cfg = cfg
        self.stitching = RetargetMLP(cfg.stitching)
        self.lip = RetargetMLP(cfg.lip)
        self.eye = RetargetMLP(cfg.eye)

    def stitch_delta(self, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """[B, 21, 3] x2 -> [B, 65] (63 keypoint offsets, then a shared x, y shift)."""
        return self.stitching(torch.cat([kp_source.flatten(1), kp_driving.flatten(1)], dim=1))

    def eye_delta(self, kp_source: torch.Tensor, eye_ratio: torch.Tensor) -> torch.Tensor:
        """kp [B, 21, 3], [c_s left, c_s right, c_d] [B, 3] -> keypoint offsets [B, 21, 3]."""
        return self.eye(torch.cat([kp_source.flatten(1), eye_ratio.flatten(1)], dim=1)).view_as(kp_source)

    def lip_delta(self, kp_source: torch.Tensor, lip_ratio: torch.Tensor) -> torch.Tensor:
        """kp [B, 21, 3], [c_s lip, c_d] [B, 2] -> keypoint offsets [B, 21, 3]."""
        return self.lip(torch.cat([kp_source.flatten(1), lip_ratio.flatten(1)], dim=1)).view_as(kp_source)
