"""Shared pieces of the render / video / pose tests: a tiny renderer, a source and motion to drive it.

Test modules import the `renderer` / `source` fixtures from here (one instance per module).
"""

from __future__ import annotations

import math

import pytest
import torch

from lp_weights import write_tiny_kijai_set
from playmate_core.implicit.renderer import load_renderer
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.sequence import MotionSequence

FPS = 25.0
# Render Frames' widgets (Render Video adds filename_prefix and crf)
RENDER_WIDGETS = dict(batch_size=2, stitching=True, eye_retargeting=False, eye_open=0.3, lip_retargeting=False,
                      lip_open=0.0, paste_back=False, feather=0.1)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    """The tiny LivePortrait renderer (seeded random weights, written and loaded as public files)."""
    return load_renderer(str(write_tiny_kijai_set(tmp_path_factory.mktemp("tiny_lp"))))


@pytest.fixture(scope="module")
def source(renderer):
    return make_source(renderer)


def make_source(renderer, batch: int = 1, seed: int = 0) -> SourceFeatures:
    """A source with eye / lip ratios, from smooth random crops."""
    g = torch.Generator().manual_seed(seed)
    crops = torch.nn.functional.interpolate(torch.rand(batch, 3, 16, 16, generator=g), size=(256, 256), mode="bilinear")
    source = renderer.extract_source(crops)
    return SourceFeatures(source.appearance, source.kp_canonical, source.motion,
                          eye_ratio=torch.full((batch, 2), 0.28), lip_ratio=torch.full((batch, 1), 0.05))


def nodding_motion(source: SourceFeatures, num_frames: int, rows: int | None = None) -> MotionSequence:
    """The source's own motion with the head turning and nodding a few degrees over time."""
    rows = rows or source.batch_size
    base = source.motion[:1].expand(rows, -1) if source.batch_size != rows else source.motion
    motion = base[:, None, :].repeat(1, num_frames, 1).clone()
    phase = torch.arange(num_frames, dtype=torch.float32) / FPS * 2 * math.pi
    motion[..., 67] += 15 * torch.sin(phase)
    motion[..., 68] += 20 * torch.sin(phase / 2)
    return MotionSequence(motion, FPS)


def sine_audio(seconds: float, rate: int = 22050, channels: int = 1, hz: float = 440.0) -> dict:
    t = torch.arange(int(round(seconds * rate)), dtype=torch.float32) / rate
    wave = 0.5 * torch.sin(2 * math.pi * hz * t)
    return {"waveform": wave[None, None].repeat(1, channels, 1), "sample_rate": rate}
