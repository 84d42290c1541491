"""The converted mediapipe face weights bundled with the pack (playmate_core/face/weights/)."""

from __future__ import annotations

import os

import torch
from torch import nn

from .blazeface import BlazeFaceShortRange
from .blazeface_full import BlazeFaceFullRange
from .config import BlazeFaceConfig, FaceMeshConfig
from .facemesh import FaceMesh

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def build_network(config: BlazeFaceConfig | FaceMeshConfig) -> nn.Module:
    """The network described by a config, with uninitialised weights."""
    if isinstance(config, FaceMeshConfig):
        return FaceMesh(config)
    if config.variant == "short_range":
        return BlazeFaceShortRange(config)
    if config.variant == "full_range":
        return BlazeFaceFullRange(config)
    raise ValueError(f"unknown BlazeFace variant {config.variant!r}")


def load_network(config: BlazeFaceConfig | FaceMeshConfig, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> nn.Module:
    """Build a network and load its bundled weights strictly (eval mode, no gradients)."""
    from safetensors.torch import load_file

    path = os.path.join(WEIGHTS_DIR, config.weights_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"bundled face weights {path} are missing: reinstall the pack, or recreate them with "
            "tools/convert_mediapipe_face.py"
        )
    net = build_network(config)
    net.load_state_dict(load_file(path), strict=True)
    return net.to(device=device, dtype=dtype).eval().requires_grad_(False)
