"""VGG19 feature layers for the perceptual and transfer losses, read from torchvision's VGG19 file.

The file (https://download.pytorch.org/models/vgg19-dcbb9e9d.pth, 548 MB, ImageNet weights) is read with the
same strict, weights_only loading as every model file; only its ``features.<index>.weight/bias`` tensors are
used (the classifier is ignored). Channel widths are read from the file, so a narrow VGG19 of the same layout
(random weights in tests) loads the same way. No torchvision needed: the layers are built here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint.io import CheckpointError, load_strict, read_state_dict

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
# torchvision's vgg19().features: convolutions per block (a ReLU after each), a 2x2 max-pool between blocks
BLOCKS = (2, 2, 4, 4, 4)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv_indices() -> list[list[int]]:
    """Index of each convolution in torchvision's ``features`` Sequential, per block."""
    out, index = [], 0
    for count in BLOCKS:
        out.append([index + 2 * k for k in range(count)])
        index += 2 * count + 1  # conv + ReLU per layer, then the pool
    return out


class VGG19Features(nn.Module):
    """Images [B, 3, H, W] in [0, 1] -> the relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 features (the first ReLU of
    each block, the layers of the usual perceptual loss). Weights frozen, eval mode."""

    def __init__(self, widths: tuple[int, ...] = (64, 128, 256, 512, 512)):
        super().__init__()
        self.widths = tuple(widths)
        self.features = nn.Sequential()
        cin = 3
        for block, (count, width) in enumerate(zip(BLOCKS, self.widths)):
            if block:
                self.features.append(nn.MaxPool2d(2, 2))
            for _ in range(count):
                self.features.append(nn.Conv2d(cin, width, 3, padding=1))
                self.features.append(nn.ReLU())
                cin = width
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.taps = [indices[0] + 1 for indices in conv_indices()]  # the ReLU after each block's first conv
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                out.append(x)
                if len(out) == len(self.taps):
                    break
        return out


def load_vgg19(path: str) -> VGG19Features:
    """VGG19Features from a torchvision VGG19 state dict (.pth or .safetensors); widths read from the file."""
    raw, _ = read_state_dict(path)
    state = {k[len("features."):]: v for k, v in raw.items() if k.startswith("features.") and torch.is_tensor(v)}
    firsts = [indices[0] for indices in conv_indices()]
    if not all(f"{i}.weight" in state for i in firsts):
        raise CheckpointError(f"--vgg {path}: not a torchvision VGG19 file (no features.<n>.weight convolutions); "
                              f"download {VGG19_URL}")
    model = VGG19Features(tuple(int(state[f"{i}.weight"].shape[0]) for i in firsts))
    load_strict(model.features, state, path, "VGG19 features")
    return model.requires_grad_(False).eval()


def perceptual_distance(features_a: list[torch.Tensor], features_b: list[torch.Tensor], squared: bool) -> torch.Tensor:
    """Sum over layers of the mean |a - b| (squared=False) or the mean (a - b)^2 (squared=True)."""
    total = features_a[0].new_zeros((), dtype=torch.float32)
    for a, b in zip(features_a, features_b):
        diff = a.float() - b.float()
        total = total + (diff.square().mean() if squared else diff.abs().mean())
    return total


def resize_for_vgg(images: torch.Tensor, size: int) -> torch.Tensor:
    """[B, 3, H, W] -> [B, 3, size, size] (area filter when shrinking)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    mode = "area" if images.shape[-1] > size else "bilinear"
    return F.interpolate(images, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
