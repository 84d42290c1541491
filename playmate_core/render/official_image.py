"""LivePortrait's image steps as the official JoyVASA pipeline does them: the uint8 source crop and the paste-back.

Source crop: warpAffine of the uint8 photo into the 512 crop (bilinear, zero border), then
cv2.resize INTER_AREA to 256, which for this exact 2x reduction is (a + b + c + d + 2) >> 2.

The official pipeline truncates the decoder output to uint8 (clip to [0, 1], * 255, astype(uint8)),
warps it and LivePortrait's `mask_template.png` into the photo with OpenCV's `warpAffine`
(bilinear, zero border) and blends in float32: clip(mask * frame + (1 - mask) * photo, 0, 255),
truncated to uint8, with mask = warped template / 255. `warp_affine_u8` is a bilinear warp of uint8
images in float64 rounded to nearest; against the golden run (OpenCV 5.1) it gives the warped mask
bit for bit and the pasted frames within 1 level on a few dozen of 786k values (OpenCV's own
kernel rounds its coordinates differently; tests/test_joyvasa_app.py measures it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

MASK_TEMPLATE = Path(__file__).with_name("data") / "mask_template.png"


@lru_cache(maxsize=1)
def mask_template() -> torch.Tensor:
    """LivePortrait's paste-back mask for a 512x512 crop: [512, 512] uint8 (its three channels are equal)."""
    return torch.from_numpy(np.asarray(Image.open(MASK_TEMPLATE).convert("L"), dtype=np.uint8).copy())


def truncate_u8(frames: torch.Tensor) -> torch.Tensor:
    """Decoder output in [0, 1] (any shape) -> uint8 the official way: clip, * 255, truncate."""
    return (frames.float().clamp(0, 1) * 255).clamp(0, 255).to(torch.uint8)


def _inverse(matrix: torch.Tensor) -> list[float]:
    """OpenCV's inversion of a 2x3 affine map (destination -> source), in float64, in its operation order."""
    m = [float(v) for v in matrix.double().reshape(-1)[:6].tolist()]
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[1], m[3], m[4] = a11, m[1] * -det, m[3] * -det, a22
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    return m


def warp_affine_u8(image: torch.Tensor, matrix: torch.Tensor, height: int, width: int,
                   region: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """cv2.warpAffine(image, matrix[:2], (width, height)) with INTER_LINEAR and a zero border.

    image [h, w, C] uint8, matrix [2 or 3, 3] source -> destination pixels. Returns [height, width, C]
    uint8; with region (x0, y0, x1, y1) only that part is computed (the rest is 0)."""
    m = _inverse(matrix)
    x0, y0, x1, y1 = region or (0, 0, width, height)
    out = torch.zeros(height, width, image.shape[-1], dtype=torch.uint8)
    if x1 <= x0 or y1 <= y0:
        return out
    ys, xs = torch.meshgrid(torch.arange(y0, y1, dtype=torch.float64), torch.arange(x0, x1, dtype=torch.float64),
                            indexing="ij")
    sx = m[0] * xs + (m[1] * ys + m[2])
    sy = m[3] * xs + (m[4] * ys + m[5])
    left, top = sx.floor(), sy.floor()
    ax, ay = (sx - left)[..., None], (sy - top)[..., None]
    left, top = left.long(), top.long()
    h, w = image.shape[:2]

    def pixels(py, px):
        inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
        return image[py.clamp(0, h - 1), px.clamp(0, w - 1)].double() * inside[..., None]

    p00, p01 = pixels(top, left), pixels(top, left + 1)
    p10, p11 = pixels(top + 1, left), pixels(top + 1, left + 1)
    upper, lower = p00 + ax * (p01 - p00), p10 + ax * (p11 - p10)
    out[y0:y1, x0:x1] = torch.round(upper + ay * (lower - upper)).clamp(0, 255).to(torch.uint8)
    return out


def footprint(crop_to_photo: torch.Tensor, size: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Photo pixel box (x0, y0, x1, y1) a size x size crop can reach through crop_to_photo (clamped)."""
    corners = torch.tensor([[-1.0, -1.0, 1.0], [size, -1.0, 1.0], [-1.0, size, 1.0], [size, size, 1.0]],
                           dtype=torch.float64)
    spots = corners @ crop_to_photo.double()[:2].T
    x0 = max(0, int(spots[:, 0].min().floor()) - 1)
    y0 = max(0, int(spots[:, 1].min().floor()) - 1)
    x1 = min(width, int(spots[:, 0].max().ceil()) + 2)
    y1 = min(height, int(spots[:, 1].max().ceil()) + 2)
    return x0, y0, max(x0, x1), max(y0, y1)


def paste_back_template(frames_u8: torch.Tensor, photo_u8: torch.Tensor, crop_to_photo: torch.Tensor) -> torch.Tensor:
    """Official paste-back: frames [n, S, S, 3] uint8 (S = 512, the mask template's size), photo [H, W, 3]
    uint8, crop_to_photo [3, 3] (M_c2o) -> [n, H, W, 3] uint8."""
    height, width = photo_u8.shape[:2]
    size = frames_u8.shape[1]
    template = mask_template()
    if template.shape[0] != size:
        raise ValueError(f"the paste-back mask template is {template.shape[0]} px but the frames are {size} px")
    region = footprint(crop_to_photo, size, height, width)
    mask = warp_affine_u8(template[..., None], crop_to_photo, height, width, region).float() / 255
    photo = photo_u8.float()
    out = []
    for frame in frames_u8:
        warped = warp_affine_u8(frame, crop_to_photo, height, width, region).float()
        out.append((mask * warped + (1 - mask) * photo).clamp(0, 255).to(torch.uint8))
    return torch.stack(out)
