"""Hyper-parameters read back from tensor shapes, so any size of the networks loads strictly.

The official files give RendererConfig.official(); a small test set gives its own sizes. Each
function takes a state dict in our module's key names.
"""

from __future__ import annotations

import math
import re

import torch

from .config import (
    AppearanceConfig,
    DenseMotionConfig,
    MLPConfig,
    MotionExtractorConfig,
    SpadeConfig,
    StitchingConfig,
    WarpingConfig,
)

OFFICIAL_DOWN_BLOCKS = 2  # warping / SPADE store no down blocks; their width is block_expansion * 2**2


def _count(state: dict[str, torch.Tensor], pattern: str) -> int:
    """Number of distinct indices i such that some key matches ``pattern`` with (\\d+) for i."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise KeyError(key)
    return tuple(state[key].shape)


def appearance_config(state: dict[str, torch.Tensor]) -> AppearanceConfig:
    first = _shape(state, "first.conv.weight")
    max_features = _shape(state, "second.weight")[0]
    num_res = _count(state, r"resblocks_3d\.3dr(\d+)\.")
    reshape_channel = _shape(state, "resblocks_3d.3dr0.conv1.weight")[0]
    return AppearanceConfig(
        image_channel=first[1],
        block_expansion=first[0],
        num_down_blocks=_count(state, r"down_blocks\.(\d+)\.conv\.weight"),
        max_features=max_features,
        reshape_channel=reshape_channel,
        reshape_depth=max_features // reshape_channel,
        num_resblocks=num_res,
    )


def motion_extractor_config(state: dict[str, torch.Tensor]) -> MotionExtractorConfig:
    stem = _shape(state, "detector.downsample_layers.0.0.weight")
    num_stages = _count(state, r"detector\.stages\.(\d+)\.")
    dims = [stem[0]] + [_shape(state, f"detector.downsample_layers.{i}.1.weight")[0] for i in range(1, num_stages)]
    depths = [_count(state, rf"detector\.stages\.{i}\.(\d+)\.") for i in range(num_stages)]
    return MotionExtractorConfig(
        num_kp=_shape(state, "detector.fc_kp.weight")[0] // 3,
        in_channels=stem[1],
        depths=tuple(depths),
        dims=tuple(dims),
        num_bins=_shape(state, "detector.fc_pitch.weight")[0],
    )


def warping_config(state: dict[str, torch.Tensor]) -> WarpingConfig:
    prefix = "dense_motion_network."
    compress = _shape(state, prefix + "compress.weight")
    num_blocks = _count(state, prefix + r"hourglass\.encoder\.down_blocks\.(\d+)\.")
    hourglass_out = _shape(state, prefix + "hourglass.decoder.conv.weight")[0]
    out_channels = _shape(state, "fourth.weight")[0]
    dense = DenseMotionConfig(
        block_expansion=_shape(state, prefix + f"hourglass.decoder.up_blocks.{num_blocks - 1}.conv.weight")[0],
        max_features=_shape(state, prefix + f"hourglass.encoder.down_blocks.{num_blocks - 1}.conv.weight")[0],
        num_blocks=num_blocks,
        reshape_depth=_shape(state, prefix + "occlusion.weight")[1] // hourglass_out,
        compress=compress[0],
    )
    return WarpingConfig(
        num_kp=_shape(state, prefix + "mask.weight")[0] - 1,
        block_expansion=out_channels // 2**OFFICIAL_DOWN_BLOCKS,
        max_features=_shape(state, "third.conv.weight")[1],
        num_down_blocks=OFFICIAL_DOWN_BLOCKS,
        reshape_channel=compress[1],
        dense_motion=dense,
    )


def spade_config(state: dict[str, torch.Tensor]) -> SpadeConfig:
    in_channels = _shape(state, "fc.weight")[1]
    return SpadeConfig(
        upscale=int(round(math.sqrt(_shape(state, "conv_img.0.weight")[0] / 3))),
        block_expansion=in_channels // 2**OFFICIAL_DOWN_BLOCKS,
        num_down_blocks=OFFICIAL_DOWN_BLOCKS,
        num_middle_blocks=_count(state, r"G_middle_(\d+)\."),
        hidden_channels=_shape(state, "up_0.norm_0.mlp_shared.0.weight")[0],
        out_channels=_shape(state, "up_1.conv_1.weight_orig")[0],
    )


def mlp_config(state: dict[str, torch.Tensor], prefix: str) -> MLPConfig:
    rx = re.compile(rf"{re.escape(prefix)}mlp\.(\d+)\.weight")
    indices = sorted({int(m.group(1)) for m in map(rx.match, state) if m})
    shapes = [_shape(state, f"{prefix}mlp.{i}.weight") for i in indices]
    return MLPConfig(shapes[0][1], tuple(s[0] for s in shapes[:-1]), shapes[-1][0])


def stitching_config(state: dict[str, torch.Tensor]) -> StitchingConfig:
    return StitchingConfig(
        stitching=mlp_config(state, "stitching."), lip=mlp_config(state, "lip."), eye=mlp_config(state, "eye.")
    )
