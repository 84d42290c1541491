"""Frame-aligned audio features (the PLAYMATE_AUDIO_FEATURES payload)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def frame_count(duration_s: float, fps: float) -> int:
    """Number of video frames that cover ``duration_s`` seconds at ``fps``: ceil(duration * fps).

    A tiny tolerance keeps exact multiples exact (3.0 s at 25 fps is 75 frames, not 76).
    """
    return int(math.ceil(duration_s * fps - 1e-6))


@dataclass(frozen=True)
class AudioFeatures:
    """Encoder features resampled to the video frame rate.

    features:   [B, N, D] float32, one row per video frame (N = num_frames)
    fps:        video frames per second the rows are aligned to
    num_frames: N = ceil(duration_s * fps)
    duration_s: audio duration in seconds (before padding to whole frames)
    encoder:    family and size of the encoder that made them, e.g. "wav2vec2-base", "hubert-base", or the
                label of a windowed encoder (e.g. "joyvasa-hubert"); what a motion model checks
    source:     the encoder as the user chose it (a folder / file name), for messages; "" when unknown
    """

    features: torch.Tensor
    fps: float
    num_frames: int
    duration_s: float
    encoder: str
    source: str = ""

    @property
    def dim(self) -> int:
        return int(self.features.shape[-1])

    @property
    def origin(self) -> str:
        """The encoder as the user knows it (for messages): its folder / file name when known, else the label."""
        return self.source or self.encoder
