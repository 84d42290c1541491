"""Write docs/images/emotion_reference_curves.png: expression curves over time with and without a reference photo,
and print the reference's offset per keypoint group (the README's measured example).

    python tools/make_emotion_reference_figure.py [--models ComfyUI/models]

The portrait is the test fixtures' astronaut photo, the reference Grace Hopper's photo, the speech the 3 s test clip,
the schedule '0 1 neutral / 1 2.5 ref1 / 2.5 4 ref1+neutral@0.5' (strength 1, lips kept on the audio). With
--models (a folder with trained LivePortrait weights, chinese-hubert-base and JoyVASA's files) the numbers are
real; without it the tests' stand-in weights are written to a temporary folder, which shows the mechanism (where
the curves move and how they ramp) but not real magnitudes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playmate_core.motion.expression_reference import group_magnitudes  # noqa: E402
from playmate_core.motion.plot import BROW_INDEX, EYE_INDEX, MOUTH_OPEN_INDEX  # noqa: E402

SCHEDULE = "0 1 neutral\n1 2.5 ref1\n2.5 4 ref1+neutral@0.5"
CURVES = (("brow (exp kp1 y)", BROW_INDEX), ("eye (exp kp11 y)", EYE_INDEX),
          ("mouth (exp kp19 y): the same with and without, the lips stay on the speech", MOUTH_OPEN_INDEX))
WIDTH, PANEL_H, TOP, LEFT = 720, 110, 28, 64
PLAIN, WITH = (150, 150, 150), (220, 60, 60)


def stand_in_models(folder: Path) -> Path:
    import audio_weights as AW
    from lp_weights import write_tiny_kijai_set
    from motion_weights import write_joyvasa_release

    write_tiny_kijai_set(folder / "liveportrait")
    config = AW.tiny_hf_config("hubert", layers=1)
    config.update(hidden_size=768, num_attention_heads=4)
    AW.write_hf_folder(str(folder / "audio_encoders" / "chinese-hubert-base"), config, AW.hf_state_dict(config, seed=1),
                       "pytorch_model.bin", do_normalize=False)
    write_joyvasa_release(folder / "playmate")
    return folder


def draw(plain: np.ndarray, applied: np.ndarray, fps: float, note: str) -> Image.Image:
    height = TOP + len(CURVES) * (PANEL_H + 24) + 8
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    pen, font = ImageDraw.Draw(image), ImageFont.load_default()
    pen.text((LEFT, 8), "grey: without emotion; red: with the reference "
                        f"(schedule {SCHEDULE.replace(chr(10), ' / ')}). {note}",
             fill=(20, 20, 20), font=font)
    seconds = (plain.shape[0] - 1) / fps
    for k, (title, index) in enumerate(CURVES):
        top = TOP + k * (PANEL_H + 24)
        box = (LEFT, top, WIDTH - 12, top + PANEL_H)
        lo = float(min(plain[:, index].min(), applied[:, index].min()))
        hi = float(max(plain[:, index].max(), applied[:, index].max()))
        pad = (hi - lo) * 0.1 or 1e-3
        lo, hi = lo - pad, hi + pad
        pen.rectangle(box, outline=(40, 40, 40))
        pen.text((LEFT + 6, top + 4), title, fill=(20, 20, 20), font=font)
        pen.text((LEFT - 4, top), f"{hi:.3g}", fill=(20, 20, 20), font=font, anchor="ra")
        pen.text((LEFT - 4, top + PANEL_H), f"{lo:.3g}", fill=(20, 20, 20), font=font, anchor="rd")
        xs = LEFT + (box[2] - LEFT) * np.arange(plain.shape[0]) / max(plain.shape[0] - 1, 1)
        for values, colour in ((plain[:, index], PLAIN), (applied[:, index], WITH)):
            ys = top + PANEL_H - PANEL_H * (values - lo) / (hi - lo)
            pen.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=2)
        for s in range(int(seconds) + 1):
            x = LEFT + (box[2] - LEFT) * s / seconds
            pen.text((x, top + PANEL_H + 3), f"{s}s", fill=(20, 20, 20), font=font, anchor="ma")
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="a models folder with trained weights (default: stand-ins)")
    args = parser.parse_args()
    from playmate_core.implicit.motion_vector import EXP
    from playmate_core.motion.emotion_schedule import build_emotion
    from playmate_core.pipeline import TalkingHeadPipeline

    with tempfile.TemporaryDirectory() as tmp:
        models = args.models or stand_in_models(Path(tmp))
        pipe = TalkingHeadPipeline.from_files(str(models), device="cpu", precision="fp32")
        portraits = FIXTURES / "media" / "portraits"
        source = pipe.extract_source(pipe.load_portrait(str(portraits / "astronaut_512x512.png")))
        features = pipe.encode_audio(str(FIXTURES / "media" / "audio" / "en_3s_22k_mono.wav"))
        references = pipe.reference_expressions([str(portraits / "grace_hopper_512x600.png")])
        emotion = build_emotion("neutral", 1.0, schedule=SCHEDULE, references=references)
        plain = pipe.generate(source, features, seed=0, steps=10)
        with_reference = pipe.generate(source, features, seed=0, steps=10, emotion=emotion)
    offset = references - source.motion[:, EXP].cpu()
    print("reference minus source expression, mean |value| per keypoint group:",
          ", ".join(f"{name} {value:.4f}" for name, value in group_magnitudes(offset).items()))
    note = "" if args.models else "Stand-in weights."
    image = draw(plain.motion[0].numpy(), with_reference.with_offset()[0].numpy(), plain.fps, note)
    out = ROOT / "docs" / "images" / "emotion_reference_curves.png"
    image.quantize(colors=16).save(out, optimize=True)
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
