"""Diffusion samplers (short functions of a denoiser, a start noise and the timesteps they walk) and guidance.

A ``denoise(x_t, t) -> output`` callable returns the model's (already guided) prediction for x_t at
training step t; ``noise(i) -> tensor`` gives the i-th fresh Gaussian draw when a sampler needs one.
Every sampler has the signature of :data:`Sampler`; which steps it visits is the caller's choice (the
spacing functions of :mod:`.schedulers`), as in k-diffusion where a sampler walks the sigmas it is given.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from .schedulers import NoiseSchedule, ddim_step, ddpm_step, split_prediction

SAMPLERS = ("auto", "ddim", "ddpm")

Denoise = Callable[[torch.Tensor, int], torch.Tensor]
Noise = Callable[[int], torch.Tensor]
StepCallback = Callable[[int, int], None]
Sampler = Callable[..., torch.Tensor]  # (denoise, x, timesteps, schedule, prediction, *, noise, callback, clip)


def combine_guidance(outputs: torch.Tensor, audio_scale: float, emotion_scale: float = 0.0) -> torch.Tensor:
    """Nested classifier-free guidance over stacked predictions [G, ...]:
    G = 2 (null, audio):               out = o0 + w_a (o1 - o0)
    G = 3 (null, audio, audio+emotion): out = o0 + w_a (o1 - o0) + w_e (o2 - o1)."""
    if outputs.shape[0] == 2:
        return outputs[0] + audio_scale * (outputs[1] - outputs[0])
    if outputs.shape[0] == 3:
        return outputs[0] + audio_scale * (outputs[1] - outputs[0]) + emotion_scale * (outputs[2] - outputs[1])
    raise ValueError(f"guidance needs 2 or 3 stacked predictions, got {outputs.shape[0]}")


def _estimate(prediction, output, x, alpha_bar, clip):
    x0, eps = split_prediction(prediction, output, x, alpha_bar)
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
        _, eps = split_prediction("sample", x0, x, alpha_bar)
    return x0, eps


def sample_ddim(denoise: Denoise, x: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, prediction: str,
                *, eta: float = 0.0, noise: Noise | None = None, callback: StepCallback | None = None,
                clip: float | None = None) -> torch.Tensor:
    """DDIM down `timesteps` (decreasing training steps; the last update lands on 0). eta 0: deterministic;
    eta 1: ancestral. clip bounds the x0 estimate (epsilon models amplify errors by 1/sqrt(alpha_bar) at the
    noisiest steps)."""
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else 0
        x0, eps = _estimate(prediction, denoise(x, t), x, schedule.alpha_bar(t), clip)
        z = noise(i) if eta > 0 and t_prev > 0 else None
        x = ddim_step(x0, eps, schedule.alpha_bar(t), schedule.alpha_bar(t_prev), eta, z)
        if callback is not None:
            callback(i + 1, len(timesteps))
    return x


def sample_ddpm(denoise: Denoise, x: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, prediction: str,
                *, noise: Noise, callback: StepCallback | None = None, clip: float | None = None) -> torch.Tensor:
    """Ancestral DDPM down consecutive `timesteps` ending at 1 (every training step: the posterior uses the
    schedule's own beta_t); the step's noise is drawn before the denoiser call (JoyVASA's order), none at t = 1."""
    if not walks_every_step(timesteps):
        raise ValueError("the DDPM chain walks consecutive training steps down to 1; over spaced steps use "
                         "sample_ddim with eta = 1 (its generalisation)")
    for i, t in enumerate(timesteps):
        z = noise(i) if t > 1 else None
        x0, _ = _estimate(prediction, denoise(x, t), x, schedule.alpha_bar(t), clip)
        x = ddpm_step(schedule, t, x, x0, z)
        if callback is not None:
            callback(i + 1, len(timesteps))
    return x


def walks_every_step(timesteps: list[int]) -> bool:
    """True when timesteps (non-empty) go down one training step at a time and end at 1."""
    return (bool(timesteps) and timesteps[-1] == 1
            and all(t - t_prev == 1 for t, t_prev in zip(timesteps, timesteps[1:])))


def sampler_for(name: str, timesteps: list[int]) -> Sampler:
    """The function a sampler name walks `timesteps` with: 'ddim' = deterministic DDIM; 'ddpm' = ancestral:
    the DDPM chain over every training step, DDIM with eta = 1 (the same posterior) over spaced steps."""
    if name == "ddim":
        return sample_ddim
    if name == "ddpm":
        return sample_ddpm if walks_every_step(timesteps) else partial(sample_ddim, eta=1.0)
    raise ValueError(f"unknown sampler {name!r}; expected one of {SAMPLERS}")
