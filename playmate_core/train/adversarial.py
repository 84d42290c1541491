"""The optional extra terms of renderer fine-tuning (both off by default):

- GAN: a small patch discriminator on the reconstruction, hinge loss. The discriminator loss and the generator's
  adversarial term come out of the same forward pass: the discriminator sees the reconstruction detached (so its
  loss reaches only the discriminator), and the generator term runs the discriminator with detached parameters
  (so it reaches only the tuned networks). One backward then serves both optimisers, and under torchrun the
  discriminator's gradients are averaged by the same DistributedDataParallel as the generator's.
- Identity: 1 - cosine similarity of LivePortrait's frozen appearance-extractor (F) features of the
  reconstruction and of the target. This is an appearance-identity proxy, not a face-recognition loss (the pack
  ships no face-recognition network).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from .vgg import resize_for_vgg


class PatchDiscriminator(nn.Module):
    """[B, 3, H, W] images in [0, 1] -> [B, 1, H / 2^layers, W / 2^layers] real/fake scores (one per patch).

    `layers` strided 4x4 convolutions (widths channels * 2^i, at most 8 x channels) with LeakyReLU(0.2), then a
    3x3 convolution to one score per patch. No normalisation layers: the renderer keeps every module in eval mode."""

    def __init__(self, channels: int = 64, layers: int = 3):
        super().__init__()
        blocks, width_in = [], 3
        for i in range(layers):
            width = channels * min(2 ** i, 8)
            blocks += [nn.Conv2d(width_in, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width_in = width
        blocks.append(nn.Conv2d(width_in, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)


def discriminator_hinge(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """mean relu(1 - D(real)) + mean relu(1 + D(fake)), with the fake detached (gradient to D only)."""
    scores = discriminator(torch.cat([real, fake.detach()])).float()
    real_scores, fake_scores = scores.chunk(2)
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def generator_hinge(discriminator: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """-mean D(fake) through a copy-free frozen view of D (detached parameters): the gradient reaches the fake only."""
    frozen = {k: v.detach() for k, v in discriminator.named_parameters()}
    return -functional_call(discriminator, frozen, (fake,)).float().mean()


def identity_distance(extractor: nn.Module, images: torch.Tensor, target: torch.Tensor, side: int) -> torch.Tensor:
    """1 - cosine similarity of the extractor's features (flattened per row) of images and target, both resized to
    side x side (the extractor's input size); mean over rows, in [0, 2]."""
    features = extractor(resize_for_vgg(torch.cat([images, target]), side)).float().flatten(1)
    ours, theirs = features.chunk(2)
    return (1 - F.cosine_similarity(ours, theirs.detach(), dim=1)).mean()
