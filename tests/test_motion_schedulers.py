"""Schedules, update rules, samplers and guidance: the pure math of motion diffusion."""

import math

import pytest
import torch

from playmate_core.motion.samplers import combine_guidance, sample_ddim, sample_ddpm, sampler_for
from playmate_core.motion.schedulers import (
    NoiseSchedule, add_noise, ddim_step, ddpm_step, split_prediction, training_target, uniform_timesteps,
)


def test_cosine_schedule_matches_its_definition():
    s = NoiseSchedule.cosine(50)
    assert s.num_steps == 50 and s.betas[0] == 0 and s.alpha_bars[0] == 1
    f = lambda t: math.cos((t / 50 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 10, 25, 40):
        assert s.alpha_bar(t) == pytest.approx(f(t) / f(0), rel=1e-5)
    assert float(s.betas.max()) == pytest.approx(0.999)  # clipped at the end
    assert torch.all(s.alpha_bars[1:] < s.alpha_bars[:-1])


def test_linear_schedule_and_unknown_name():
    s = NoiseSchedule.named("linear", 1000)
    assert float(s.betas[1]) == pytest.approx(1e-4) and float(s.betas[-1]) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        NoiseSchedule.named("sigmoid", 10)


def test_forward_process_and_prediction_round_trip():
    s = NoiseSchedule.cosine(100)
    x0, eps = torch.randn(3, 5, 70), torch.randn(3, 5, 70)
    t = torch.tensor([1, 50, 100])
    x_t = add_noise(s, x0, eps, t)
    for i in range(3):
        ab = s.alpha_bar(int(t[i]))
        torch.testing.assert_close(x_t[i], math.sqrt(ab) * x0[i] + math.sqrt(1 - ab) * eps[i])
        x0_hat, eps_hat = split_prediction("epsilon", eps[i], x_t[i], ab)
        torch.testing.assert_close(x0_hat, x0[i], rtol=1e-3, atol=2e-3 if ab > 1e-3 else 1.0)
        x0_hat, eps_hat = split_prediction("sample", x0[i], x_t[i], ab)
        torch.testing.assert_close(eps_hat, eps[i], rtol=1e-3, atol=1e-3)
    assert training_target("epsilon", x0, eps) is eps and training_target("sample", x0, eps) is x0
    with pytest.raises(ValueError, match="prediction type"):
        training_target("v", x0, eps)


def test_uniform_timesteps_cover_the_schedule():
    assert uniform_timesteps(1000, 25)[0] == 1000 and uniform_timesteps(1000, 25)[-1] == 1
    assert len(uniform_timesteps(1000, 25)) == 25
    assert uniform_timesteps(50, 50) == list(range(50, 0, -1))
    assert uniform_timesteps(50, 200) == list(range(50, 0, -1))  # capped at T
    with pytest.raises(ValueError, match="at least 1"):
        uniform_timesteps(50, 0)


def test_ancestral_ddim_over_every_step_is_the_ddpm_posterior():
    """DDIM with eta = 1 and no skipped steps is the DDPM posterior: same mean, same noise scale."""
    s = NoiseSchedule.cosine(50)
    g = torch.Generator().manual_seed(0)
    for t in (50, 30, 2):
        x_t, x0, z = (torch.randn(4, 70, generator=g, dtype=torch.float64) for _ in range(3))
        ab, ab_prev = s.alpha_bar(t), s.alpha_bar(t - 1)
        _, eps = split_prediction("sample", x0, x_t, ab)
        # equal up to the float32 rounding of the stored schedule (alpha_bar and beta are stored separately)
        torch.testing.assert_close(ddim_step(x0, eps, ab, ab_prev, eta=1.0, noise=z), ddpm_step(s, t, x_t, x0, z),
                                   rtol=1e-4, atol=1e-4)
    # the last step is noiseless and returns the posterior mean
    x_t, x0 = torch.randn(4, 70), torch.randn(4, 70)
    c1 = float(s.betas[1]) * math.sqrt(s.alpha_bar(0)) / (1 - s.alpha_bar(1))
    c0 = (1 - s.alpha_bar(0)) * math.sqrt(1 - float(s.betas[1])) / (1 - s.alpha_bar(1))
    torch.testing.assert_close(ddpm_step(s, 1, x_t, x0), c0 * x_t + c1 * x0)


def test_deterministic_ddim_recovers_a_perfectly_predicted_sample():
    """With an oracle denoiser that knows x0, DDIM lands exactly on x0 whatever the number of steps."""
    s = NoiseSchedule.cosine(1000)
    target = torch.randn(2, 10, 70, dtype=torch.float64)  # float64: alpha_bar(T) ~ 1e-8 cancels badly in float32

    def oracle(x, t):
        ab = s.alpha_bar(t)
        return (x - math.sqrt(ab) * target) / math.sqrt(1 - ab)  # the true epsilon

    for steps in (1, 5, 25):
        out = sample_ddim(oracle, torch.randn(2, 10, 70, dtype=torch.float64), uniform_timesteps(1000, steps), s,
                          "epsilon")
        torch.testing.assert_close(out, target, rtol=1e-6, atol=1e-6)


def test_sampler_names_and_step_counts():
    s = NoiseSchedule.cosine(50)
    calls = []

    def denoise(x, t):
        calls.append(t)
        return torch.zeros_like(x)

    noise = lambda i: torch.zeros(1, 3, 70)  # noqa: E731
    timesteps = uniform_timesteps(s.num_steps, 50)
    sampler_for("ddpm", timesteps)(denoise, torch.zeros(1, 3, 70), timesteps, s, "sample", noise=noise)
    assert calls == list(range(50, 0, -1)) and len(timesteps) == 50
    calls.clear()
    timesteps = uniform_timesteps(s.num_steps, 10)
    sampler_for("ddpm", timesteps)(denoise, torch.zeros(1, 3, 70), timesteps, s, "sample", noise=noise)
    assert len(calls) == 10 == len(timesteps)
    with pytest.raises(ValueError, match="unknown sampler"):
        sampler_for("euler", timesteps)


def test_nested_guidance_formula():
    u, a, e = torch.randn(3, 2, 5, 70).unbind(0)
    torch.testing.assert_close(combine_guidance(torch.stack([u, a]), 0.0), u)
    torch.testing.assert_close(combine_guidance(torch.stack([u, a]), 1.0), a)
    torch.testing.assert_close(combine_guidance(torch.stack([u, a]), 1.5), a + 0.5 * (a - u))
    out = combine_guidance(torch.stack([u, a, e]), 1.5, 2.0)
    torch.testing.assert_close(out, u + 1.5 * (a - u) + 2.0 * (e - a))
    torch.testing.assert_close(combine_guidance(torch.stack([u, a, e]), 1.0, 1.0), e)
    with pytest.raises(ValueError, match="2 or 3"):
        combine_guidance(torch.stack([u]), 1.0)


def test_the_ddpm_chain_refuses_skipped_steps():
    s = NoiseSchedule.cosine(50)
    x, noise = torch.zeros(1, 3, 70), lambda i: torch.zeros(1, 3, 70)  # noqa: E731
    for timesteps in (uniform_timesteps(50, 10), [50, 49, 48], []):  # spaced; not down to 1; empty
        with pytest.raises(ValueError, match="consecutive training steps down to 1"):
            sample_ddpm(lambda x, t: x, x, timesteps, s, "sample", noise=noise)
