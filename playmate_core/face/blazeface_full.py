"""BlazeFace full-range face detector network (PyTorch port of face_detection_full_range_sparse)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BlazeFaceConfig
from .layers import BottleneckBlock, conv_relu, depth_to_space


class _Head(nn.Module):
    """1x1 conv to 4*n channels, depthwise 3x3/2, depth-to-space x2: n values per 48x48 cell."""

    def __init__(self, in_ch: int, out_per_cell: int):
        super().__init__()
        self.project = nn.Conv2d(in_ch, 4 * out_per_cell, 1)
        self.depthwise = nn.Conv2d(4 * out_per_cell, 4 * out_per_cell, 3, stride=2, padding=1,
                                   groups=4 * out_per_cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space(self.depthwise(self.project(x)), 2)


class BlazeFaceFullRange(nn.Module):
    """192x192 RGB in [-1, 1] -> (regressors [B, 2304, 16], score logits [B, 2304]).

    Stem conv 3x3/2 + ReLU, five bottleneck stages (96 -> 6 px), a top-down feature pyramid
    (bilinear x2 upsampling + ReLU-projected laterals) back to 48x48, one anchor per cell.
    Parameters are registered in the order the .tflite graph runs them.
    """

    def __init__(self, config: BlazeFaceConfig):
        super().__init__()
        self.config = config
        self.stem = nn.Conv2d(3, config.stem_channels, 3, stride=2, padding=1)
        self.stages = nn.ModuleList()
        self.laterals = nn.ModuleList()
        width = config.stem_channels
        for index, (out_ch, mid, count) in enumerate(config.stages):
            # the first stage keeps the stem's resolution; later ones open with a stride-2 block
            blocks = [] if index == 0 else [BottleneckBlock(width, mid, out_ch, 2)]
            blocks += [BottleneckBlock(out_ch, mid, out_ch, 1) for _ in range(count)]
            self.stages.append(nn.Sequential(*blocks))
            width = out_ch
            if 1 <= index <= len(config.laterals):
                self.laterals.append(conv_relu(out_ch, config.laterals[index - 1]))
        self.top = conv_relu(width, config.top_down[0][0])
        self.top_down = nn.ModuleList()
        self.reduce = nn.ModuleList()
        for level, (out_ch, mid, count) in enumerate(config.top_down):
            self.top_down.append(nn.Sequential(*[BottleneckBlock(out_ch, mid, out_ch, 1) for _ in range(count)]))
            if level + 1 < len(config.top_down):
                self.reduce.append(conv_relu(out_ch, config.top_down[level + 1][0]))
        head_ch = config.top_down[-1][0]
        self.classifier = _Head(head_ch, 1)
        self.regressor = _Head(head_ch, 4 + 2 * config.num_keypoints)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(x))
        laterals = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if 1 <= index <= len(self.laterals):
                laterals.append(self.laterals[index - 1](x))
        x = self.top(x)
        for level, blocks in enumerate(self.top_down):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) + laterals[-1 - level]
            x = blocks(x)
            if level < len(self.reduce):
                x = self.reduce[level](x)
        batch = x.shape[0]
        scores = self.classifier(x).permute(0, 2, 3, 1).reshape(batch, -1)
        boxes = self.regressor(x).permute(0, 2, 3, 1).reshape(batch, -1, 4 + 2 * self.config.num_keypoints)
        return boxes, scores
