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


def synthetic_clip(frames: int, label: str | None, g: torch.Generator):
    """(motion [N, 70] absolute, audio [N, D], energy [N]). Mouth = 0.02 * energy (energy: 3 random sinusoids of
    0.4-2.5 Hz, carried by audio feature 0 with noise; the other features are distractors); the emotion coordinate
    = UNIT * (shift of the label + standard normal noise per frame); yaw = 8 degrees * a slow 0.2 Hz sine of random
    phase; scale 1.5; the rest 0."""
    t = torch.arange(frames) / 25.0
    freqs = 0.4 + 2.1 * torch.rand(3, generator=g)
    phases = 2 * math.pi * torch.rand(3, generator=g)
    energy = sum(torch.sin(2 * math.pi * f * t + p) for f, p in zip(freqs, phases)) / 1.5
    audio = 0.3 * torch.randn(frames, AUDIO_DIM, generator=g)
    audio[:, 0] = energy + 0.05 * torch.randn(frames, generator=g)
    motion = torch.zeros(frames, 70)
    motion[:, MOUTH_OPEN_INDEX] = 0.02 * energy
    motion[:, EMOTION_INDEX] = UNIT * (EMOTION_SHIFT[label] + torch.randn(frames, generator=g))
    motion[:, 63] = 1.5
    motion[:, YAW] = 8.0 * torch.sin(2 * math.pi * 0.2 * t + 2 * math.pi * torch.rand(1, generator=g))
    return motion, audio, energy


def write_synthetic_set(root, *, identities: int, labels: tuple, clips_per_label: int, frames: int, seed: int = 0,
                        encoder: str = "synthetic-wav2vec2") -> str:
    """identities x labels x clips_per_label clips of `frames` frames at 25 fps; returns the root."""
    g = torch.Generator().manual_seed(seed)
    writer = DatasetWriter(str(root), fps=25.0, audio_encoder=encoder, audio_dim=AUDIO_DIM, motion_extractor="synthetic")
    for person in range(identities):
        kp = 0.1 * torch.randn(21, 3, generator=g)
        for label in labels:
            for k in range(clips_per_label):
                motion, audio, _ = synthetic_clip(frames, label, g)
                writer.add_clip(f"id{person}/{label}/{k}.mp4", f"id{person}", label, motion, audio,
                                kp.expand(frames, 21, 3).clone())
    writer.finish()
    return str(root)
