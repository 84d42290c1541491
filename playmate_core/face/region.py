"""Crops without a face detector: the whole image, or a box (given in pixels or as a mask's bounding box).

This is the official animal path's crop (JoyVASA / LivePortrait with ``flag_do_crop`` off: the whole
image resized to the network size, aspect ratio not kept), generalised to a box. With ``letterbox``
the region is centred in a square of its longer side instead of being stretched (black where that
square leaves the photo).

Geometry (pixel-centre convention, as face.geometry): a region covering pixel columns x0..x1-1 and
rows y0..y1-1 has its outer edges at x0 - 0.5 and x1 - 0.5; the crop matrix maps those edges onto
the edges of the size x size crop (-0.5 and size - 0.5), so the region fills the crop exactly. The
network crop is the region resized with bilinear filtering (antialiased when it shrinks), which
samples exactly where that matrix says: a region already network_size square is copied unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .crop import CropConfig

CROP_MODES = ("face", "whole image", "box")
MIN_BOX_SIDE = 64
MASK_THRESHOLD = 0.5


@dataclass(frozen=True)
class Region:
    """A pixel box (x0, y0, x1, y1), x1 / y1 exclusive like a slice: columns x0..x1-1, rows y0..y1-1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def square(self) -> "Region":
        """The square of the longer side centred on this box (an odd difference puts the extra pixel last)."""
        side = max(self.width, self.height)
        left, top = self.x0 - (side - self.width) // 2, self.y0 - (side - self.height) // 2
        return Region(left, top, left + side, top + side)


def check_box(box: Region, height: int, width: int, name: str = "box") -> Region:
    """The box must lie inside the image and be at least MIN_BOX_SIDE px on each side."""
    values = f"({box.x0}, {box.y0}, {box.x1}, {box.y1})"
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        raise ValueError(
            f"{name} {values} is empty: set {name}_x1 > {name}_x0 and {name}_y1 > {name}_y0 (pixels, x1 / y1 "
            "exclusive), or connect a mask whose bounding box is the crop"
        )
    if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
        raise ValueError(
            f"{name} {values} reaches outside the {width}x{height} image: keep 0 <= {name}_x0 < {name}_x1 <= {width} "
            f"and 0 <= {name}_y0 < {name}_y1 <= {height}"
        )
    if min(box.width, box.height) < MIN_BOX_SIDE:
        raise ValueError(
            f"{name} {values} is {box.width}x{box.height} px; the crop needs at least {MIN_BOX_SIDE} px per side: "
            "use a larger box or mask around the head"
        )
    return box


def box_from_mask(mask: torch.Tensor, index: int = 0, name: str = "mask") -> Region:
    """Bounding box of the pixels >= MASK_THRESHOLD of mask [H, W] (x1 / y1 exclusive)."""
    inside = mask >= MASK_THRESHOLD
    rows, cols = inside.any(dim=1).nonzero(), inside.any(dim=0).nonzero()
    if rows.numel() == 0:
        where = "" if index == 0 else f" (image {index} of the batch)"
        raise ValueError(
            f"{name} is empty{where}: no pixel is {MASK_THRESHOLD} or more; paint the animal's head in the mask, "
            "or disconnect it and give the box in pixels"
        )
    return Region(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def masks_for(mask, batch: int, height: int, width: int, name: str = "mask") -> torch.Tensor:
    """A ComfyUI MASK [H, W] or [B, H, W] -> [batch, H, W] (one mask for every image, or one each)."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a MASK tensor [B, H, W], got {type(mask).__name__}")
    mask = mask[None] if mask.dim() == 2 else mask
    if mask.dim() != 3 or tuple(mask.shape[1:]) != (height, width) or mask.shape[0] not in (1, batch):
        raise ValueError(
            f"{name} is shaped {tuple(mask.shape)} but the image batch is {batch} x {height} x {width}: "
            "the mask must have the image's size (one mask, or one per image)"
        )
    return mask.float().cpu().expand(batch, -1, -1)


def region_matrix(region: Region, size: int) -> torch.Tensor:
    """[3, 3] float64 image pixels -> pixels of a size x size crop whose edges are the region's edges."""
    sx, sy = size / region.width, size / region.height
    return torch.tensor([[sx, 0.0, (0.5 - region.x0) * sx - 0.5],
                         [0.0, sy, (0.5 - region.y0) * sy - 0.5],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)


def region_crop(image: torch.Tensor, region: Region, size: int) -> torch.Tensor:
    """image [C, H, W] -> [C, size, size]: the region (zeros outside the image) resized bilinearly."""
    height, width = image.shape[-2:]
    pads = (max(0, -region.x0), max(0, region.x1 - width), max(0, -region.y0), max(0, region.y1 - height))
    padded = F.pad(image[None], pads) if any(pads) else image[None]
    x0, y0 = region.x0 + pads[0], region.y0 + pads[2]
    patch = padded[..., y0:y0 + region.height, x0:x0 + region.width]
    if (region.height, region.width) == (size, size):
        return patch[0].clone()
    shrinks = region.height > size or region.width > size
    resized = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinks)
    return resized[0].clamp(0, 1)


def crop_regions(images: torch.Tensor, regions: list[Region], letterbox: bool,
                 config: CropConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """images [B, H, W, 3] and one region each -> (image_to_crop [B, 3, 3] float64 into the config.size crop,
    network crops [B, 3, network_size, network_size]). letterbox: use each region's centred square."""
    placed = [r.square() if letterbox else r for r in regions]
    matrices = torch.stack([region_matrix(r, config.size) for r in placed])
    channels_first = images.permute(0, 3, 1, 2)
    crops = torch.stack([region_crop(channels_first[b], r, config.network_size) for b, r in enumerate(placed)])
    return matrices, crops
