"""Affine geometry in pixel-index coordinates (pixel i's centre at i, OpenCV's warpAffine convention).

Every matrix here is 3x3 and maps source pixels to destination pixels; `warp` samples with kornia
(bilinear, align_corners=True, which is exactly cv2.warpAffine's convention). Matrices are float64
on the CPU (some devices, e.g. MPS, have no float64); `warp` moves a float32 copy to the images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.geometry.transform import warp_affine

# warps that shrink by more than this first resize their source with an antialiasing filter
ANTIALIAS_BELOW = 1 / 1.5


def warp(images: torch.Tensor, matrices: torch.Tensor, height: int, width: int,
         padding: str = "zeros") -> torch.Tensor:
    """images [B, C, H, W], matrices [B, 3, 3] (source -> destination pixels) -> [B, C, height, width]."""
    affine = matrices[:, :2, :].to(device=images.device, dtype=images.dtype)
    return warp_affine(images, affine, (height, width), mode="bilinear",
                       padding_mode=padding, align_corners=True)


def similarity(scale: torch.Tensor, angle: torch.Tensor, center: torch.Tensor, size: float) -> torch.Tensor:
    """[N, 3, 3] taking image pixels to a size x size square: centre -> (size/2, size/2),
    rotated by -angle (radians, y down) so a direction at `angle` becomes the +x axis, scaled by `scale`.

    scale [N], angle [N], center [N, 2]. This is LivePortrait's M_o2c and mediapipe's ROI mapping.
    """
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    matrix = torch.zeros(scale.shape[0], 3, 3, dtype=scale.dtype, device=scale.device)
    matrix[:, 0, 0], matrix[:, 0, 1] = cos, sin
    matrix[:, 1, 0], matrix[:, 1, 1] = -sin, cos
    matrix[:, 0, 2] = size / 2 - (cos * center[:, 0] + sin * center[:, 1])
    matrix[:, 1, 2] = size / 2 - (-sin * center[:, 0] + cos * center[:, 1])
    matrix[:, 2, 2] = 1
    return matrix


def apply(matrices: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Transform points [N, P, 2] by matrices [N, 3, 3]."""
    return points @ matrices[:, :2, :2].transpose(1, 2) + matrices[:, None, :2, 2]


def letterbox(height: int, width: int, size: int) -> tuple[torch.Tensor, float, tuple[float, float]]:
    """Fit an image into a size x size square keeping its aspect (centred, mediapipe's keep_aspect_ratio).

    Returns the [3, 3] image -> square matrix, the square's side in image pixels and its top-left
    corner in image pixels (normalised square coordinate u maps to corner + u * side).
    """
    side = float(max(height, width))
    corner = ((width - side) / 2, (height - side) / 2)
    k = size / side
    matrix = torch.tensor([[k, 0, -corner[0] * k], [0, k, -corner[1] * k], [0, 0, 1]], dtype=torch.float64)
    return matrix, side, corner


def rescale_square(matrix: torch.Tensor, from_size: int, to_size: int) -> torch.Tensor:
    """Turn a matrix into a from_size square into one into a to_size square covering the same area.

    Pixel i of a to_size grid covers the same area as coordinate (i + 0.5) * from/to - 0.5 of the
    from_size grid (area resampling), so this is exact for 2x box downsampling.
    """
    r = to_size / from_size
    adjust = torch.tensor([[r, 0, (r - 1) / 2], [0, r, (r - 1) / 2], [0, 0, 1]], dtype=matrix.dtype,
                          device=matrix.device)
    return adjust @ matrix


def zoom_of(matrix: torch.Tensor) -> float:
    """Linear scale factor of a [3, 3] similarity (destination pixels per source pixel)."""
    return float(torch.linalg.det(matrix[:2, :2].double()).abs().sqrt())


def shrink(images: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Antialiased (bicubic) resize of [B, C, h, w] to (height, width), with the [3, 3] old -> new pixel matrix."""
    fy, fx = height / images.shape[-2], width / images.shape[-1]
    resized = F.interpolate(images, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    matrix = torch.tensor([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2], [0, 0, 1]], dtype=torch.float64)
    return resized, matrix
