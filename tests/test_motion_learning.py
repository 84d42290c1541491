"""A real learning check of the Playmate method on CPU: train the tiny config on synthetic data whose motion is
a known function of the audio, then sample with the public sampler and check that the motion follows the audio
and that audio guidance behaves as classifier-free guidance should."""

import math

import pytest
import torch

from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.generation import generate_motion
from playmate_core.motion.models.base import WindowConditions
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.motion.plot import MOUTH_OPEN_INDEX
from playmate_core.motion.samplers import combine_guidance
from playmate_core.motion.training import diffusion_loss

AUDIO_DIM = 8
TRAIN_STEPS = 400  # batch 32: well under a minute on 2 quiet cores
YAW = 68


def synthetic_clip(frames: int, g: torch.Generator):
    """Audio features and the normalised motion they drive.

    energy: a random smooth positive curve (sum of 3 sinusoids of 0.4-2.5 Hz at 25 fps); feature 0 carries it with
    noise, the other features are distractors (std 0.3). Target motion: the mouth coordinate = standardised energy;
    yaw = a slow sine (0.2 Hz, random phase, independent of the audio); everything else at the neutral value 0.
    """
    t = torch.arange(frames) / 25.0
    freqs = 0.4 + 2.1 * torch.rand(3, generator=g)
    phases = 2 * math.pi * torch.rand(3, generator=g)
    energy = sum(torch.sin(2 * math.pi * f * t + p) for f, p in zip(freqs, phases)) / 1.5
    audio = 0.3 * torch.randn(frames, AUDIO_DIM, generator=g)
    audio[:, 0] = energy + 0.05 * torch.randn(frames, generator=g)
    motion = torch.zeros(frames, 70)
    motion[:, MOUTH_OPEN_INDEX] = energy
    motion[:, YAW] = torch.sin(2 * math.pi * 0.2 * t + 2 * math.pi * torch.rand(1, generator=g))
    return audio, motion, energy


def corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm() + 1e-12))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    config = PlaymateConfig.preset("tiny", audio_dim=AUDIO_DIM, audio_encoder="", emotion_blocks=0)
    model = PlaymateMotionModel(config)
    p, w, batch = config.num_prev, config.window, 32
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(TRAIN_STEPS):
        clips = [synthetic_clip(p + w, g) for _ in range(batch)]
        audio = torch.stack([c[0] for c in clips])
        motion = torch.stack([c[1] for c in clips])
        cond = WindowConditions(audio=audio[:, p:], drop_audio=torch.zeros(batch, dtype=torch.bool),
                                prev_motion=motion[:, :p], prev_audio=audio[:, :p],
                                kp_canonical=torch.zeros(batch, 21, 3), source_motion=torch.zeros(batch, 70),
                                use_start=torch.rand(batch, generator=g) < config.start_prob)
        loss = diffusion_loss(model, motion[:, p:], cond, prev_noise_std=config.prev_noise_std,
                              audio_drop_prob=0.15, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, float(loss.detach())


def _sample(model, audio, cfg, seed=0, pose_smoothing=0.0):
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    feats = AudioFeatures(audio[None], 25.0, audio.shape[0], audio.shape[0] / 25.0, "synthetic")
    motion = generate_motion(model, source, feats, steps=20, audio_cfg=cfg, seed=seed, pose_smoothing=pose_smoothing)
    return motion.motion[0]


def test_generated_mouth_follows_the_audio(trained):
    model, loss = trained
    g = torch.Generator().manual_seed(1234)  # a clip never seen in training, 3.6 s = 4 windows of the tiny config
    audio, _, energy = synthetic_clip(90, g)
    motion = _sample(model, audio, cfg=1.5, pose_smoothing=0.2)  # the node's default smoothing (pose only)
    normalizer = model.normalizer
    mouth = (motion[:, MOUTH_OPEN_INDEX] - normalizer.exp_mean[MOUTH_OPEN_INDEX]) / normalizer.exp_std[MOUTH_OPEN_INDEX]
    # threshold: generated mouth opening correlates with the driving energy at r > 0.8 over all 4 windows
    assert corr(mouth, energy) > 0.8, (corr(mouth, energy), loss)
    # and its size is right (the target is the standardised energy itself, |energy| averages about 0.8)
    assert float((mouth - energy).abs().mean()) < 0.6
    # the head follows a slow curve, across window borders too: no frame-to-frame jump above 0.5 (normalised yaw;
    # the target's slope is 0.05 per frame). Its phase is random and independent of the audio, so a model this
    # small and briefly trained draws a damped curve: only ask that it moves at all.
    yaw = motion[:, YAW] / model.normalizer.pose_std_identity[YAW - 63]  # the source yaw is 0
    assert float(yaw.diff().abs().max()) < 0.5
    assert float(yaw.std()) > 0.05


def test_audio_guidance_scale_behaves_as_cfg(trained):
    model, _ = trained
    g = torch.Generator().manual_seed(99)
    audio, _, energy = synthetic_clip(60, g)
    scale = model.normalizer.exp_std[MOUTH_OPEN_INDEX]
    mouth = {w: _sample(model, audio, cfg=w)[:, MOUTH_OPEN_INDEX] / scale for w in (0.0, 1.0, 1.5)}
    # w = 0 is the unconditional model: it cannot know the audio
    assert abs(corr(mouth[0.0], energy)) < 0.4, corr(mouth[0.0], energy)
    # w = 1 is the conditional model; w = 1.5 extrapolates away from the unconditional one: closer to the audio
    assert corr(mouth[1.0], energy) > 0.6, corr(mouth[1.0], energy)
    assert corr(mouth[1.5], energy) > corr(mouth[1.0], energy)
    # w = 0 output does not depend on the audio at all (single window: no audio in the history)
    other, _, _ = synthetic_clip(30, torch.Generator().manual_seed(5))
    a = _sample(model, audio[:30], cfg=0.0)
    b = _sample(model, other, cfg=0.0)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # at the denoiser, the guided prediction at w = 1.5 is cond + 0.5 (cond - uncond)
    cond = WindowConditions(audio=audio[None, :32].repeat(2, 1, 1), drop_audio=torch.tensor([True, False]),
                            prev_motion=None, prev_audio=None, kp_canonical=torch.zeros(2, 21, 3),
                            source_motion=torch.zeros(2, 70))
    with torch.inference_mode():
        out = model.denoise(torch.randn(2, 32, 70), torch.tensor([40, 40]), model.encode_conditions(cond))
    guided = combine_guidance(out[:, None], 1.5)
    torch.testing.assert_close(guided - out[1:2], 0.5 * (out[1:2] - out[0:1]), rtol=1e-5, atol=1e-6)
