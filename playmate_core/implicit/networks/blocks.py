"""Convolution blocks shared by the appearance extractor and the warping module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvNormAct2d(nn.Module):
    """conv k x k -> BatchNorm2d -> ReLU (or LeakyReLU 0.01); spatial size kept."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, leaky: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(cout)
        self.leaky = leaky

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return F.leaky_relu(x, 0.01) if self.leaky else F.relu(x)


class DownBlock2d(nn.Module):
    """conv3x3 -> BatchNorm2d -> ReLU -> 2x2 average pool: [B, cin, H, W] -> [B, cout, H/2, W/2]."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)


class DownBlock3d(nn.Module):
    """conv3x3x3 -> BatchNorm3d -> ReLU -> (1,2,2) average pool (depth kept)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm3d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(self.conv(x)))
        b, c, d, h, w = x.shape  # a (1, 2, 2) pool is a 2x2 pool of each depth slice (CPU bf16 has no avg_pool3d)
        return F.avg_pool2d(x.reshape(b, c * d, h, w), 2).view(b, c, d, h // 2, w // 2)


class UpBlock3d(nn.Module):
    """nearest (1,2,2) upsampling -> conv3x3x3 -> BatchNorm3d -> ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm3d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0))
        return F.relu(self.norm(self.conv(x)))


class ResBlock3d(nn.Module):
    """Pre-activation residual block: x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = nn.BatchNorm3d(channels)
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm2 = nn.BatchNorm3d(channels)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))
