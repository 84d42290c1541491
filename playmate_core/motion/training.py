"""One diffusion training objective shared by the motion models (the training loop lives in playmate_core/train)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .conditions import NULL_EMOTION
from .models.base import MotionModel, WindowConditions
from .schedulers import add_noise, training_target


class DiffusionForward(NamedTuple):
    """One noised training forward: output and target [B, W, 70], noisy input x_t [B, W, 70], steps t [B]."""

    output: torch.Tensor
    target: torch.Tensor
    x_t: torch.Tensor
    t: torch.Tensor


def diffusion_loss(model: MotionModel, motion: torch.Tensor, cond: WindowConditions, *,
                   prev_noise_std: float = 0.0, audio_drop_prob: float = 0.1, emotion_drop_prob: float = 0.1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the model's prediction on a batch of normalised windows (see diffusion_forward)."""
    out = diffusion_forward(model, motion, cond, prev_noise_std=prev_noise_std, audio_drop_prob=audio_drop_prob,
                            emotion_drop_prob=emotion_drop_prob, generator=generator)
    return F.mse_loss(out.output.float(), out.target.float())


def diffusion_forward(model: MotionModel, motion: torch.Tensor, cond: WindowConditions, *,
                      prev_noise_std: float = 0.0, audio_drop_prob: float = 0.1, emotion_drop_prob: float = 0.1,
                      generator: torch.Generator | None = None) -> DiffusionForward:
    """The model's prediction on a batch of noised normalised windows, and what it should be.

    motion: [B, W, 70] clean normalised target; cond: the window's conditions (drop_audio is replaced by
    random classifier-free-guidance dropout). A uniform step t in 1..T is drawn per row; the previous
    motion gets Gaussian noise of std prev_noise_std (robustness to its own imperfect history); emotion
    rows are replaced by the null token with probability emotion_drop_prob.
    """
    b, device = motion.shape[0], motion.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(device)

    def randn(*shape):
        return torch.randn(*shape, generator=generator).to(device, motion.dtype)

    t = torch.randint(1, model.schedule.num_steps + 1, (b,), generator=generator).to(device)
    noise = randn(*motion.shape)
    x_t = add_noise(model.schedule, motion, noise, t)
    prev_motion = cond.prev_motion
    if prev_motion is not None and prev_noise_std > 0:
        prev_motion = prev_motion + prev_noise_std * randn(*prev_motion.shape)
    emotion = cond.emotion
    if emotion is not None:
        null = torch.zeros_like(emotion)
        null[..., NULL_EMOTION] = 1.0
        emotion = torch.where((rand(b) < emotion_drop_prob).view(b, 1, 1), null, emotion)
    noisy_cond = WindowConditions(
        audio=cond.audio, drop_audio=rand(b) < audio_drop_prob, prev_motion=prev_motion, prev_audio=cond.prev_audio,
        kp_canonical=cond.kp_canonical, source_motion=cond.source_motion, emotion=emotion, use_start=cond.use_start,
    )
    output = model.denoise(x_t, t, model.encode_conditions(noisy_cond))
    return DiffusionForward(output, training_target(model.prediction, motion, noise), x_t, t)
