"""Motion curves as a picture (Pillow only): mouth openness, brow and eye, head angles, translation and scale
over time."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# exp of keypoint 19, y: LivePortrait's lip-open edit moves this coordinate, so it tracks mouth opening.
MOUTH_OPEN_INDEX = 19 * 3 + 1

# exp y of keypoints 1 (brow) and 11 (eye): LivePortrait's eyebrow and wink edits move these coordinates.
BROW_INDEX, EYE_INDEX = 1 * 3 + 1, 11 * 3 + 1

PANELS = (
    ("mouth openness (exp kp19 y)", ((MOUTH_OPEN_INDEX, "mouth", (220, 60, 60)),)),
    ("brow and eye (exp kp1 y, kp11 y)", ((BROW_INDEX, "brow", (150, 80, 200)), (EYE_INDEX, "eye", (40, 170, 90)))),
    ("head angles (degrees)",
     ((67, "pitch", (60, 120, 220)), (68, "yaw", (40, 170, 90)), (69, "roll", (200, 140, 40)))),
    ("translation", ((64, "tx", (60, 120, 220)), (65, "ty", (40, 170, 90)))),
    ("scale", ((63, "scale", (150, 80, 200)),)),
)
BACKGROUND, AXIS, GRID, TEXT = (255, 255, 255), (40, 40, 40), (225, 225, 225), (20, 20, 20)


def _panel(draw, font, box, title, series, seconds):
    left, top, right, bottom = box
    values = [v for _, v, _ in series]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    pad = (hi - lo) * 0.08 or max(abs(hi), 1e-3) * 0.1
    lo, hi = lo - pad, hi + pad
    draw.rectangle(box, outline=AXIS)
    for k in range(1, 4):
        y = top + (bottom - top) * k / 4
        draw.line([(left, y), (right, y)], fill=GRID)
    draw.text((left + 6, top + 4), title, fill=TEXT, font=font)
    draw.text((left - 4, top), f"{hi:.3g}", fill=TEXT, font=font, anchor="ra")
    draw.text((left - 4, bottom), f"{lo:.3g}", fill=TEXT, font=font, anchor="rd")
    legend_x = right - 8
    for name, v, colour in reversed(series):
        n = len(v)
        xs = left + (right - left) * np.arange(n) / max(n - 1, 1)
        ys = bottom - (bottom - top) * (v - lo) / (hi - lo)
        if n == 1:
            draw.ellipse([xs[0] - 2, ys[0] - 2, xs[0] + 2, ys[0] + 2], fill=colour)
        else:
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=2)
        width = draw.textlength(name, font=font)
        draw.line([(legend_x - width - 22, top + 11), (legend_x - width - 6, top + 11)], fill=colour, width=3)
        draw.text((legend_x - width, top + 4), name, fill=colour, font=font)
        legend_x -= width + 34
    for k in range(5):
        x = left + (right - left) * k / 4
        draw.text((x, bottom + 4), f"{seconds * k / 4:.1f}s", fill=TEXT, font=font, anchor="ma")


def plot_motion(motion: torch.Tensor, fps: float, width: int = 1024, height: int = 768) -> torch.Tensor:
    """motion [N, 70] -> IMAGE [1, height, width, 3] float 0..1 with five panels over time (seconds)."""
    if motion.ndim != 2 or motion.shape[1] != 70:
        raise ValueError(f"plot_motion expects one motion sequence [N, 70], got {tuple(motion.shape)}")
    if width < 320 or height < 240:
        raise ValueError(f"the plot needs at least 320 x 240 pixels, got {width} x {height}")
    data = motion.detach().float().cpu().numpy()
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    seconds = (data.shape[0] - 1) / fps if data.shape[0] > 1 else 0.0
    margin_left, margin_right, margin_top, gap = 70, 16, 30, 28
    draw.text((margin_left, 8), f"motion: {data.shape[0]} frames at {fps:g} fps ({data.shape[0] / fps:.2f} s)",
              fill=TEXT, font=font)
    panel_h = (height - margin_top - gap * len(PANELS)) / len(PANELS)
    for i, (title, entries) in enumerate(PANELS):
        top = margin_top + i * (panel_h + gap)
        series = []
        for index, name, colour in entries:
            series.append((name, data[:, index], colour))
        _panel(draw, font, (margin_left, top, width - margin_right, top + panel_h), title, series, seconds)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).unsqueeze(0)
