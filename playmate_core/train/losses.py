"""The training objective of both stages: the paper's epsilon loss plus temporal terms on the x0 estimate.

loss = |eps_hat - eps|^2 + velocity * |D(e)|^2 + smoothness * |D^2(e)|^2, with D the frame difference and
e = sqrt(ab_t) (x0_hat - x0) the x0-estimate error weighted by sqrt(alpha_bar_t).

Why that weight: for an epsilon output, x0_hat - x0 = -sqrt((1 - ab_t) / ab_t) (eps_hat - eps). Unweighted, the temporal
terms would multiply the network's epsilon errors by (1 - ab_t) / ab_t: 4e6 at t = T for the tiny (100-step) cosine
schedule, 4e8 for base (1000 steps), so the noisiest steps, whose x0 estimate means little, would dominate the gradient.
Weighted by ab_t (= SNR / (1 + SNR)) they equal (1 - ab_t) |D(eps_hat - eps)|^2: never larger than the temporal error of
epsilon itself, so bounded at every step, and the plain x0 velocity/acceleration loss (JoyVASA's recipe) where ab_t -> 1
and the x0 estimate is accurate. Velocity errors are what shows as jitter in a talking head; the acceleration term keeps
the expression and pose curves smooth within a window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..motion.models.base import MotionModel
from ..motion.training import diffusion_forward
from .config import LossConfig
from .windows import WindowBatch


def _mean_square_difference(x: torch.Tensor, order: int) -> torch.Tensor:
    """Mean of the squared order-th frame difference of [B, W, C]; 0 for windows too short to have one."""
    if x.shape[1] <= order:
        return x.new_zeros(())
    return torch.diff(x, n=order, dim=1).square().mean()


def x0_error(model: MotionModel, output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
             x0: torch.Tensor) -> torch.Tensor:
    """sqrt(ab_t) (x0_hat - x0) [B, W, 70], computed without dividing by sqrt(ab_t)."""
    ab = model.schedule.alpha_bars.to(x0.device)[t].view(-1, 1, 1)
    if model.prediction == "epsilon":
        return x_t - (1 - ab).sqrt() * output - ab.sqrt() * x0
    return ab.sqrt() * (output - x0)


def motion_loss(model: MotionModel, batch: WindowBatch, weights: LossConfig, generator: torch.Generator, *,
                prev_noise_std: float, audio_drop_prob: float, emotion_drop_prob: float) -> dict[str, torch.Tensor]:
    """{"loss": total, "epsilon", "velocity", "smoothness"} (scalars; the total carries the gradient)."""
    fwd = diffusion_forward(model, batch.motion, batch.conditions(), prev_noise_std=prev_noise_std,
                            audio_drop_prob=audio_drop_prob, emotion_drop_prob=emotion_drop_prob, generator=generator)
    output = fwd.output.float()
    epsilon = F.mse_loss(output, fwd.target.float())
    error = x0_error(model, output, fwd.x_t.float(), fwd.t, batch.motion.float())
    velocity = _mean_square_difference(error, 1)
    smoothness = _mean_square_difference(error, 2)
    total = epsilon + weights.velocity * velocity + weights.smoothness * smoothness
    return {"loss": total, "epsilon": epsilon.detach(), "velocity": velocity.detach(),
            "smoothness": smoothness.detach()}
