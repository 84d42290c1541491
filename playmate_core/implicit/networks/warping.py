"""Warping module W: warp the appearance volume by the keypoint motion, fold depth into
channels, and mask by the occlusion map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import WarpingConfig
from .blocks import ConvNormAct2d
from .dense_motion import DenseMotionNetwork


class WarpingNetwork(nn.Module):
    """f_s [B, C, D, 64, 64] and keypoints [B, 21, 3] -> feature [B, out_channels, 64, 64]."""

    def __init__(self, cfg: WarpingConfig):
        super().__init__()
        self.cfg = cfg
        self.dense_motion_network = DenseMotionNetwork(cfg.num_kp, cfg.reshape_channel, cfg.dense_motion)
        self.third = ConvNormAct2d(cfg.max_features, cfg.out_channels, leaky=True)
        self.fourth = nn.Conv2d(cfg.out_channels, cfg.out_channels, 1)

    def forward(self, feature: torch.Tensor, kp_source: torch.Tensor,
                kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns 'out' [B, out_channels, H, W] in the network dtype, and float32 'occlusion_map',
        'deformation' and 'mask'. The volume is sampled in float32 (see dense_motion)."""
        dtype = self.fourth.weight.dtype
        dense = self.dense_motion_network(feature, kp_driving=kp_driving, kp_source=kp_source)
        warped = F.grid_sample(feature.float(), dense["deformation"], align_corners=False)
        b, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.view(b, c * d, h, w).to(dtype)))
        return dict(dense, out=out * dense["occlusion_map"].to(dtype))
