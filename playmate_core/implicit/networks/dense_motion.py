"""Dense motion network: keypoint pairs -> deformation field and occlusion map.

Coordinates are normalised volume coordinates with last axis (x, y, z) over (W, H, D). The
identity grid is corner-aligned (2 i / (n - 1) - 1) while grid_sample uses
align_corners=False, exactly as LivePortrait does (so an identity warp is not the identity).

Geometry (grids, Gaussians, sampling, the softmax mask and the deformation) is always float32:
in bfloat16 a grid step of 2/63 would be resolved to a quarter of a voxel. The convolutions
run in the network's dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DenseMotionConfig
from .blocks import DownBlock3d, UpBlock3d

KP_VARIANCE = 0.01


def coordinate_grid(depth: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """[D, H, W, 3] grid of (x, y, z) in [-1, 1], corner-aligned, dtype/device of ``like``."""
    axes = [torch.arange(n, dtype=like.dtype, device=like.device) for n in (width, height, depth)]
    x, y, z = (2 * (a / (n - 1)) - 1 for a, n in zip(axes, (width, height, depth)))
    zz, yy, xx = torch.meshgrid(z, y, x, indexing="ij")
    return torch.stack([xx, yy, zz], dim=-1)


def keypoint_gaussians(kp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """kp [B, K, 3], grid [D, H, W, 3] -> exp(-0.5 |g - kp|^2 / 0.01) [B, K, D, H, W]."""
    diff = grid[None, None] - kp[:, :, None, None, None, :]
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / KP_VARIANCE)


class Hourglass(nn.Module):
    """3D U-Net: down blocks (depth kept), up blocks with skip concatenation, then conv + BN + ReLU.
    Output channels: block_expansion + in_features."""

    def __init__(self, in_features: int, cfg: DenseMotionConfig):
        super().__init__()
        e, m, n = cfg.block_expansion, cfg.max_features, cfg.num_blocks
        width = [min(m, e * 2 ** (i + 1)) for i in range(n)]
        self.encoder = nn.Module()
        self.encoder.down_blocks = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else width[i - 1], width[i]) for i in range(n)
        )
        self.decoder = nn.Module()
        ups = []
        for i in reversed(range(n)):
            cin = width[i] * (1 if i == n - 1 else 2)
            ups.append(UpBlock3d(cin, min(m, e * 2**i)))
        self.decoder.up_blocks = nn.ModuleList(ups)
        self.out_channels = e + in_features
        self.decoder.conv = nn.Conv3d(self.out_channels, self.out_channels, 3, padding=1)
        self.decoder.norm = nn.BatchNorm3d(self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.encoder.down_blocks:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.decoder.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return F.relu(self.decoder.norm(self.decoder.conv(out)))


class DenseMotionNetwork(nn.Module):
    def __init__(self, num_kp: int, feature_channels: int, cfg: DenseMotionConfig):
        super().__init__()
        self.num_kp = num_kp
        self.cfg = cfg
        self.compress = nn.Conv3d(feature_channels, cfg.compress, 1)
        self.norm = nn.BatchNorm3d(cfg.compress)
        self.hourglass = Hourglass((num_kp + 1) * (cfg.compress + 1), cfg)
        self.mask = nn.Conv3d(self.hourglass.out_channels, num_kp + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels * cfg.reshape_depth, 1, 7, padding=3)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor,
                kp_source: torch.Tensor) -> dict[str, torch.Tensor]:
        """feature [B, C, D, H, W], kp [B, K, 3] -> deformation [B, D, H, W, 3],
        occlusion_map [B, 1, H, W], mask [B, K+1, D, H, W]."""
        b, _, d, h, w = feature.shape
        k = self.num_kp
        dtype = self.mask.weight.dtype
        kp_driving, kp_source = kp_driving.float(), kp_source.float()
        feature = F.relu(self.norm(self.compress(feature.to(dtype)))).float()
        grid = coordinate_grid(d, h, w, feature)
        # backward warps: background (identity) first, then identity - kp_driving + kp_source per keypoint
        to_source = grid[None, None] - kp_driving[:, :, None, None, None, :] + kp_source[:, :, None, None, None, :]
        motions = torch.cat([grid[None, None].expand(b, 1, d, h, w, 3), to_source], dim=1)
        c = feature.shape[1]
        repeated = feature[:, None].expand(b, k + 1, c, d, h, w).reshape(b * (k + 1), c, d, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(b * (k + 1), d, h, w, 3), align_corners=False)
        deformed = deformed.view(b, k + 1, c, d, h, w)
        heat = keypoint_gaussians(kp_driving, grid) - keypoint_gaussians(kp_source, grid)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)
        inputs = torch.cat([heat[:, :, None], deformed], dim=2).view(b, (k + 1) * (c + 1), d, h, w)
        prediction = self.hourglass(inputs.to(dtype))
        mask = torch.softmax(self.mask(prediction).float(), dim=1)
        deformation = (motions * mask[..., None]).sum(dim=1)
        occlusion = torch.sigmoid(self.occlusion(prediction.reshape(b, -1, h, w)).float())
        return {"deformation": deformation, "occlusion_map": occlusion, "mask": mask}
