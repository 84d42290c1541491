"""Appearance feature extractor F: portrait crop -> 3D appearance volume f_s."""

from __future__ import annotations

import torch
from torch import nn

from ..config import AppearanceConfig
from .blocks import ConvNormAct2d, DownBlock2d, ResBlock3d


class AppearanceFeatureExtractor(nn.Module):
    """[B, 3, 256, 256] RGB in [0, 1] -> f_s [B, reshape_channel, reshape_depth, 64, 64]."""

    def __init__(self, cfg: AppearanceConfig):
        super().__init__()
        self.cfg = cfg
        self.first = ConvNormAct2d(cfg.image_channel, cfg.block_expansion)
        channels = [min(cfg.max_features, cfg.block_expansion * 2**i) for i in range(cfg.num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(DownBlock2d(channels[i], channels[i + 1]) for i in range(cfg.num_down_blocks))
        self.second = nn.Conv2d(channels[-1], cfg.max_features, 1)
        self.resblocks_3d = nn.Sequential()
        for i in range(cfg.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(cfg.reshape_channel))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.first(image)
        for block in self.down_blocks:
            x = block(x)
        x = self.second(x)
        b, _, h, w = x.shape
        return self.resblocks_3d(x.view(b, self.cfg.reshape_channel, self.cfg.reshape_depth, h, w))
