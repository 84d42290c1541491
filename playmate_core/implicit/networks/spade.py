"""SPADE decoder G: warped feature [B, 256, 64, 64] -> image [B, 3, 512, 512] in [0, 1].

The warped feature is both the decoder input and the segmentation map of every SPADE layer.
Residual-block convolutions are spectrally normalised with the stored (u, v) vectors, no power
iteration: W_eval = W_orig / (u . W_orig v).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import SpadeConfig


class SpectralNormConv2d(nn.Module):
    """Conv2d whose weight is weight_orig / sigma, sigma = u . (weight_orig.flatten(1) @ v)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_orig = nn.Parameter(torch.empty(cout, cin, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("weight_u", torch.empty(cout))
        self.register_buffer("weight_v", torch.empty(cin * kernel_size * kernel_size))
        nn.init.kaiming_uniform_(self.weight_orig, a=5**0.5)
        nn.init.normal_(self.weight_u)
        nn.init.normal_(self.weight_v)

    def weight(self) -> torch.Tensor:
        """The normalised weight, computed in float32 outside autocast (as the official fp16 autocast keeps it), in
        the weight dtype."""
        weight = self.weight_orig.float()
        with torch.autocast(weight.device.type, enabled=False):
            sigma = torch.dot(self.weight_u.float(), weight.flatten(1) @ self.weight_v.float())
        return (weight / sigma).to(self.weight_orig.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class SPADE(nn.Module):
    """Parameter-free instance norm modulated by (1 + gamma(seg), beta(seg))."""

    def __init__(self, channels: int, label_channels: int, hidden: int):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        normalized = F.instance_norm(x, eps=1e-5)
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")
        actv = self.mlp_shared(seg)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, label_channels: int, hidden: int):
        super().__init__()
        middle = min(cin, cout)
        self.learned_shortcut = cin != cout
        self.conv_0 = SpectralNormConv2d(cin, middle, 3)
        self.conv_1 = SpectralNormConv2d(middle, cout, 3)
        self.norm_0 = SPADE(cin, label_channels, hidden)
        self.norm_1 = SPADE(middle, label_channels, hidden)
        if self.learned_shortcut:
            self.conv_s = SpectralNormConv2d(cin, cout, 1, bias=False)
            self.norm_s = SPADE(cin, label_channels, hidden)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx


class SPADEDecoder(nn.Module):
    def __init__(self, cfg: SpadeConfig):
        super().__init__()
        self.cfg = cfg
        cin, hidden = cfg.in_channels, cfg.hidden_channels
        width = 2 * cin
        self.fc = nn.Conv2d(cin, width, 3, padding=1)
        for i in range(cfg.num_middle_blocks):
            self.add_module(f"G_middle_{i}", SPADEResBlock(width, width, cin, hidden))
        self.up_0 = SPADEResBlock(width, cin, cin, hidden)
        self.up_1 = SPADEResBlock(cin, cfg.out_channels, cin, hidden)
        self.conv_img = nn.Sequential(
            nn.Conv2d(cfg.out_channels, 3 * cfg.upscale**2, 3, padding=1), nn.PixelShuffle(cfg.upscale)
        )

    def middle_blocks(self) -> list[SPADEResBlock]:
        return [getattr(self, f"G_middle_{i}") for i in range(self.cfg.num_middle_blocks)]

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """[B, in_channels, H, W] -> [B, 3, 4 upscale H, 4 upscale W] in [0, 1] (512x512 from 64x64)."""
        seg = feature
        x = self.fc(feature)
        for block in self.middle_blocks():
            x = block(x, seg)
        x = self.up_0(F.interpolate(x, scale_factor=2.0), seg)
        x = self.up_1(F.interpolate(x, scale_factor=2.0), seg)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))
