"""Noise schedules and the pure update rules of diffusion sampling (no networks, no loops over windows).

Convention shared by every model here: training steps t = 1..T, index 0 is the clean sample
(alpha_bar[0] = 1, beta[0] = 0), so a schedule holds T + 1 values per buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PREDICTION_TYPES = ("epsilon", "sample")


@dataclass(frozen=True)
class NoiseSchedule:
    """A DDPM noise schedule. betas / alpha_bars: [T + 1] float32, index 0 = clean (beta 0, alpha_bar 1)."""

    betas: torch.Tensor
    alpha_bars: torch.Tensor

    @property
    def num_steps(self) -> int:
        return int(self.betas.shape[0]) - 1

    @classmethod
    def cosine(cls, num_steps: int, s: float = 0.008, max_beta: float = 0.999,
               min_beta: float = 1e-4) -> "NoiseSchedule":
        """Improved-DDPM cosine schedule, betas clipped to [min_beta, max_beta] (JoyVASA's recipe)."""
        if num_steps < 1:
            raise ValueError(f"a noise schedule needs at least 1 step, got {num_steps}")
        x = torch.linspace(0, num_steps, num_steps + 1, dtype=torch.float64)
        f = torch.cos(((x / num_steps) + s) / (1 + s) * math.pi * 0.5) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(min_beta, max_beta)
        return cls.from_betas(torch.cat([torch.zeros(1, dtype=torch.float64), betas]))

    @classmethod
    def linear(cls, num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """DDPM's linear schedule (scaled to num_steps as in Ho et al. for T = 1000)."""
        scale = 1000.0 / num_steps
        betas = torch.linspace(beta_start * scale, beta_end * scale, num_steps, dtype=torch.float64)
        return cls.from_betas(torch.cat([torch.zeros(1, dtype=torch.float64), betas]))

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> "NoiseSchedule":
        """betas [T + 1] with betas[0] = 0; alpha_bar = prod(1 - beta) in float64, stored as float32."""
        betas = betas.to(torch.float64)
        alpha_bars = torch.cumprod(1 - betas, dim=0)
        return cls(betas.float(), alpha_bars.float())

    @classmethod
    def named(cls, kind: str, num_steps: int) -> "NoiseSchedule":
        if kind == "cosine":
            return cls.cosine(num_steps)
        if kind == "linear":
            return cls.linear(num_steps)
        raise ValueError(f"unknown noise schedule {kind!r}; expected 'cosine' or 'linear'")

    def alpha_bar(self, t: int) -> float:
        return float(self.alpha_bars[t])

    def posterior_std(self, t: int) -> float:
        """sqrt(beta_tilde_t): the DDPM posterior standard deviation q(x_{t-1} | x_t, x_0)."""
        ab_t, ab_prev = self.alpha_bar(t), self.alpha_bar(t - 1)
        return math.sqrt((1 - ab_prev) / (1 - ab_t) * float(self.betas[t]))


def add_noise(schedule: NoiseSchedule, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Forward process q(x_t | x_0): sqrt(ab_t) x0 + sqrt(1 - ab_t) noise. t: [B] long in 1..T."""
    ab = schedule.alpha_bars.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def training_target(prediction: str, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """What a network is trained to output: the added noise (epsilon) or the clean sample (x0)."""
    if prediction == "epsilon":
        return noise
    if prediction == "sample":
        return x0
    raise ValueError(f"unknown prediction type {prediction!r}; expected one of {PREDICTION_TYPES}")


def split_prediction(prediction: str, output: torch.Tensor, x_t: torch.Tensor, alpha_bar: float):
    """A network output at noise level alpha_bar -> (x0_hat, eps_hat)."""
    a, b = math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar)
    if prediction == "epsilon":
        return (x_t - b * output) / a, output
    if prediction == "sample":
        return output, (x_t - a * output) / b
    raise ValueError(f"unknown prediction type {prediction!r}; expected one of {PREDICTION_TYPES}")


def uniform_timesteps(num_train_steps: int, steps: int) -> list[int]:
    """The training steps a sampler walks: `steps` evenly spaced values from T down to 1, rounded (every step
    T..1 when steps >= T, JoyVASA's release chain); the update after the last one lands on 0."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    steps = min(steps, num_train_steps)
    grid = torch.linspace(num_train_steps, 1, steps, dtype=torch.float64).round().long().tolist()
    return list(dict.fromkeys(int(t) for t in grid))


def ddim_step(x0: torch.Tensor, eps: torch.Tensor, alpha_bar: float, alpha_bar_prev: float,
              eta: float = 0.0, noise: torch.Tensor | None = None) -> torch.Tensor:
    """DDIM update x_t -> x_prev from (x0_hat, eps_hat); eta = 0 is deterministic, eta = 1 ancestral."""
    sigma = 0.0
    if eta > 0.0 and alpha_bar_prev < 1.0:
        sigma = eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev))
    direction = math.sqrt(max(1.0 - alpha_bar_prev - sigma * sigma, 0.0))
    x_prev = math.sqrt(alpha_bar_prev) * x0 + direction * eps
    if sigma > 0.0:
        if noise is None:
            raise ValueError("an ancestral DDIM step (eta > 0) needs a noise tensor")
        x_prev = x_prev + sigma * noise
    return x_prev


def ddpm_step(schedule: NoiseSchedule, t: int, x_t: torch.Tensor, x0: torch.Tensor,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """Ancestral DDPM update: posterior mean c0 x_t + c1 x0 plus sqrt(beta_tilde_t) * noise (none at t = 1)."""
    ab_t, ab_prev = schedule.alpha_bar(t), schedule.alpha_bar(t - 1)
    beta = float(schedule.betas[t])
    c0 = (1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab_t)
    c1 = beta * math.sqrt(ab_prev) / (1 - ab_t)
    x_prev = c0 * x_t + c1 * x0
    if t > 1:
        if noise is None:
            raise ValueError("a DDPM step above t = 1 needs a noise tensor")
        x_prev = x_prev + schedule.posterior_std(t) * noise
    return x_prev
