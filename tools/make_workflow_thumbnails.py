"""Write workflows/<template title>.jpg, the thumbnails ComfyUI's templates browser shows for custom-node templates
(the frontend asks for /api/workflow_templates/<pack>/<name>.jpg).

    python tools/make_workflow_thumbnails.py [--models ComfyUI/models]

Each card shows the workflow's real inputs (the pack's example portraits, the speech waveform, the driving video's
first frame, the emotion schedule). With --models (a ComfyUI models folder holding the workflows' models:
trained LivePortrait weights, the audio encoders, JoyVASA / Playmate motion models) it also runs the
workflow's API twin for 1 s of speech and shows a rendered frame; without trained weights a render would
only show the stand-in networks' grey face, so the card then has no render panel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tools")]

import core_nodes  # noqa: E402
from make_workflows import ui_file_name  # noqa: E402
from model_files import write_input_media  # noqa: E402

WIDTH, HEIGHT, TITLE = 512, 384, 40
BACKGROUND, INK, ACCENT = (32, 34, 40), (235, 235, 235), (120, 170, 255)
CARDS = {
    "talking_portrait": ("Talking portrait", "photo + speech -> talking video"),
    "emotion": ("Emotion", "label, blend, schedule"),
    "emotion_from_reference": ("Emotion from a photo", "expression of a reference, no training"),
    "pose_from_video": ("Pose from video", "head follows a driving video"),
    "long_audio": ("Long speech", "streamed to MP4, flat memory"),
    "batch": ("Batch", "one video per portrait"),
    "animal": ("Animal portrait", "no face detector: whole image or box"),
}
PHOTOS = {"batch": ["playmate_portrait.jpg", "playmate_portrait_2.jpg"], "animal": ["playmate_animal.jpg"]}


def waveform_panel(path: Path, size: tuple[int, int]) -> Image.Image:
    samples, _ = core_nodes.decode_audio(str(path))
    wave = samples.mean(0).numpy()
    panel = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(panel)
    columns = np.array_split(np.abs(wave), size[0])
    peak = max(float(np.abs(wave).max()), 1e-6)
    middle = size[1] // 2
    for x, column in enumerate(columns):
        h = int((float(column.max()) if column.size else 0.0) / peak * (middle - 4))
        draw.line([(x, middle - h), (x, middle + h)], fill=ACCENT)
    return panel


def first_video_frame(path: Path) -> Image.Image:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_image()


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    image = image.convert("RGB")
    scale = max(size[0] / image.width, size[1] / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
    return image.crop((left, top, left + size[0], top + size[1]))


def card(name: str, inputs: Path, render: Image.Image | None) -> Image.Image:
    title, subtitle = CARDS[name]
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((12, 8), f"Playmate: {title}", fill=INK)
    draw.text((12, 22), subtitle, fill=(170, 170, 170))
    body = HEIGHT - TITLE
    photos = PHOTOS.get(name, ["playmate_portrait.jpg"])
    side = body if len(photos) == 1 else body // 2
    for i, photo in enumerate(photos):
        canvas.paste(fit(Image.open(inputs / photo), (side, side)), (0, TITLE + i * side))
    right = (WIDTH - side, body)
    x0 = side
    if render is not None:
        canvas.paste(fit(render, (right[0], right[1] * 2 // 3)), (x0, TITLE))
        top = TITLE + right[1] * 2 // 3
    else:
        top = TITLE
        if name == "pose_from_video":
            canvas.paste(fit(first_video_frame(inputs / "playmate_driving.mp4"), (right[0], right[1] * 2 // 3)),
                         (x0, TITLE))
            draw.text((x0 + 8, TITLE + 6), "driving video", fill=INK)
            top = TITLE + right[1] * 2 // 3
        elif name == "emotion_from_reference":
            canvas.paste(fit(Image.open(inputs / "playmate_portrait_2.jpg"), (right[0], right[1] * 2 // 3)),
                         (x0, TITLE))
            draw.text((x0 + 8, TITLE + 6), "reference expression (ref1)", fill=INK)
            top = TITLE + right[1] * 2 // 3
        elif name == "emotion":
            draw.multiline_text((x0 + 12, TITLE + 20), "label: happy\nschedule:\n  0.0 1.0 "
                                "neutral\n  (the rest: happy)\nemotion_scale: 1.5", fill=INK, spacing=6)
            top = TITLE + right[1] // 2
        elif name == "animal":
            draw.multiline_text((x0 + 12, TITLE + 20), "crop_mode: whole image\n(or a box / "
                                "mask)\nLivePortrait: animal/ set\n+ human stitching", fill=INK, spacing=6)
            top = TITLE + right[1] // 2
        elif name == "long_audio":
            draw.multiline_text((x0 + 12, TITLE + 20), "minutes of speech\n-> Render "
                                                       "Video\n-> H.264 + AAC, chunk by chunk",
                                fill=INK, spacing=6)
            top = TITLE + right[1] // 2
    speech = "playmate_long_speech.flac" if name == "long_audio" else "playmate_speech.flac"
    canvas.paste(waveform_panel(inputs / speech, (right[0], HEIGHT - top)), (x0, top))
    draw.text((x0 + 8, top + 4), "speech", fill=INK)
    return canvas


def render_frame(name: str, models: Path, inputs: Path) -> Image.Image:
    """Run the workflow's API twin on 1 s of speech with the given models; the middle frame of its video."""
    from conftest import import_pack
    from workflow_runner import Runner

    with tempfile.TemporaryDirectory() as out:
        os.environ["PLAYMATE_MODELS_DIR"], os.environ["PLAYMATE_OUTPUT_DIR"] = str(models), out
        core_nodes.Folders.input, core_nodes.Folders.output = str(inputs), out
        classes = {**import_pack().NODE_CLASS_MAPPINGS, **core_nodes.NODE_CLASS_MAPPINGS}
        prompt = json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())
        Runner(classes).run(prompt)
        video = sorted(Path(out).rglob("*.mp4"))[0]
        with av.open(str(video)) as container:
            frames = [f.to_image() for f in container.decode(video=0)]
        return frames[len(frames) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="a ComfyUI models folder with trained "
                                                    "weights (adds a render panel)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_input_media(Path(tmp) / "input", 1.0, 3.0)
        for name in CARDS:
            render = render_frame(name, args.models, inputs) if args.models else None
            card(name, inputs, render).save(ROOT / "workflows" / f"{ui_file_name(name)}.jpg", quality=88)
            print(f"wrote workflows/{ui_file_name(name)}.jpg")


if __name__ == "__main__":
    main()
