"""Make docs/images/render_preview.png: Pose From Video + Render Frames on the test media (tests/fixtures/media).

    python tools/make_render_preview.py [--out docs/images/render_preview.png]

Top row: frames of the driving video (tests/fixtures/media/video); middle row: the astronaut portrait
rendered with that head pose and pasted back into the photo (Render Frames); bottom: the pose
curves of Pose From Video. The LivePortrait networks carry the golden fixture's deterministic
stand-in weights (no trained weights can be downloaded here), so the renders show the warp's
geometry and the portrait's coarse layout, not a photoreal face.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "tests" / "fixtures" / "media"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lp_weights import golden_official_states, write_kijai_layout  # noqa: E402
from playmate_core.face import MediaPipeFaceDetector, load_portraits  # noqa: E402
from playmate_core.implicit.renderer import load_renderer  # noqa: E402
from playmate_core.implicit.source import SourceFeatures  # noqa: E402
from playmate_core.motion.postprocess import absolute_driving_pose, apply_driving_pose  # noqa: E402
from playmate_core.motion.sequence import MotionSequence  # noqa: E402
from playmate_core.pose import estimate_pose, video_chunks  # noqa: E402
from playmate_core.pose.plot import plot_pose  # noqa: E402
from playmate_core.render import Compositor, RenderOptions, render_images  # noqa: E402

TILE = 240
PICKS = (0, 19, 37, 56)  # frames at 0, 0.76, 1.48 and 2.24 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "render_preview.png"))
    args = parser.parse_args()
    video = MEDIA / "video" / "driving_astronaut_3s_25fps_512.mp4"
    photo = np.asarray(Image.open(MEDIA / "portraits" / "astronaut_512x512.png").convert("RGB"), np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_kijai_layout(golden_official_states(), Path(tmp))
        renderer = load_renderer(str(folder), dtype=torch.bfloat16, channels_last=True)
    detector = MediaPipeFaceDetector()
    portrait = load_portraits(torch.from_numpy(photo / 255)[None], detector)
    extracted = renderer.extract_source(portrait.crops)
    source = SourceFeatures(extracted.appearance, extracted.kp_canonical, extracted.motion, portrait.eye_ratio,
                            portrait.lip_ratio)
    estimate = estimate_pose(video_chunks(str(video)), detector, renderer, fps=25.0, smoothing=0.2)
    pose = absolute_driving_pose(estimate.pose.values[list(PICKS)], source.motion, relative=True)
    driven = apply_driving_pose(source.motion[:, None].repeat(1, len(PICKS), 1), pose)
    frames = render_images(renderer, source, MotionSequence(driven, 25.0), RenderOptions(batch_size=4),
                           Compositor(portrait, feather=0.1))
    with av.open(str(video)) as container:
        driving = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i in PICKS]

    curves = plot_pose(estimate, width=TILE * len(PICKS), height=300)
    sheet = Image.new("RGB", (TILE * len(PICKS), 2 * TILE + 300 + 40), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, pick in enumerate(PICKS):
        sheet.paste(Image.fromarray(driving[i]).resize((TILE, TILE), Image.LANCZOS), (i * TILE, 20))
        rendered = (frames[i].numpy() * 255).round().astype(np.uint8)
        sheet.paste(Image.fromarray(rendered).resize((TILE, TILE), Image.LANCZOS), (i * TILE, TILE + 40))
        draw.text((i * TILE + 6, 4), f"driving frame {pick} ({pick / 25:.2f} s)", fill=(20, 20, 20))
        draw.text((i * TILE + 6, TILE + 24), "rendered, pasted back (roll "
                                             f"{float(estimate.pose.values[pick, 2]):+.1f})",
                  fill=(20, 20, 20))
    sheet.paste(Image.fromarray((curves[0].numpy() * 255).round().astype(np.uint8)), (0, 2 * TILE + 40))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}\n{estimate.summary()}")


if __name__ == "__main__":
    main()
