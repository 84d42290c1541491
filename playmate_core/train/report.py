"""What a training run leaves beside its checkpoint: the loss log (JSON lines) and the loss-curve picture."""

from __future__ import annotations

import json
import math
import os

from PIL import Image, ImageDraw, ImageFont

CURVES = (("loss", (200, 50, 50)), ("epsilon", (50, 110, 210)), ("velocity", (40, 160, 80)),
          ("smoothness", (190, 130, 30)),
          ("l1", (50, 110, 210)), ("perceptual", (40, 160, 80)), ("transfer", (150, 60, 190)))


def read_log(path: str, up_to_step: int | None = None) -> list[dict]:
    """The records of a JSON-lines log (those after up_to_step dropped: a resumed run rewrites them)."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if up_to_step is None or r["step"] <= up_to_step]


def write_log(path: str, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def append_log(path: str, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def draw_loss_curve(records: list[dict], path: str, title: str, size: tuple[int, int] = (800, 420)) -> None:
    """Loss terms against the step on a log10 axis, as a PNG (Pillow only)."""
    width, height = size
    left, top, right, bottom = 70, 34, width - 20, height - 40
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((left, 10), title, fill=(20, 20, 20), font=font)
    draw.rectangle((left, top, right, bottom), outline=(40, 40, 40))
    series = [(name, colour, [(r["step"], r[name]) for r in records if r.get(name, 0) > 0]) for name, colour in CURVES]
    points = [v for _, _, s in series for _, v in s]
    if points:
        steps = [r["step"] for r in records]
        x_lo, x_hi = min(steps), max(max(steps), min(steps) + 1)
        y_lo, y_hi = math.log10(min(points)), math.log10(max(points))
        y_lo, y_hi = (y_lo - 0.1, y_hi + 0.1) if y_hi - y_lo < 0.2 else (y_lo, y_hi)
        for k in range(5):
            y = top + (bottom - top) * k / 4
            draw.line([(left, y), (right, y)], fill=(225, 225, 225))
            draw.text((left - 6, y), f"{10 ** (y_hi - (y_hi - y_lo) * k / 4):.3g}", fill=(20, 20, 20), font=font,
                      anchor="rm")
        draw.text((left, bottom + 6), f"step {x_lo}", fill=(20, 20, 20), font=font)
        draw.text((right, bottom + 6), f"step {x_hi}", fill=(20, 20, 20), font=font, anchor="ra")
        legend_x = right - 8
        for name, colour, values in reversed(series):
            xy = [(left + (right - left) * (s - x_lo) / (x_hi - x_lo),
                   bottom - (bottom - top) * (math.log10(v) - y_lo) / (y_hi - y_lo)) for s, v in values]
            if len(xy) > 1:
                draw.line(xy, fill=colour, width=2)
            legend_x -= draw.textlength(name, font=font)
            draw.text((legend_x, top + 6), name, fill=colour, font=font)
            legend_x -= 14
    image.save(path)
