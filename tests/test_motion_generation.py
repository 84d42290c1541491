"""The window loop: determinism, any length, cross-fade, conditions, guidance batching, bad input."""

import pytest
import torch

from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.conditions import NULL_EMOTION, EmotionCondition, PoseSequence
from playmate_core.motion.generation import generate_motion, sample_normalized_motion, window_starts
from playmate_core.motion.models.base import MotionModel, WindowConditions
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.motion.normalization import AdaptiveNormalizer
from playmate_core.motion.postprocess import smooth_pose
from playmate_core.motion.schedulers import NoiseSchedule, ddim_step, split_prediction, uniform_timesteps

D = 16


def tiny(**overrides):
    torch.manual_seed(0)
    config = PlaymateConfig.preset("tiny", audio_dim=D, **overrides)
    return PlaymateMotionModel(config).eval()


def source(batch=1):
    g = torch.Generator().manual_seed(1)
    motion = torch.cat([0.01 * torch.randn(batch, 63, generator=g),
                        torch.tensor([[1.5, 0.01, 0.02, 0.0, 3.0, -5.0, 1.0]]).expand(batch, -1)], dim=1)
    return SourceFeatures(torch.zeros(batch, 1), 0.1 * torch.randn(batch, 21, 3, generator=g), motion)


def audio(frames, fps=25.0, encoder="wav2vec2-base", dim=D, batch=1, seed=2):
    feats = torch.randn(batch, frames, dim, generator=torch.Generator().manual_seed(seed))
    return AudioFeatures(feats, fps, frames, frames / fps, encoder)


def test_same_seed_same_motion_other_seed_other_motion():
    model = tiny()
    a = generate_motion(model, source(), audio(40), steps=3, seed=7).motion
    b = generate_motion(model, source(), audio(40), steps=3, seed=7).motion
    c = generate_motion(model, source(), audio(40), steps=3, seed=8).motion
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3
    # ComfyUI seeds reach 2**64 - 1
    big = generate_motion(model, source(), audio(5), steps=2, seed=2**63 + 12345).motion
    assert torch.isfinite(big).all()


@pytest.mark.parametrize("frames", [1, 7, 32, 33, 95])
def test_any_number_of_frames(frames):
    out = generate_motion(tiny(), source(), audio(frames), steps=2, seed=0)
    assert out.motion.shape == (1, frames, 70) and out.fps == 25.0
    assert torch.isfinite(out.motion).all()


def test_window_plan():
    assert window_starts(1, 32, 2) == [0]
    assert window_starts(32, 32, 2) == [0]
    assert window_starts(33, 32, 2) == [0, 30]
    assert window_starts(95, 32, 2) == [0, 30, 60, 90]
    assert window_starts(200, 100, 0) == [0, 100]


class WindowIndexModel(MotionModel):
    """Predicts x0 = the window's index everywhere and records what each window was conditioned on."""

    family, prediction, default_sampler = "test", "sample", "ddim"
    window, num_prev, overlap, audio_dim = 10, 3, 4, D

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.normalizer = AdaptiveNormalizer()
        self.schedule = NoiseSchedule.cosine(20)
        self.seen = []

    def encode_conditions(self, cond):
        self.seen.append(cond)
        return len(self.seen) - 1

    def denoise(self, x_t, t, state):
        return torch.full_like(x_t, float(state))


def test_windows_condition_on_the_previous_output_and_cross_fade():
    model = WindowIndexModel()
    feats = torch.arange(25.0).view(1, 25, 1).expand(1, 25, D)
    coded = sample_normalized_motion(model, torch.zeros(1, 21, 3), torch.zeros(1, 70), feats, steps=2, audio_cfg=1.5,
                                     noise_fn=lambda shape: torch.randn(shape))
    # windows start at 0, 6, 12, 18 (10 frames, 4 cross-faded); x0 of window k is k
    assert [c.audio.shape[1] for c in model.seen] == [10, 10, 10, 7]
    assert model.seen[0].prev_motion is None
    for k, start in enumerate([6, 12, 18], start=1):
        prev = model.seen[k].prev_motion[0]  # [3, 70], guidance groups stacked: first group
        torch.testing.assert_close(prev, coded[0, start - 3:start])
        torch.testing.assert_close(model.seen[k].prev_audio[0, :, 0], torch.arange(start - 3.0, start))
    ramp = torch.tensor([0.2, 0.4, 0.6, 0.8])
    torch.testing.assert_close(coded[0, 6:10, 0], 0 * (1 - ramp) + 1 * ramp)  # window 0 -> 1
    torch.testing.assert_close(coded[0, 10:12, 0], torch.ones(2))
    torch.testing.assert_close(coded[0, 18:22, 0], 2 * (1 - ramp) + 3 * ramp)
    torch.testing.assert_close(coded[0, 22:, 0], torch.full((3,), 3.0))


def test_memory_is_flat_in_length():
    """Every denoiser call sees at most one window, whatever the length; calls grow linearly."""
    model = tiny()
    shapes = []
    original = model.denoise

    def spy(x_t, t, state):
        shapes.append(tuple(x_t.shape))
        return original(x_t, t, state)

    model.denoise = spy
    generate_motion(model, source(), audio(300), steps=2, seed=0)
    assert max(s[1] for s in shapes) == model.window and max(s[0] for s in shapes) == 2
    assert len(shapes) == 2 * len(window_starts(300, model.window, model.overlap))


def test_emotion_guidance_is_one_batched_forward_of_three_conditions():
    model = tiny(emotion_trained=True)
    with torch.no_grad():
        torch.nn.init.normal_(model.emotion_tokens, std=0.5)
        for block in model.emotion_controller:
            torch.nn.init.normal_(block.ff.fc2.weight, std=0.05)
    emotion = EmotionCondition.blend("happy", "surprised", 0.25)
    frames, steps, w_a, w_e = 20, 3, 1.5, 2.0
    src, feats = source(), audio(frames).features
    draws = torch.randn(steps + 1, 1, frames, 70, generator=torch.Generator().manual_seed(3))
    it = iter(draws)
    coded = sample_normalized_motion(model, src.kp_canonical, src.motion, feats, steps=steps, audio_cfg=w_a,
                                     emotion_cfg=w_e, emotion=emotion, noise_fn=lambda shape: next(it))
    null = torch.zeros(1, frames, 9)
    null[..., NULL_EMOTION] = 1
    conds = [(True, null), (False, null), (False, emotion.per_frame(frames)[None])]
    x = draws[0]
    schedule = model.schedule
    timesteps = uniform_timesteps(schedule.num_steps, steps)
    with torch.no_grad():
        for i, t in enumerate(timesteps):
            outs = []
            for drop, emo in conds:
                cond = WindowConditions(feats, torch.tensor([drop]), None, None, src.kp_canonical, src.motion, emo)
                outs.append(model.denoise(x, torch.tensor([t]), model.encode_conditions(cond)))
            eps = outs[0] + w_a * (outs[1] - outs[0]) + w_e * (outs[2] - outs[1])
            x0, eps = split_prediction("epsilon", eps, x, schedule.alpha_bar(t))
            x0 = x0.clamp(-model.clip_sample, model.clip_sample)
            _, eps = split_prediction("sample", x0, x, schedule.alpha_bar(t))
            t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else 0
            x = ddim_step(x0, eps, schedule.alpha_bar(t), schedule.alpha_bar(t_prev))
    torch.testing.assert_close(coded, x, rtol=1e-4, atol=1e-4)
    # and the emotion changes the expression only, never the pose
    plain = sample_normalized_motion(model, src.kp_canonical, src.motion, feats, steps=steps, audio_cfg=w_a,
                                     emotion_cfg=0.0, emotion=emotion, noise_fn=lambda shape: draws[0])
    assert (coded[..., :63] - plain[..., :63]).abs().max() > 1e-3


def test_driving_pose_replaces_angles_and_translation():
    model = tiny()
    src = source()
    pose = PoseSequence(torch.tensor([[1.0, 2.0, 3.0, 0.01, 0.02, 0.0], [4.0, 5.0, 6.0, 0.03, 0.04, 0.0]]),
                        relative=True)
    free = generate_motion(model, src, audio(6), steps=2, seed=1).motion
    driven = generate_motion(model, src, audio(6), steps=2, seed=1, pose=pose).motion
    torch.testing.assert_close(driven[..., :64], free[..., :64])  # expression and scale as generated
    expected_angles = torch.tensor([[1.0, 2.0, 3.0]] + [[4.0, 5.0, 6.0]] * 5) + src.motion[0, 67:]
    torch.testing.assert_close(driven[0, :, 67:], expected_angles)
    torch.testing.assert_close(driven[0, :, 64:66],
                               torch.tensor([[0.01, 0.02]] + [[0.03, 0.04]] * 5) + src.motion[0, 64:66])
    absolute = generate_motion(model, src, audio(6), steps=2, seed=1,
                               pose=PoseSequence(pose.values, relative=False)).motion
    torch.testing.assert_close(absolute[0, -1, 67:], torch.tensor([4.0, 5.0, 6.0]))


def test_pose_smoothing_is_zero_phase_and_spares_the_expression():
    motion = torch.zeros(1, 51, 70)
    motion[0, 25, :] = 1.0
    out = smooth_pose(motion, 0.2, 25.0)
    torch.testing.assert_close(out[..., :63], motion[..., :63])
    yaw = out[0, :, 68]
    assert int(yaw.argmax()) == 25 and torch.allclose(yaw[20], yaw[30])  # no lag
    assert float(yaw.sum()) == pytest.approx(1.0, abs=1e-4)
    assert torch.equal(smooth_pose(motion, 0.0, 25.0), motion)
    with pytest.raises(ValueError, match="within"):
        smooth_pose(motion, 1.5, 25.0)


def test_batch_of_sources_shares_one_audio():
    out = generate_motion(tiny(), source(batch=2), audio(12), steps=2, seed=0).motion
    assert out.shape == (2, 12, 70)


@pytest.mark.parametrize("kwargs,feats,match", [
    ({}, audio(0), "zero frames"),
    ({}, audio(10, fps=30.0), "30 fps but this playmate motion model works at 25 fps"),
    ({}, audio(10, dim=1024), "1024 values per frame"),
    ({}, audio(10, encoder="hubert-base"), "trained on wav2vec2 features"),
    ({"steps": 0}, audio(10), "steps must be at least 1"),
    ({"seed": 2**64}, audio(10), "seed must be within"),
    ({"seed": -1}, audio(10), "seed must be within"),
    ({"sampler": "euler"}, audio(10), "unknown sampler"),
    ({"emotion": EmotionCondition.from_label("happy")}, audio(10), "no trained emotion control"),
    ({"pose": PoseSequence(torch.zeros(3, 6), fps=30.0)}, audio(10), "pose sequence is at 30 fps"),
    ({}, audio(10, batch=3), "source portraits and 3 audio clips"),
])
def test_bad_input_is_named(kwargs, feats, match):
    src = source(batch=2) if "audio clips" in match else source()
    with pytest.raises(ValueError, match=match):
        generate_motion(tiny(), src, feats, **{"steps": 2, **kwargs})


def test_condition_payloads_validate():
    with pytest.raises(ValueError, match="unknown emotion label"):
        EmotionCondition.from_label("bored")
    with pytest.raises(ValueError, match="sum to 1"):
        EmotionCondition(torch.ones(1, 9))
    with pytest.raises(ValueError, match=r"\[N, 6\]"):
        PoseSequence(torch.zeros(4, 3))
    schedule = EmotionCondition(torch.eye(9)[[5, 5, 6]])
    assert schedule.per_frame(5).argmax(1).tolist() == [5, 5, 6, 6, 6]  # held
    assert EmotionCondition.from_label("Sad").per_frame(3).argmax(1).tolist() == [6, 6, 6]
