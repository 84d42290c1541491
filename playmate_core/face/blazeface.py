"""BlazeFace short-range face detector network (PyTorch port of mediapipe's face_detection_short_range)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BlazeFaceConfig
from .layers import SameConv2d, SeparableResidualBlock


class BlazeFaceShortRange(nn.Module):
    """128x128 RGB in [-1, 1] -> (regressors [B, 896, 16], score logits [B, 896]).

    Stem conv 5x5/2 + ReLU, 16 BlazeBlocks (ReLU); SSD heads on the 16x16 (2 anchors per cell)
    and 8x8 (6 anchors per cell) feature maps, anchors ordered (row, column, anchor).
    """

    def __init__(self, config: BlazeFaceConfig):
        super().__init__()
        self.config = config
        self.stem = SameConv2d(3, config.stem_channels, 5, stride=2)
        self.blocks = nn.ModuleList(SeparableResidualBlock(i, o, s, prelu=False) for i, o, s in config.blocks)
        tap_widths = [config.blocks[t][1] for t in config.head_taps]
        self.classifiers = nn.ModuleList(
            nn.Conv2d(w, n, 1) for w, n in zip(tap_widths, config.anchors_per_cell)
        )
        coords = 4 + 2 * config.num_keypoints
        self.regressors = nn.ModuleList(
            nn.Conv2d(w, n * coords, 1) for w, n in zip(tap_widths, config.anchors_per_cell)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(x))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.config.head_taps:
                taps.append(x)
        return _ssd_outputs(taps, self.classifiers, self.regressors, 4 + 2 * self.config.num_keypoints)


def _ssd_outputs(taps, classifiers, regressors, coords: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten per-tap head outputs to [B, anchors, coords] and [B, anchors] in (row, col, anchor) order."""
    batch = taps[0].shape[0]
    scores = [head(t).permute(0, 2, 3, 1).reshape(batch, -1) for head, t in zip(classifiers, taps)]
    boxes = [head(t).permute(0, 2, 3, 1).reshape(batch, -1, coords) for head, t in zip(regressors, taps)]
    return torch.cat(boxes, dim=1), torch.cat(scores, dim=1)
