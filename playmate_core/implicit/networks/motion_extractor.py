"""Motion extractor M: a ConvNeXt-V2 backbone with keypoint, head-pose, translation, expression
and scale heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import MotionExtractorConfig

LAYER_NORM_EPS = 1e-6


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channel dim of [B, C, H, W] (biased variance, eps 1e-6)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + LAYER_NORM_EPS)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    """GRN on [B, H, W, C]: gamma * (x * N) + beta + x, N = ||x||_HW / (mean_C ||x||_HW + 1e-6)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * n) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 -> LayerNorm -> Linear x4 -> GELU (erf) -> GRN -> Linear -> residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class PoseKeypointNet(nn.Module):
    """The backbone and heads (the official 'detector' submodule)."""

    def __init__(self, cfg: MotionExtractorConfig):
        super().__init__()
        d = cfg.dims
        stem = nn.Sequential(nn.Conv2d(cfg.in_channels, d[0], 4, stride=4), ChannelsFirstLayerNorm(d[0]))
        downs = [nn.Sequential(ChannelsFirstLayerNorm(d[i - 1]), nn.Conv2d(d[i - 1], d[i], 2, stride=2))
                 for i in range(1, len(d))]
        self.downsample_layers = nn.ModuleList([stem, *downs])
        self.stages = nn.ModuleList(nn.Sequential(*(ConvNeXtBlock(d[i]) for _ in range(n)))
                                    for i, n in enumerate(cfg.depths))
        self.norm = nn.LayerNorm(d[-1], eps=LAYER_NORM_EPS)
        k = cfg.num_kp
        self.fc_kp = nn.Linear(d[-1], 3 * k)
        self.fc_scale = nn.Linear(d[-1], 1)
        self.fc_pitch = nn.Linear(d[-1], cfg.num_bins)
        self.fc_yaw = nn.Linear(d[-1], cfg.num_bins)
        self.fc_roll = nn.Linear(d[-1], cfg.num_bins)
        self.fc_t = nn.Linear(d[-1], 3)
        self.fc_exp = nn.Linear(d[-1], 3 * k)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> pooled, normalised features [B, dims[-1]]."""
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.norm(x.mean(dim=(-2, -1)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {
            "kp": self.fc_kp(f),
            "scale": self.fc_scale(f),
            "pitch": self.fc_pitch(f),
            "yaw": self.fc_yaw(f),
            "roll": self.fc_roll(f),
            "t": self.fc_t(f),
            "exp": self.fc_exp(f),
        }


class MotionExtractor(nn.Module):
    """[B, 3, 256, 256] RGB in [0, 1] -> raw heads: kp [B, 63], exp [B, 63], scale [B, 1],
    t [B, 3] and 66-bin pitch / yaw / roll logits [B, 66]."""

    def __init__(self, cfg: MotionExtractorConfig):
        super().__init__()
        self.cfg = cfg
        self.detector = PoseKeypointNet(cfg)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detector(image)
