"""Emotion from reference photos: the schedule with ref1/ref2, the ramped offset, lips kept on the audio, the
sampler with JoyVASA and Playmate, the render hook, the Emotion node's inputs and the errors users see."""

from __future__ import annotations

import pytest
import torch

from lp_weights import write_tiny_kijai_set
from motion_weights import write_joyvasa_release, write_playmate_pair
from playmate_core.audio.features import AudioFeatures
from playmate_core.face.crop import CropConfig
from playmate_core.face.portrait import load_portraits
from playmate_core.implicit.keypoints import keypoints_from_motion
from playmate_core.implicit.motion_vector import EXP
from playmate_core.implicit.renderer import load_renderer
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import load_motion_model
from playmate_core.motion.emotion_schedule import build_emotion, parse_schedule, spec_weights
from playmate_core.motion.expression_reference import (
    REFERENCE_RAMP_SECONDS, group_magnitudes, ramp_weights, reference_expressions)
from playmate_core.motion.generation import generate_motion
from playmate_core.motion.postprocess import JOYVASA_LIP_KEYPOINTS
from playmate_core.motion.sequence import MotionSequence
from playmate_core.render.driving import RenderOptions, driving_keypoints
from portrait_photos import ASTRONAUT, HOPPER, ROCKET, detector, photo

FPS = 25.0
LIPS = torch.zeros(21, 3, dtype=torch.bool)
LIPS[list(JOYVASA_LIP_KEYPOINTS)] = True
LIPS = LIPS.reshape(63)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    return load_renderer(str(write_tiny_kijai_set(tmp_path_factory.mktemp("tiny_lp"))))


@pytest.fixture(scope="module")
def motion_models(tmp_path_factory):
    """JoyVASA's public files (stand-in weights) and a tiny Playmate stage 1 + stage 2, loaded."""
    folder = tmp_path_factory.mktemp("motion")
    joyvasa = load_motion_model(write_joyvasa_release(folder))
    stage1, stage2 = write_playmate_pair(folder, audio_dim=768)
    return {"joyvasa": joyvasa, "playmate": load_motion_model(stage1),
            "playmate+emotion": load_motion_model(stage1, emotion_path=stage2)}


def source_features(seed: int = 0) -> SourceFeatures:
    g = torch.Generator().manual_seed(seed)
    motion = torch.cat([0.02 * torch.randn(1, 63, generator=g),
                        torch.tensor([[1.4, 0.01, -0.02, 0.0, 3.0, -5.0, 1.0]])], 1)
    return SourceFeatures(torch.zeros(1, 1), 0.3 * torch.randn(1, 21, 3, generator=g), motion)


def features(frames: int, seed: int = 1, encoder: str = "chinese-hubert-base") -> AudioFeatures:
    """Random 768-d features labelled as the given encoder's (JoyVASA accepts only its embedded HuBERT's label)."""
    g = torch.Generator().manual_seed(seed)
    return AudioFeatures(torch.randn(1, frames, 768, generator=g), FPS, frames, frames / FPS, encoder)


def references(count: int = 2, seed: int = 2) -> torch.Tensor:
    return 0.05 * torch.randn(count, 63, generator=torch.Generator().manual_seed(seed))


def sample(model, emotion=None, frames: int = 30, **kwargs):
    encoder = model.audio_encoder if model.family == "joyvasa" else "chinese-hubert-base"
    return generate_motion(model, source_features(), features(frames, encoder=encoder), steps=2, seed=5,
                           emotion=emotion,
                           **kwargs)


def test_schedule_terms_name_references_and_blend_them_like_labels():
    assert spec_weights("ref2") == (None, ((1, 1.0),))
    tokens, refs = spec_weights("happy+ref1@0.3")
    assert refs == ((0, pytest.approx(0.3)),) and float(tokens[5]) == 1.0 and float(tokens.sum()) == 1.0
    assert spec_weights("ref1+neutral@0.75")[1] == ((0, 0.25),)
    (r,) = parse_schedule("2-4: ref1+ref2@0.25")
    assert r.weights is None and r.references == ((0, 0.75), (1, 0.25))
    with pytest.raises(ValueError, match="line 1 .*numbered from ref1"):
        parse_schedule("0 1 ref0")
    with pytest.raises(ValueError, match=r"line 2 \('1 2 ref3'\) names ref3 but the Emotion node's reference input "
                                         r"holds 2 image\(s\) \(ref1 .. ref2\)"):
        build_emotion("neutral", 1.0, schedule="0 1 ref2\n1 2 ref3", references=references(2))
    with pytest.raises(ValueError, match="names ref1 but no reference images are connected"):
        build_emotion("neutral", 1.0, schedule="0 1 ref1")


def test_ramps_switch_references_at_the_scheduled_frames():
    emotion = build_emotion("neutral", 1.0, schedule="2 4 ref2\n4 6 neutral", references=references(2))
    from playmate_core.motion.emotion_ranges import reference_rows

    rows = ramp_weights(reference_rows(2, emotion.ranges, 200, FPS), FPS)
    radius = int(round(REFERENCE_RAMP_SECONDS * FPS)) // 2  # 5 frames either side of an edge
    assert torch.equal(rows[:50 - radius], torch.tensor([[1.0, 0.0]]).expand(50 - radius, 2).double())
    assert torch.equal(rows[50 + radius:100 - radius], torch.tensor([[0.0, 1.0]]).expand(50 - 2 * radius, 2).double())
    assert torch.equal(rows[100 + radius:150 - radius], torch.zeros(50 - 2 * radius, 2).double())  # neutral: no offset
    assert torch.equal(rows[150 + radius:, 0], torch.ones(50 - radius).double())  # back to ref1
    # the switch at 2 s (frame 50) is a symmetric monotone ramp: frames 49 and 50 share it equally
    assert float(rows[49, 1] + rows[50, 1]) == pytest.approx(1.0, abs=1e-12)
    ramp = rows[50 - radius - 1:50 + radius + 1, 1]
    assert bool((ramp[1:] > ramp[:-1]).all()) and torch.allclose(rows.sum(1)[:100 - radius],
                                                                 torch.ones(100 - radius).double())


@pytest.mark.parametrize("family", ["joyvasa", "playmate"])
def test_offset_is_strength_times_reference_minus_source_on_non_lip_coordinates(motion_models, family):
    model, refs = motion_models[family], references(1)
    plain = sample(model)
    assert plain.expression_offset is None
    for strength in (0.7, 1.5):
        result = sample(model, build_emotion("neutral", strength, references=refs))
        assert torch.equal(result.motion, plain.motion)  # no controller in the loop: the sampled motion is the same
        src = source_features().motion[0, EXP]
        expected = strength * (refs[0] - src)
        applied = result.with_offset()[0, :, EXP]
        base = plain.motion[0, :, EXP]
        # float32 tolerance: one multiply-add per value
        torch.testing.assert_close(applied[:, ~LIPS], base[:, ~LIPS] + expected[~LIPS], rtol=0, atol=1e-6)
        assert torch.equal(applied[:, LIPS], base[:, LIPS])  # lips stay on the audio (lip_weight 0)
    zero = sample(model, build_emotion("neutral", 0.0, references=refs))
    assert torch.equal(zero.with_offset(), plain.motion)  # strength 0 = no emotion
    half_lips = sample(model, build_emotion("neutral", 1.0, references=refs, lip_weight=0.5))
    torch.testing.assert_close(half_lips.expression_offset[0, :, LIPS], (0.5 * (refs[0] - src))[LIPS].expand(30, -1),
                               rtol=0, atol=1e-7)


def test_a_reference_identical_to_the_source_adds_nothing(motion_models):
    result = sample(motion_models["joyvasa"],
                    build_emotion("neutral", 1.0, references=source_features().motion[:, EXP]))
    assert torch.equal(result.expression_offset, torch.zeros(1, 30, 63))


def test_labels_need_a_controller_references_do_not(motion_models):
    refs = references(1)
    with pytest.raises(ValueError, match="no trained emotion control: disconnect the "
                                         "emotion input, connect reference photos"):
        sample(motion_models["joyvasa"], build_emotion("neutral", 1.0))
    for text in ("happy", None):
        label, schedule = (text, "") if text else ("neutral", "0 0.5 sad")
        with pytest.raises(ValueError, match="labels other than neutral cannot apply"):
            sample(motion_models["playmate"], build_emotion(label, 1.0, schedule=schedule, references=refs))
    # with a trained controller, labels and references combine: the label changes the sampled motion, the
    # reference adds its offset on top
    combined = sample(motion_models["playmate+emotion"], build_emotion("happy", 1.5, references=refs))
    label_only = sample(motion_models["playmate+emotion"], build_emotion("happy", 1.5))
    plain = sample(motion_models["playmate+emotion"])
    assert torch.equal(combined.motion, label_only.motion) and not torch.allclose(combined.motion, plain.motion)
    assert label_only.expression_offset is None and combined.expression_offset.abs().max() > 0


def test_the_emotion_scale_owns_the_strength_and_overrides_emotion_cfg(motion_models, pack, caplog):
    model, refs = motion_models["playmate+emotion"], references(1)
    sampler = pack.NODE_CLASS_MAPPINGS["PlaymateMotionSampler"]()

    def run(scale, cfg):
        return sampler.sample(model, source_features(), features(30), 2, 1.5, cfg, 5, 0.0,
                              emotion=build_emotion("happy", scale, references=refs))[0]

    base = run(1.5, 1.5)
    assert torch.equal(run(1.5, 5.0).motion, base.motion)
    assert torch.equal(run(1.5, 0.0).with_offset(), base.with_offset())
    stronger = run(3.0, 1.5)
    assert not torch.allclose(stronger.motion, base.motion)  # controller guidance follows emotion_scale
    torch.testing.assert_close(stronger.expression_offset, 2 * base.expression_offset, rtol=1e-6, atol=0)
    tooltip = pack.NODE_CLASS_MAPPINGS["PlaymateMotionSampler"].INPUT_TYPES()["required"]["emotion_cfg"][1]["tooltip"]
    assert "overrides this value" in tooltip and "emotion_scale" in tooltip
    caplog.set_level("INFO")
    run(1.5, 5.0)
    assert "emotion_cfg 5 is overridden by the Emotion node's emotion_scale 1.5" in caplog.text


def test_renderer_adds_scale_times_offset_before_stitching(renderer):
    source = renderer.extract_source(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)))
    motion = source.motion.expand(4, -1).clone()
    motion[:, 67] += torch.arange(4.0) * 5
    offset = references(4, seed=9)
    options = RenderOptions(stitching=False)
    _, with_hook = driving_keypoints(renderer, source, 0, motion, options, offset.view(4, 21, 3))
    moved = MotionSequence(motion[None], FPS, expression_offset=offset[None]).with_offset()[0]
    expected = keypoints_from_motion(source.kp_canonical.expand(4, -1, -1), moved)
    torch.testing.assert_close(with_hook, expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"expression_offset must be \[B or 1, N, 63\]"):
        MotionSequence(motion[None], FPS, expression_offset=offset[:3, None])


def test_reference_photos_of_any_size_and_rgba_are_read_by_the_motion_extractor(renderer):
    astronaut, hopper = photo(ASTRONAUT), photo(HOPPER)  # 512x512 and 512x600
    rgba = torch.cat([astronaut, torch.ones_like(astronaut[..., :1])], dim=-1)
    expressions = reference_expressions(renderer, [rgba, hopper], detector())
    crops = torch.cat([load_portraits(p, detector(), 0, CropConfig()).crops for p in (astronaut, hopper)])
    expected = renderer.extract_motion(crops)[1][:, EXP]
    assert expressions.shape == (2, 63)
    torch.testing.assert_close(expressions, expected, rtol=0, atol=1e-6)  # same crops, batch of 2 both times
    with pytest.raises(ValueError, match=r"reference image 2 of 2 \(ref2\): no face found"):
        reference_expressions(renderer, [astronaut, photo(ROCKET)], detector())
    magnitudes = group_magnitudes(expressions[1] - expressions[0])
    assert set(magnitudes) == {"brows", "eyes", "lips", "other"} and all(v > 0 for v in magnitudes.values())


def test_emotion_node_inputs_and_errors(pack, renderer):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateEmotion"]
    spec = node.INPUT_TYPES()
    assert list(spec["required"]) == ["label", "emotion_scale", "blend_with", "blend_amount", "schedule"]
    assert list(spec["optional"]) == ["renderer", "reference", "lip_weight"]
    assert spec["required"]["label"][1]["default"] == "neutral"
    assert spec["optional"]["reference"][0] == "IMAGE" and spec["optional"]["lip_weight"][1]["default"] == 0.0
    build = node().build
    with pytest.raises(ValueError, match="'reference' input needs its 'renderer' input connected"):
        build("neutral", 1.0, "none", 0.5, "", reference=photo(ASTRONAUT))
    (emotion,) = build("neutral", 1.0, "none", 0.5, "0 1 ref1", renderer, photo(HOPPER), 0.25)
    assert emotion.references.shape == (1, 63) and emotion.lip_weight == 0.25
    with pytest.raises(ValueError, match=r"'reference' image 1 of 1 \(ref1\): no face found"):
        build("neutral", 1.0, "none", 0.5, "", renderer, photo(ROCKET))
    with pytest.raises(ValueError, match="names ref2 but the Emotion node's reference input holds 1 image"):
        build("neutral", 1.0, "none", 0.5, "0 1 ref2", renderer, photo(HOPPER))


def test_a_driving_expression_track_is_added_on_non_lip_coordinates(motion_models):
    from playmate_core.motion.conditions import PoseSequence

    track = references(30, seed=4)
    pose = PoseSequence(torch.zeros(30, 6), relative=True, fps=FPS, expression=track)
    plain = sample(motion_models["joyvasa"], pose=PoseSequence(torch.zeros(30, 6), relative=True, fps=FPS))
    driven = sample(motion_models["joyvasa"], pose=pose)
    assert torch.equal(driven.motion, plain.motion)
    assert torch.equal(driven.expression_offset[0][:, ~LIPS], track[:, ~LIPS])
    assert torch.equal(driven.expression_offset[0][:, LIPS], torch.zeros(30, int(LIPS.sum())))
    both = sample(motion_models["joyvasa"], build_emotion("neutral", 1.0, references=references(1)), pose=pose)
    alone = sample(motion_models["joyvasa"], build_emotion("neutral", 1.0, references=references(1)))
    torch.testing.assert_close(both.expression_offset, alone.expression_offset + driven.expression_offset,
                               rtol=0, atol=1e-7)
