#!/usr/bin/env python
"""Reduce the official JoyVASA pipeline run (shared/fixtures/joyvasa_app/golden.safetensors, 17 MB) to
what tests/test_joyvasa_app.py needs: tests/fixtures/joyvasa_app/golden_app.safetensors (~2.4 MB).

    python tools/reduce_joyvasa_app_fixture.py [--shared ../shared]

Kept as stored (float32 unless noted): the crop input, source info, motion.coef, the motion template's
statistics, every keypoint stage of the three modes, the multipliers, the lip delta, the smoothed pose;
the last rendered frame (114) of each mode on every second pixel row and column (animal: float16 as
stored); the app's warped mask and pasted photo inside the crop's footprint (uint8).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playmate_core.motion.joyvasa_release import normalizer_from_template, read_template  # noqa: E402
from playmate_core.render.official_image import footprint  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "joyvasa_app" / "golden_app.safetensors"
STRIDE = 2
SHARED_STAGES = ["crop.img256", "crop.M_c2o", "crop.M_o2c", "motion.coef", "x_s", "lip.ratio", "lip.delta",
                 *(f"src.{k}" for k in ("kp", "exp", "scale", "t", "pitch", "yaw", "roll")),
                 *(f"motion.smooth.{k}" for k in ("scale", "t", "pitch", "yaw", "roll"))]
MODE_STAGES = {
    "app": ["x_d.posed", "x_d.relative", "x_d.stitched", "x_d.lip", "x_d.final", "motion_multiplier"],
    "cli": ["x_d.posed", "x_d.final"],
    "animal": ["x_d.posed", "x_d.relative", "x_d.final", "motion_multiplier"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(REPO.parent / "shared"))
    shared = Path(parser.parse_args().shared)
    source = shared / "fixtures" / "joyvasa_app" / "golden.safetensors"
    golden = load_file(source)
    meta = json.loads(safe_open(str(source), "pt").metadata()["golden_meta"])
    out = {key: golden["app." + key].contiguous() for key in SHARED_STAGES}
    for mode, keys in MODE_STAGES.items():
        for key in keys:
            out[f"{mode}.{key}"] = golden[f"{mode}.{key}"].contiguous()
        index = golden[f"{mode}.frames.index"].tolist()
        pick = index.index(114)
        out[f"{mode}.frame114.strided"] = golden[f"{mode}.frames.out"][pick, :, ::STRIDE, ::STRIDE].contiguous()
    normalizer = normalizer_from_template(read_template(str(shared / "fixtures" / "joyvasa" / "motion_template.pkl")))
    for name in ("exp_mean", "exp_std", "pose_min", "pose_max"):
        out[f"template.{name}"] = getattr(normalizer, name).clone()
    x0, y0, x1, y1 = footprint(golden["app.crop.M_c2o"].double(), 512, 512, 512)
    out["app.paste.region"] = torch.tensor([x0, y0, x1, y1])
    out["app.paste.mask_u8"] = golden["app.paste.mask_u8"][y0:y1, x0:x1].contiguous()
    pick = golden["app.frames.index"].tolist().index(114)
    out["app.frame114.pasted"] = golden["app.frames.pasted"][pick, y0:y1, x0:x1].contiguous()
    info = {"from": "shared/fixtures/joyvasa_app/golden.safetensors", "official_commit": meta["official_commit"],
            "source_lip_ratio": meta["source_lip_ratio"], "frame_stride": STRIDE}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(OUT), metadata={"info": json.dumps(info)})
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(out)} tensors)")


if __name__ == "__main__":
    main()
