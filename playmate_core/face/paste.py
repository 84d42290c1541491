"""Paste rendered face crops back into the original photo through a feathered mask.

The mask lives in crop space: 1 over a rounded square (a superellipse of exponent 4) that covers
the head and shoulders, falling smoothly to exactly 0 before the crop border. Warped into the
photo, it blends the render over the original; every pixel where the mask is 0 (outside the crop,
or in its feathered margin's outer edge) keeps the original value bit for bit.
"""

from __future__ import annotations

import torch

from .geometry import ANTIALIAS_BELOW, apply, rescale_square, shrink, warp, zoom_of

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


def _placement(crop_to_image: torch.Tensor, size: int, height: int, width: int):
    """(crop -> region matrix [1, 3, 3], region bounds) or None when the crop misses the photo."""
    x0, y0, x1, y1 = _region(crop_to_image, size, height, width)
    if x1 <= x0 or y1 <= y0:
        return None
    shift = torch.tensor([[1.0, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=torch.float64, device=crop_to_image.device)
    return (shift @ crop_to_image)[None], (x0, y0, x1, y1)


def _shrunk_size(crop_to_image: torch.Tensor, size: int) -> int:
    """Crop side to resample at before warping: below 1.5x shrinking, an antialiased smaller copy."""
    zoom = zoom_of(crop_to_image)
    return max(2, round(size * zoom)) if zoom < ANTIALIAS_BELOW else size


def photo_mask(crop_to_image: torch.Tensor, size: int, height: int, width: int, feather: float,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """The paste-back mask [H, W] in photo space for a size x size crop (float32, on `device`)."""
    crop_to_image = crop_to_image.double().cpu()
    small = _shrunk_size(crop_to_image, size)
    if small != size:
        crop_to_image = crop_to_image @ torch.linalg.inv(rescale_square(torch.eye(3, dtype=torch.float64), size, small))
    mask = torch.zeros(height, width, device=device)
    placement = _placement(crop_to_image, small, height, width)
    if placement is not None:
        to_region, (x0, y0, x1, y1) = placement
        soft = crop_mask(small, feather, device)[None, None]
        mask[y0:y1, x0:x1] = warp(soft, to_region, y1 - y0, x1 - x0)[0, 0].clamp(0, 1)
    return mask


def paste(rendered: torch.Tensor, image: torch.Tensor, crop_to_image: torch.Tensor,
          feather: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend crops into one photo.

    rendered [N, 3, S, S] in crop space (S any size; crop_to_image [3, 3] maps its pixels to the
    photo), image [H, W, 3] -> (frames [N, H, W, 3], mask [H, W]) on rendered's device, float32.
    Renders shrunk by more than 1.5x are first resized with an antialiasing filter.
    """
    device = rendered.device
    height, width = image.shape[:2]
    crop_to_image = crop_to_image.double().cpu()
    mask = photo_mask(crop_to_image, rendered.shape[-1], height, width, feather, device)
    small = _shrunk_size(crop_to_image, rendered.shape[-1])
    rendered = rendered.float()
    if small != rendered.shape[-1]:
        rendered, to_small = shrink(rendered, small, small)
        crop_to_image = crop_to_image @ torch.linalg.inv(to_small)
    frames = image.to(device=device, dtype=torch.float32).expand(rendered.shape[0], -1, -1, -1).clone()
    placement = _placement(crop_to_image, small, height, width)
    if placement is not None:
        to_region, (x0, y0, x1, y1) = placement
        warped = warp(rendered, to_region.expand(rendered.shape[0], 3, 3), y1 - y0, x1 - x0)
        soft = mask[y0:y1, x0:x1][None, :, :, None]
        frames[:, y0:y1, x0:x1, :] = torch.lerp(frames[:, y0:y1, x0:x1, :], warped.permute(0, 2, 3, 1).clamp(0, 1),
                                                soft)
    return frames, mask
