"""Synthetic data for the renderer fine-tuning tests: cartoon faces whose head pose (position) and expression (mouth
opening) are set per frame, a narrow random VGG19 in torchvision's layout, and the pretrained micro LivePortrait set of
the learning test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from playmate_core.train.dataset import DatasetWriter
from playmate_core.train.renderer_data import encode_frames
from playmate_core.train.vgg import VGG19Features

NARROW_VGG = (8, 8, 16, 16, 16)


def draw_face(size: int, dx: float, dy: float, mouth: float, tint: tuple[int, int, int]) -> np.ndarray:
    """uint8 [size, size, 3]: a head disc shifted by (dx, dy) (fractions of the side), eyes, and a mouth opened
    by `mouth` in 0..1; the head's colour is the identity."""
    image = Image.new("RGB", (size, size), (40, 60, 90))
    draw = ImageDraw.Draw(image)
    cx, cy, r = size * (0.5 + dx), size * (0.5 + dy), size * 0.3
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tint)
    for side in (-1, 1):
        ex, ey = cx + side * 0.35 * r, cy - 0.25 * r
        draw.ellipse((ex - 0.1 * r, ey - 0.1 * r, ex + 0.1 * r, ey + 0.1 * r), fill=(20, 20, 20))
    half = 0.04 * r + 0.3 * r * mouth
    draw.rectangle((cx - 0.4 * r, cy + 0.45 * r - half, cx + 0.4 * r, cy + 0.45 * r + half), fill=(150, 30, 40))
    return np.asarray(image)


def clip_frames(size: int, frames: int, generator: torch.Generator, tint) -> torch.Tensor:
    """[frames, size, size, 3] uint8 with random pose and expression per frame."""
    values = torch.rand(frames, 3, generator=generator)
    return torch.from_numpy(np.stack([draw_face(size, 0.12 * (float(a) - 0.5), 0.12 * (float(b) - 0.5), float(m), tint)
                                      for a, b, m in values]))


def write_renderer_set(root: Path, clips: int = 4, frames: int = 8, size: int = 128, seed: int = 0) -> str:
    """A finished data set whose clips carry `frames` renderer frames of side `size` (motion / audio are zeros)."""
    g = torch.Generator().manual_seed(seed)
    writer = DatasetWriter(str(root), fps=25.0, audio_encoder="synthetic-wav2vec2", audio_dim=4,
                           motion_extractor="tiny@0", renderer_frames=frames)
    for c in range(clips):
        tint = tuple(int(v) for v in 120 + torch.randint(0, 120, (3,), generator=g))
        images = clip_frames(size, frames, g, tint)
        n = frames + 2
        writer.add_clip(f"clip{c}.mp4", f"person{c % 2}", None, torch.randn(n, 70, generator=g) * 0.1,
                        torch.zeros(n, 4), torch.zeros(n, 21, 3), encode_frames(images, list(range(1, frames + 1))))
    writer.finish()
    return str(root)


def write_narrow_vgg(path: Path, seed: int = 0) -> Path:
    """A torchvision-layout VGG19 state dict (features.* plus a classifier entry the loader ignores), narrow widths."""
    torch.manual_seed(seed)
    vgg = VGG19Features(NARROW_VGG)
    state = {f"features.{k}": v for k, v in vgg.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, path)
    return path


def micro_renderer_config():
    """Smaller than RendererConfig.tiny() (thin warping and generator) for the learning test."""
    from dataclasses import replace

    from playmate_core.implicit.config import DenseMotionConfig, RendererConfig, SpadeConfig

    tiny = RendererConfig.tiny()
    return replace(tiny, spade=SpadeConfig(block_expansion=4, num_middle_blocks=1, hidden_channels=8, out_channels=8),
                   warping=replace(tiny.warping, block_expansion=4, dense_motion=DenseMotionConfig(
                       block_expansion=4, max_features=16, num_blocks=2, reshape_depth=4, compress=1)))


PRETRAINED = Path(__file__).parent / "fixtures" / "renderer-train" / "micro_liveportrait.safetensors"
CROP = 32  # network input side of the learning test (targets: 64)


def write_pretrained_fixture(work: Path) -> None:
    """Regenerate PRETRAINED: a micro set (seeded random weights) trained on reconstruction only (all of F, M, W, G;
    no transfer loss) for 150 steps on write_renderer_set(seed=0) frames, stored in float16."""
    from lp_weights import random_official_states, write_kijai_layout
    from playmate_core.checkpoint.io import cast_floating, read_safetensors, write_safetensors
    from playmate_core.train.dataset import MotionDataset
    from playmate_core.train.renderer_config import load_renderer_config
    from playmate_core.train.renderer_stage import load_base_set, run_renderer
    from playmate_core.train.vgg import load_vgg19

    write_kijai_layout(random_official_states(micro_renderer_config(), 0), work / "lp")
    config = load_renderer_config("renderer").updated({
        "networks": ["F", "M", "W", "G"], "batch_size": 4, "ema_decay": 0.0, "log_every": 25,
        "renderer": {"steps": 150, "lr": 3e-3}, "optimizer": {"warmup_steps": 5},
        "loss": {"transfer": 0.0, "perceptual_size": 2 * CROP}})
    out = work / "pretrained.safetensors"
    run_renderer(config, load_base_set(str(work / "lp")), load_vgg19(str(write_narrow_vgg(work / "vgg.pth"))),
                 MotionDataset(write_renderer_set(work / "data", clips=8, frames=8, size=2 * CROP)), str(out))
    tensors, metadata = read_safetensors(str(out))
    keep = {k: metadata[k] for k in ("format", "playmate_format", "format_version", "config")}
    PRETRAINED.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(str(PRETRAINED), cast_floating(tensors, torch.float16),
                      {**keep, "dtype": "float16", "made_by": "tests/renderer_train_data.py --write-fixture"})


if __name__ == "__main__":
    import sys
    import tempfile

    if sys.argv[1:] != ["--write-fixture"]:
        raise SystemExit("usage: PYTHONPATH=. python tests/renderer_train_data.py --write-fixture")
    with tempfile.TemporaryDirectory() as folder:
        write_pretrained_fixture(Path(folder))
    print(f"wrote {PRETRAINED} ({PRETRAINED.stat().st_size} bytes)")
