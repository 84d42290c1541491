"""Make docs/images/crop_preview.png with the pack's own Load Portrait node.

    python tools/make_crop_preview.py [--photo tests/fixtures/media/portraits/astronaut_512x512.png]

Left: the photo with the aligned crop window (white), the paste-back mask (tint; its inner edge is
where the feathering starts), the eye and mouth centres; right: the 256x256 crop the networks see.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nodes.portrait import PlaymateLoadPortrait  # noqa: E402
from playmate_core.face.geometry import apply  # noqa: E402
from playmate_core.face.landmarks import eye_centers, mouth_center  # noqa: E402

PANEL = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo",
                        default=os.path.join(ROOT, "tests", "fixtures", "media", "portraits", "astronaut_512x512.png"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images", "crop_preview.png"))
    args = parser.parse_args()

    image = torch.from_numpy(np.asarray(Image.open(args.photo).convert("RGB"), dtype=np.float32) / 255)[None]
    portrait, crop, mask = PlaymateLoadPortrait().load(image, 0, 2.3, 0.0, -0.125, True, "auto")
    height, width = image.shape[1:3]
    tint = torch.tensor([1.0, 0.55, 0.1])
    shown = image[0] * (1 - 0.35 * mask[0, ..., None]) + tint * 0.35 * mask[0, ..., None]
    left = Image.fromarray((shown.numpy() * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(left)
    size = portrait.config.size
    corners = torch.tensor([[[0, 0], [size, 0], [size, size], [0, size]]], dtype=torch.float64)
    window = apply(portrait.crop_to_image(size), corners)[0].tolist()
    draw.polygon([tuple(p) for p in window], outline=(255, 255, 255), width=max(2, width // 200))
    landmarks = portrait.landmarks
    for point in (*eye_centers(landmarks, portrait.layout), mouth_center(landmarks, portrait.layout)):
        x, y = point[0].tolist()
        r = max(2, width // 150)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(40, 220, 255))
    scale = PANEL / max(height, width)
    left = left.resize((round(width * scale), round(height * scale)), Image.LANCZOS)
    right = Image.fromarray((crop[0].numpy() * 255).round().astype(np.uint8)).resize((PANEL, PANEL), Image.LANCZOS)
    sheet = Image.new("RGB", (left.width + PANEL + 8, max(left.height, PANEL)), (255, 255, 255))
    sheet.paste(left, (0, 0))
    sheet.paste(right, (left.width + 8, 0))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"{args.out}: {sheet.size[0]}x{sheet.size[1]}, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
