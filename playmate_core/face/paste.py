"""Paste rendered face crops back into the original photo through a feathered mask.

The mask lives in crop space: 1 over a rounded square (a superellipse of exponent 4) that covers
the head and shoulders, falling smoothly to exactly 0 before the crop border. Warped into the
photo, it blends the render over the original; every pixel where the mask is 0 (outside the crop,
or in its feathered margin's outer edge) keeps the original value bit for bit.
"""

from __future__ import annotations

import torch

from .geometry import ANTIALIAS_BELOW, apply, shrink, warp, zoom_of

MASK_EXPONENT = 4.0
MASK_MARGIN = 0.02


def crop_mask(size: int, feather: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Feathered mask [size, size] in [0, 1]: 1 in the middle, 0 within MASK_MARGIN of the border.

    feather: width of the smooth fall-off as a fraction of the half side (0 = hard edge).
    """
    if not 0.0 <= feather <= 0.9:
        raise ValueError(f"feather must be in [0, 0.9], got {feather}")
    coords = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size * 2 - 1
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    radius = (xs.abs() ** MASK_EXPONENT + ys.abs() ** MASK_EXPONENT) ** (1 / MASK_EXPONENT)
    edge = 1 - MASK_MARGIN
    if feather == 0:
        return (radius < edge).float()
    t = ((edge - radius) / feather).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _region(crop_to_image: torch.Tensor, size: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1) of the image area a crop can touch, clamped to the image."""
    corners = torch.tensor([[[-1.0, -1.0], [size, -1.0], [-1.0, size], [size, size]]], dtype=crop_to_image.dtype,
                           device=crop_to_image.device)
    spots = apply(crop_to_image[None], corners)[0]
    x0 = max(0, int(spots[:, 0].min().floor()))
    y0 = max(0, int(spots[:, 1].min().floor()))
    x1 = min(width, int(spots[:, 0].max().ceil()) + 1)
    y1 = min(height, int(spots[:, 1].max().ceil()) + 1)
    return x0, y0, x1, y1


def paste(rendered: torch.Tensor, image: torch.Tensor, crop_to_image: torch.Tensor,
          feather: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend crops into one photo.

    rendered [N, 3, S, S] in crop space (S any size; crop_to_image [3, 3] maps its pixels to the
    photo), image [H, W, 3] -> (frames [N, H, W, 3], mask [H, W]) on rendered's device, float32.
    """
    device = rendered.device
    height, width = image.shape[:2]
    crop_to_image = crop_to_image.double().to(device)
    zoom = zoom_of(crop_to_image)
    if zoom < ANTIALIAS_BELOW:
        small = max(2, round(rendered.shape[-1] * zoom))
        rendered, to_small = shrink(rendered.float(), small, small)
        crop_to_image = crop_to_image @ torch.linalg.inv(to_small)
    size = rendered.shape[-1]
    base = image.to(device=device, dtype=torch.float32)
    frames = base.expand(rendered.shape[0], -1, -1, -1).clone()
    mask = torch.zeros(height, width, device=device)
    x0, y0, x1, y1 = _region(crop_to_image, size, height, width)
    if x1 <= x0 or y1 <= y0:
        return frames, mask
    shift = torch.tensor([[1.0, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=torch.float64, device=device)
    to_region = (shift @ crop_to_image)[None]
    region_h, region_w = y1 - y0, x1 - x0
    soft = warp(crop_mask(size, feather, device)[None, None], to_region, region_h, region_w)[0, 0].clamp(0, 1)
    warped = warp(rendered.float(), to_region.expand(rendered.shape[0], 3, 3), region_h, region_w)
    original = frames[:, y0:y1, x0:x1, :]
    frames[:, y0:y1, x0:x1, :] = torch.lerp(original, warped.permute(0, 2, 3, 1).clamp(0, 1), soft[None, :, :, None])
    mask[y0:y1, x0:x1] = soft
    return frames, mask
