"""Building blocks shared by the BlazeFace and FaceMesh ports (TensorFlow Lite conventions in PyTorch).

The original networks were trained in TensorFlow: convolutions with 'SAME' padding put the extra
padding row/column of a stride-2 layer on the right/bottom, channel growth on residual paths pads
zero channels at the end, and depth-to-space orders channels (row, column, channel). These helpers
reproduce exactly that, so the converted weights give the same numbers as the .tflite models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding of an NCHW tensor for a square kernel (extra pixel right/bottom)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads)


def pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Append zero channels to reach `channels` (TF's channel padding on residual paths)."""
    extra = channels - x.shape[1]
    return F.pad(x, (0, 0, 0, 0, 0, extra)) if extra > 0 else x


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow DEPTH_TO_SPACE on NCHW: input channel (i * block + j) * C + c -> out[c, h*block+i, w*block+j]."""
    b, ch, h, w = x.shape
    c = ch // (block * block)
    x = x.view(b, block, block, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(b, c, h * block, w * block)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (works for depthwise too via `groups`)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(pad_same(x, self.kernel_size[0], self.stride[0]))


class SeparableResidualBlock(nn.Module):
    """BlazeBlock: depthwise 3x3 ('SAME', stride 1 or 2) + pointwise 1x1, added to the skip path.

    skip = identity, or 2x2 max pooling when stride is 2, then zero channels appended when the
    block widens. The activation (ReLU or per-channel PReLU) follows the addition.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, prelu: bool):
        super().__init__()
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride
        self.depthwise = SameConv2d(in_ch, in_ch, 3, stride=stride, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1)
        self.act = nn.PReLU(out_ch) if prelu else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x))
        skip = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        return self.act(pad_channels(skip, self.out_ch) + y)


class BottleneckBlock(nn.Module):
    """Full-range BlazeFace block: dw3x3 -> 1x1 (ReLU) -> dw3x3 -> 1x1.

    Stride 1 adds the input and applies ReLU; stride 2 (the stage entry) has no skip and ends with
    ReLU. Depthwise layers use symmetric padding 1, as the .tflite graph pads explicitly.
    """

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, stride: int):
        super().__init__()
        if stride == 1 and in_ch != out_ch:
            raise ValueError(f"a stride-1 bottleneck keeps its width, got {in_ch} -> {out_ch}")
        self.stride = stride
        self.depthwise_in = nn.Conv2d(in_ch, in_ch, 3, stride=stride, padding=1, groups=in_ch)
        self.reduce = nn.Conv2d(in_ch, mid_ch, 1)
        self.depthwise_mid = nn.Conv2d(mid_ch, mid_ch, 3, padding=1, groups=mid_ch)
        self.expand = nn.Conv2d(mid_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.reduce(self.depthwise_in(x)))
        y = self.expand(self.depthwise_mid(y))
        return F.relu(y if self.stride == 2 else x + y)


def conv_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    """1x1 convolution followed by ReLU."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.ReLU())
