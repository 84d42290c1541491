"""Diffusion samplers (short functions of a denoiser, a start noise and a schedule) and guidance.

A ``denoise(x_t, t) -> output`` callable returns the model's (already guided) prediction for x_t at
training step t; ``noise(i) -> tensor`` gives the i-th fresh Gaussian draw when a sampler needs one.
"""

from __future__ import annotations

from typing import Callable

import torch

from .schedulers import NoiseSchedule, ddim_step, ddim_timesteps, ddpm_step, split_prediction

SAMPLERS = ("auto", "ddim", "ddpm")

Denoise = Callable[[torch.Tensor, int], torch.Tensor]
Noise = Callable[[int], torch.Tensor]
StepCallback = Callable[[int, int], None]


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


def sample_ddim(denoise: Denoise, x: torch.Tensor, schedule: NoiseSchedule, prediction: str, steps: int,
                eta: float = 0.0, noise: Noise | None = None, callback: StepCallback | None = None,
                clip: float | None = None) -> torch.Tensor:
    """DDIM over `steps` evenly spaced training steps (eta 0: deterministic; eta 1: ancestral).
    clip bounds the x0 estimate (epsilon models amplify errors by 1/sqrt(alpha_bar) at the noisiest steps)."""
    timesteps = ddim_timesteps(schedule.num_steps, steps)
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else 0
        x0, eps = _estimate(prediction, denoise(x, t), x, schedule.alpha_bar(t), clip)
        z = noise(i) if eta > 0 and t_prev > 0 else None
        x = ddim_step(x0, eps, schedule.alpha_bar(t), schedule.alpha_bar(t_prev), eta, z)
        if callback is not None:
            callback(i + 1, len(timesteps))
    return x


def sample_ddpm(denoise: Denoise, x: torch.Tensor, schedule: NoiseSchedule, prediction: str, noise: Noise,
                callback: StepCallback | None = None, clip: float | None = None) -> torch.Tensor:
    """Ancestral DDPM through every training step T..1; the step's noise is drawn before the denoiser call
    (JoyVASA's order), none at t = 1."""
    total = schedule.num_steps
    for i, t in enumerate(range(total, 0, -1)):
        z = noise(i) if t > 1 else None
        x0, _ = _estimate(prediction, denoise(x, t), x, schedule.alpha_bar(t), clip)
        x = ddpm_step(schedule, t, x, x0, z)
        if callback is not None:
            callback(i + 1, total)
    return x


def run_sampler(name: str, denoise: Denoise, x: torch.Tensor, schedule: NoiseSchedule, prediction: str,
                steps: int, noise: Noise, callback: StepCallback | None = None, clip: float | None = None) -> torch.Tensor:
    """'ddim' = deterministic DDIM; 'ddpm' = ancestral: the exact DDPM chain when steps >= T, otherwise
    DDIM with eta = 1 over the spaced steps (its generalisation)."""
    if name == "ddim":
        return sample_ddim(denoise, x, schedule, prediction, steps, 0.0, noise, callback, clip)
    if name == "ddpm":
        if steps >= schedule.num_steps:
            return sample_ddpm(denoise, x, schedule, prediction, noise, callback, clip)
        return sample_ddim(denoise, x, schedule, prediction, steps, 1.0, noise, callback, clip)
    raise ValueError(f"unknown sampler {name!r}; expected one of {SAMPLERS}")


def count_steps(name: str, schedule: NoiseSchedule, steps: int) -> int:
    """Denoiser calls one window takes with this sampler."""
    if name == "ddpm" and steps >= schedule.num_steps:
        return schedule.num_steps
    return len(ddim_timesteps(schedule.num_steps, steps))
