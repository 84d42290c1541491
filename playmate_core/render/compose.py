"""Where rendered crops go: as they are (the 512x512 crop) or pasted back into the original photo.

Two styles: "feather" (the pack's: float frames, a feathered superellipse mask, the `pack` motion mode)
and "template" (the official JoyVASA pipeline's, the `app` / `cli` / `animal` modes: frames truncated to
uint8 as its parse_output does, pasted with LivePortrait's mask template; see official_image.py).
Output frames have even sides (H.264 with 4:2:0 chroma needs them): a photo with an odd side
loses its last pixel row / column. Frames leave here as [n, H, W, 3] float32 in [0, 1] on the CPU.
"""

from __future__ import annotations

import logging

import torch

from ..face.portrait import Portrait, paste_back
from .official_image import paste_back_template, truncate_u8

log = logging.getLogger(__name__)


def even_size(height: int, width: int) -> tuple[int, int]:
    """The largest even (height, width) not above the given one."""
    if height < 2 or width < 2:
        raise ValueError(f"frames of {width}x{height} px are too small for a video (at least 2x2)")
    return height - height % 2, width - width % 2


class Compositor:
    """Turns renders [n, 3, S, S] of source row r into output frames [n, H, W, 3] (CPU float32).

    portrait: None for crop output; for paste-back, the Portrait the source was made from (its row
    r is the photo of source row r). feather: paste-back mask fall-off (see face.paste.crop_mask), for
    the "feather" style. style: "feather" or "template" (see the module docstring).
    """

    def __init__(self, portrait: Portrait | None = None, feather: float = 0.1, crop_size: int = 512,
                 style: str = "feather"):
        if style not in ("feather", "template"):
            raise ValueError(f"compositor style must be 'feather' or 'template', got {style!r}")
        self.portrait = portrait
        self.feather = float(feather)
        self.crop_size = crop_size
        self.style = style
        if portrait is not None and not 0.0 <= self.feather <= 0.9:
            raise ValueError(f"feather must be between 0 and 0.9, got {feather}")
        if portrait is None:
            self._size = even_size(crop_size, crop_size)
        else:
            height, width = (int(v) for v in portrait.images.shape[1:3])
            self._size = even_size(height, width)
            if self._size != (height, width):
                log.info("Playmate: the %dx%d photo is rendered at %dx%d (H.264 needs even sides)", width, height,
                         self._size[1], self._size[0])

    def for_mode(self, motion_mode: str) -> "Compositor":
        """The compositor a resolved motion mode uses: the official modes paste the official way."""
        style = "feather" if motion_mode == "pack" else "template"
        return self if style == self.style else Compositor(self.portrait, self.feather, self.crop_size, style)

    def check_rows(self, rows: int) -> None:
        """The portrait batch must hold a photo for every source row."""
        if self.portrait is not None and self.portrait.batch_size != rows:
            raise ValueError(
                f"the portrait has {self.portrait.batch_size} photo(s) but the source has {rows}: connect the "
                "portrait the source was extracted from"
            )

    def size(self) -> tuple[int, int]:
        """Even (height, width) of the output frames (a portrait batch shares one photo size)."""
        return self._size

    def __call__(self, row: int, renders: torch.Tensor) -> torch.Tensor:
        height, width = self._size
        if self.style == "template":
            frames = truncate_u8(renders.permute(0, 2, 3, 1)).cpu()
            if self.portrait is not None:
                photo = (self.portrait.images[row].float() * 255).round().clamp(0, 255).to(torch.uint8)
                frames = paste_back_template(frames, photo, self.portrait.crop_to_image(frames.shape[1])[row])
            return frames[:, :height, :width].float() / 255
        if self.portrait is None:
            frames = renders.permute(0, 2, 3, 1)
        else:
            frames, _ = paste_back(renders, self.portrait, row, self.feather)
        return frames[:, :height, :width].clamp(0, 1).float().cpu()
