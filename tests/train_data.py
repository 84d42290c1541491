"""Synthetic training data sets written with the real DatasetWriter: motion that is a known function of the audio
(mouth) and of the emotion label (one expression coordinate), for the trainer and emotion-learning tests."""

from __future__ import annotations

import math

import torch

from playmate_core.motion.plot import MOUTH_OPEN_INDEX
from playmate_core.train.dataset import DatasetWriter

AUDIO_DIM = 8
EMOTION_INDEX = 15  # exp of keypoint 5, x: the coordinate the emotion label moves
EMOTION_SHIFT = {"happy": 1.5, "sad": -1.5, "neutral": 0.0, None: 0.0}  # in units of that coordinate's noise std
UNIT = 0.01  # absolute std of the emotion coordinate (LivePortrait units)
YAW = 68


KP_CANONICAL = 0.1 * torch.randn(21, 3, generator=torch.Generator().manual_seed(42))  # shared by every identity


def _curve(t: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A random smooth curve of about unit size: 3 sinusoids of 0.4-2.5 Hz with random phases."""
    freqs = 0.4 + 2.1 * torch.rand(3, generator=g)
    phases = 2 * math.pi * torch.rand(3, generator=g)
    return sum(torch.sin(2 * math.pi * f * t + p) for f, p in zip(freqs, phases)) / 1.5


def synthetic_clip(frames: int, label: str | None, g: torch.Generator, offset: float = 0.0):
    """(motion [N, 70] absolute, audio [N, D], energy [N]).

    Two random smooth curves drive the face and are carried (with noise) by audio features 0 and 1; the other
    features are distractors. Mouth = 0.02 * energy (curve 0). The emotion coordinate = UNIT * (the identity's
    offset + curve 1 + the label's shift + 0.3 * noise): it moves with the speech, as real expression
    coordinates do, so the stage-1 Exp-MLP uses it and a frozen stage 1 leaves the controller a way to shift it.
    Yaw = 8 degrees * a slow 0.2 Hz sine of random phase; scale 1.5; the rest 0.
    """
    t = torch.arange(frames) / 25.0
    energy, expression = _curve(t, g), _curve(t, g)
    audio = 0.3 * torch.randn(frames, AUDIO_DIM, generator=g)
    audio[:, 0] = energy + 0.05 * torch.randn(frames, generator=g)
    audio[:, 1] = expression + 0.05 * torch.randn(frames, generator=g)
    motion = torch.zeros(frames, 70)
    motion[:, MOUTH_OPEN_INDEX] = 0.02 * energy
    noise = 0.3 * torch.randn(frames, generator=g)
    motion[:, EMOTION_INDEX] = UNIT * (offset + expression + EMOTION_SHIFT[label] + noise)
    motion[:, 63] = 1.5
    motion[:, YAW] = 8.0 * torch.sin(2 * math.pi * 0.2 * t + 2 * math.pi * torch.rand(1, generator=g))
    return motion, audio, energy


def write_synthetic_set(root, *, identities: int, labels: tuple, clips_per_label: int, frames: int, seed: int = 0,
                        encoder: str = "synthetic-wav2vec2") -> str:
    """identities x labels x clips_per_label clips of `frames` frames at 25 fps (each identity with a standard
    normal offset of the emotion coordinate); returns the root."""
    g = torch.Generator().manual_seed(seed)
    writer = DatasetWriter(str(root), fps=25.0, audio_encoder=encoder, audio_dim=AUDIO_DIM,
                           motion_extractor="synthetic")
    for person in range(identities):
        offset = float(torch.randn(1, generator=g))
        for label in labels:
            for k in range(clips_per_label):
                motion, audio, _ = synthetic_clip(frames, label, g, offset)
                writer.add_clip(f"id{person}/{label}/{k}.mp4", f"id{person}", label, motion, audio,
                                KP_CANONICAL.expand(frames, 21, 3).clone())
    writer.finish()
    return str(root)
