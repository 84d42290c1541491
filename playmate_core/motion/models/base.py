"""The one interface every motion model (Playmate, JoyVASA) offers to the samplers."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...devices import ParameterPlacement
from ..normalization import MotionNormalizer
from ..schedulers import NoiseSchedule


@dataclass
class WindowConditions:
    """Everything a model sees for one window of W frames, batch B (already batched for guidance).

    audio:        [B, W, Da] per-frame audio features (raw encoder features at the model's fps)
    drop_audio:   [B] bool, True = the null audio condition (classifier-free guidance)
    prev_motion:  [B, P, 70] normalised motion before the window, or None for the first window
    prev_audio:   [B, P, Da] audio features of those frames, or None for the first window
    kp_canonical: [B, 21, 3] source canonical keypoints
    source_motion:[B, 70] source motion (absolute)
    emotion:      [B, W, 9] emotion token weights (null token = no emotion), or None
    use_start:    [B] bool, True = ignore prev_* for that row and use the learned first-window history
                  (training mixes first and later windows in one batch); None = all rows use prev_*
    """

    audio: torch.Tensor
    drop_audio: torch.Tensor
    prev_motion: torch.Tensor | None
    prev_audio: torch.Tensor | None
    kp_canonical: torch.Tensor
    source_motion: torch.Tensor
    emotion: torch.Tensor | None = None
    use_start: torch.Tensor | None = None


class MotionModel(ParameterPlacement, nn.Module):
    """A denoiser of normalised 70-d motion windows plus what sampling it needs.

    Subclasses set: family, config, fps, window (W frames per window), num_prev (P prefix frames),
    audio_dim, prediction ('epsilon' or 'sample'), supports_emotion, reuse_window_noise, clip_sample, and own a
    ``normalizer`` (MotionNormalizer) and a ``schedule`` (NoiseSchedule); they implement
    :meth:`encode_conditions` (once per window) and :meth:`denoise` (once per step).
    """

    family: str = ""
    fps: float = 25.0
    window: int = 100
    num_prev: int = 25
    overlap: int = 0
    audio_dim: int = 768
    audio_encoder: str = ""
    prediction: str = "epsilon"
    supports_emotion: bool = False
    reuse_window_noise: bool = False
    default_sampler: str = "ddim"
    default_steps: int = 25  # denoising steps per window the family is published with
    default_audio_cfg: float = 1.5  # the audio guidance w_a the family was published with
    file_name: str = ""  # the file it was loaded from, for messages (set by the loader)
    clip_sample: float | None = None  # bound on the x0 estimate while sampling (normalised units)
    float32_modules: tuple = ("normalizer",)  # submodules kept in float32 whatever the weights' precision
    normalizer: MotionNormalizer
    schedule: NoiseSchedule

    def encode_conditions(self, cond: WindowConditions):
        """Per-window conditioning state (any object) reused by every denoising step of the window."""
        raise NotImplementedError

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, state) -> torch.Tensor:
        """x_t [B, W, 70] normalised noisy motion (float32: a model casts it for its network and keeps the float32
        values where they pass through, so fp16 rounding of x_t is not amplified by the sampler's 1 / sqrt(ab_t)),
        t [B] long step in 1..T -> prediction [B, W, 70]."""
        raise NotImplementedError

    def finalize_motion(self, motion: torch.Tensor, source_motion: torch.Tensor) -> torch.Tensor:
        """Absolute motion [B, N, 70] as generated -> the motion handed to the renderer (default: as is)."""
        return motion

    def describe(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return f"{self.family} motion model, {params / 1e6:.2f} M parameters, {self.fps:g} fps, window {self.window}"
