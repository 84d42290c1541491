"""LivePortrait's aligned face crop, reproduced from landmarks (any layout).

Convention (LivePortrait src/utils/crop.py, source images): the vertical face axis runs from the
mid-point of the eye centres to the mouth centre; the crop box is the bounding square of the
layout's crop points in that rotated frame, scaled by `scale`, its centre moved by offset_x /
offset_y times the box side along the face axes, rotated so the face is upright (`rotate`),
sampled bilinearly to 512x512, then box-filtered to 256x256 for the networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .geometry import ANTIALIAS_BELOW, apply, rescale_square, shrink, similarity, warp, zoom_of
from .landmarks import LandmarkLayout, eye_centers, mouth_center


@dataclass(frozen=True)
class CropConfig:
    """Crop parameters; the defaults are LivePortrait's for source portraits.

    scale:    crop side / face extent (larger = more background, smaller face)
    offset_x: crop centre shift along the eye line, in crop sides (> 0: window moves to the
              face's left on screen, i.e. right in an upright photo)
    offset_y: crop centre shift along the face axis, in crop sides (< 0: window moves up,
              showing more forehead and hair)
    rotate:   level the eye line (False keeps the photo's orientation)
    size:     side of the aligned crop (the decoder renders at this size)
    network_size: side of the crop given to the networks
    """

    scale: float = 2.3
    offset_x: float = 0.0
    offset_y: float = -0.125
    rotate: bool = True
    size: int = 512
    network_size: int = 256


def crop_matrix(landmarks: torch.Tensor, layout: LandmarkLayout, config: CropConfig) -> torch.Tensor:
    """Image -> crop pixel matrices [B, 3, 3] (float64) for landmarks [B, N, >=2] in image pixels."""
    points = landmarks[..., :2].double()
    left, right = eye_centers(points, layout)
    down = mouth_center(points, layout) - (left + right) / 2
    length = down.norm(dim=-1, keepdim=True)
    fallback = torch.tensor([0.0, 1.0], dtype=points.dtype, device=points.device).expand_as(down)
    down = torch.where(length > 1e-3, down / length.clamp(min=1e-3), fallback)
    across = torch.stack([down[:, 1], -down[:, 0]], dim=-1)
    angle = torch.atan2(across[:, 1], across[:, 0])

    extent = points[:, list(layout.crop_points)]
    origin = extent.mean(1, keepdim=True)
    local = torch.stack([((extent - origin) * across[:, None]).sum(-1), ((extent - origin) * down[:, None]).sum(-1)],
                        -1)
    low, high = local.min(1).values, local.max(1).values
    middle = (low + high) / 2
    side = (high - low).max(dim=-1).values * config.scale
    center = origin[:, 0] + across * middle[:, :1] + down * middle[:, 1:]
    center = center + across * (config.offset_x * side)[:, None] + down * (config.offset_y * side)[:, None]
    if not config.rotate:
        angle = torch.zeros_like(angle)
    return similarity(config.size / side, angle, center, config.size)


def sample_crops(images: torch.Tensor, image_to_crop: torch.Tensor, size: int) -> torch.Tensor:
    """Aligned crops [B, C, size, size] of images [B, C, H, W] (black outside the image).

    Where the crop shrinks the image by more than 1.5x, the covered region is first resized with
    an antialiasing filter, so large photos do not alias; otherwise a plain bilinear warp (as
    LivePortrait's cv2.warpAffine) is used.
    """
    crops = []
    height, width = images.shape[-2:]
    for b in range(images.shape[0]):
        matrix = image_to_crop[b].double().cpu()
        source = images[b:b + 1]
        zoom = zoom_of(matrix)
        if zoom < ANTIALIAS_BELOW:
            corners = torch.tensor([[[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]]],
                                   dtype=matrix.dtype, device=matrix.device)
            spots = apply(torch.linalg.inv(matrix)[None], corners)[0]
            x0, y0 = (spots.min(0).values.floor() - 2).clamp(min=0).long().tolist()
            x1 = int(min(width, float(spots[:, 0].max().ceil()) + 3))
            y1 = int(min(height, float(spots[:, 1].max().ceil()) + 3))
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                shift = torch.tensor([[1.0, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=matrix.dtype, device=matrix.device)
                source, to_small = shrink(source[..., y0:y1, x0:x1], max(2, round((y1 - y0) * zoom)),
                                          max(2, round((x1 - x0) * zoom)))
                matrix = matrix @ torch.linalg.inv(to_small @ shift)
        crops.append(warp(source, matrix[None], size, size))
    return torch.cat(crops)


def network_crops(images: torch.Tensor, image_to_crop: torch.Tensor, config: CropConfig) -> torch.Tensor:
    """The networks' input [B, 3, network_size, network_size]: crop at config.size, box-filtered down."""
    crops = sample_crops(images, image_to_crop, config.size)
    if config.network_size != config.size:
        crops = F.interpolate(crops, size=(config.network_size, config.network_size), mode="area")
    return crops.clamp(0, 1)


def crop_to_image(image_to_crop: torch.Tensor, config: CropConfig, size: int) -> torch.Tensor:
    """Matrices [B, 3, 3] from the pixels of a size x size render of the crop to image pixels."""
    return torch.linalg.inv(rescale_square(image_to_crop, config.size, size))
