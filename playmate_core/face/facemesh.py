"""FaceMesh landmark network (PyTorch port of mediapipe's face_landmark.tflite, 468 points)."""

from __future__ import annotations

import torch
from torch import nn

from .config import FaceMeshConfig
from .layers import SameConv2d, SeparableResidualBlock


class _Head(nn.Module):
    """Blocks on the shared 6x6 trunk, 1x1 to head width + PReLU, one block, 3x3 'VALID' to outputs."""

    def __init__(self, blocks, head_ch: int, out_ch: int):
        super().__init__()
        self.blocks = nn.Sequential(*(SeparableResidualBlock(i, o, s, prelu=True) for i, o, s in blocks))
        width = blocks[-1][1]
        self.project = nn.Conv2d(width, head_ch, 1)
        self.project_act = nn.PReLU(head_ch)
        self.refine = SeparableResidualBlock(head_ch, head_ch, 1, prelu=True)
        self.out = nn.Conv2d(head_ch, out_ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.refine(self.project_act(self.project(self.blocks(x))))
        return self.out(x).flatten(1)


class FaceMesh(nn.Module):
    """192x192 RGB in [0, 1] -> (landmarks [B, 468, 3] in input pixels, face-presence logit [B])."""

    def __init__(self, config: FaceMeshConfig):
        super().__init__()
        self.config = config
        self.stem = SameConv2d(3, config.stem_channels, 3, stride=2)
        self.stem_act = nn.PReLU(config.stem_channels)
        self.trunk = nn.Sequential(*(SeparableResidualBlock(i, o, s, prelu=True) for i, o, s in config.trunk))
        self.landmark_head = _Head(config.landmark_blocks, config.head_channels, 3 * config.num_landmarks)
        self.presence_head = _Head(config.presence_blocks, config.head_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(self.stem_act(self.stem(x)))
        landmarks = self.landmark_head(features).view(x.shape[0], self.config.num_landmarks, 3)
        return landmarks, self.presence_head(features)[:, 0]
