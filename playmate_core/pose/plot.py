"""The pose curves as a picture (Pillow): angles and translation over time, frames without a face shaded."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .estimate import PoseEstimate

CURVES = (
    ("head angles relative to the first frame (degrees)", ((0, "pitch", (60, 120, 220)), (1, "yaw", (40, 170, 90)),
                                                           (2, "roll", (200, 140, 40)))),
    ("translation relative to the first frame (keypoint units)", ((3, "tx", (60, 120, 220)), (4, "ty", (40, 170, 90)))),
)
INK, FRAME, RULE, MISSING = (20, 20, 20), (60, 60, 60), (228, 228, 228), (255, 226, 226)


def plot_pose(estimate: PoseEstimate, width: int = 960, height: int = 540) -> torch.Tensor:
    """IMAGE [1, height, width, 3] of the output pose over its time axis (seconds)."""
    values = estimate.pose.values.double().numpy()
    fps = estimate.pose.fps
    seconds = np.arange(values.shape[0]) / fps
    span = max(float(seconds[-1]), 1 / fps)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((64, 8), estimate.summary().splitlines()[-1], fill=INK, font=font)
    top, gap, left, right = 44, 48, 64, width - 14
    box_h = (height - top - gap * len(CURVES)) / len(CURVES)
    missing = estimate.video_times[~estimate.found].double().numpy()
    for i, (title, series) in enumerate(CURVES):
        y0 = top + i * (box_h + gap)
        y1 = y0 + box_h
        to_x = lambda s: left + (right - left) * s / span  # noqa: E731
        for s in missing[missing <= span]:
            draw.rectangle([to_x(s), y0, to_x(min(span, s + 1 / estimate.video_fps)), y1], fill=MISSING)
        data = values[:, [c for c, _, _ in series]]
        lo, hi = float(data.min()), float(data.max())
        pad = max((hi - lo) * 0.1, 1e-3)
        lo, hi = lo - pad, hi + pad
        for k in range(5):
            y = y0 + box_h * k / 4
            draw.line([(left, y), (right, y)], fill=RULE)
            draw.text((left - 6, y), f"{hi - (hi - lo) * k / 4:.3g}", fill=INK, font=font, anchor="rm")
            draw.text((to_x(span * k / 4), y1 + 4), f"{span * k / 4:.2f} s", fill=INK, font=font, anchor="ma")
        draw.rectangle([left, y0, right, y1], outline=FRAME)
        draw.text((left, y0 - 14), title, fill=INK, font=font)
        x = left + (right - left) * seconds / span
        for n, (column, name, colour) in enumerate(series):
            y = y1 - box_h * (values[:, column] - lo) / (hi - lo)
            if len(x) > 1:
                draw.line(list(zip(x.tolist(), y.tolist())), fill=colour, width=2)
            draw.text((right - 60 * (len(series) - n), y0 - 14), name, fill=colour, font=font)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).unsqueeze(0)
