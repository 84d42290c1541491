"""Stage-2 emotion files: controller-only layout, loading the (stage 1, stage 2) pair, and the errors
for wrong pairs."""

import pytest
import torch
from safetensors import safe_open

from playmate_core.audio.features import AudioFeatures
from playmate_core.checkpoint.io import CheckpointError, read_safetensors
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import (EMOTION_FORMAT, load_motion_model, save_emotion_controller,
                                             save_motion_model, stage1_sha256)
from playmate_core.motion.emotion_schedule import build_emotion
from playmate_core.motion.generation import generate_motion
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel


def stage1(seed, **overrides):
    torch.manual_seed(seed)
    return PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=8, audio_encoder="", **overrides)).eval()


def write_pair(folder, seed=0):
    """A stage-1 file and a stage-2 file whose controller has non-zero (trained-like) weights."""
    s1 = folder / "playmate_motion.safetensors"
    save_motion_model(stage1(seed), str(s1))
    model = load_motion_model(str(s1))
    torch.manual_seed(100 + seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("emotion_tokens", "emotion_controller.")):
                p.copy_(torch.randn_like(p) * 0.2)
    s2 = folder / "playmate_emotion.safetensors"
    save_emotion_controller(model, str(s2), stage1_sha256(read_safetensors(str(s1))[0]), s1.name, trained_steps=7)
    return s1, s2, model


def test_stage2_file_holds_only_the_controller_and_names_its_stage1(tmp_path):
    s1, s2, trained = write_pair(tmp_path)
    with safe_open(str(s2), "pt") as f:
        keys, meta = set(f.keys()), f.metadata()
    assert keys == {k for k in trained.state_dict() if k.startswith(("emotion_tokens", "emotion_controller."))}
    assert "emotion_tokens" in keys and any(k.startswith("emotion_controller.1.") for k in keys)
    assert meta["format"] == EMOTION_FORMAT and meta["stage1_name"] == "playmate_motion.safetensors"
    assert meta["trained_steps"] == "7" and len(meta["stage1_sha256"]) == 64
    # the hash names the stage-1 weights: independent of the controller values, changed by any stage-1 weight
    tensors = read_safetensors(str(s1))[0]
    assert meta["stage1_sha256"] == stage1_sha256({**tensors, "emotion_tokens": torch.ones(9, 64)})
    changed = dict(tensors)
    changed["exp_head.3.bias"] = changed["exp_head.3.bias"].clone()
    changed["exp_head.3.bias"][0] += 1e-6
    assert stage1_sha256(changed) != meta["stage1_sha256"]


def test_pair_round_trip_enables_emotion(tmp_path):
    s1, s2, trained = write_pair(tmp_path)
    alone = load_motion_model(str(s1))
    assert alone.supports_emotion is False
    paired = load_motion_model(str(s1), emotion_path=str(s2))
    assert paired.supports_emotion is True and paired.config.emotion_trained is True
    for key, value in trained.state_dict().items():
        assert torch.equal(paired.state_dict()[key], value), key
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    audio = AudioFeatures(torch.randn(1, 20, 8), 25.0, 20, 0.8, "synthetic")
    plain = generate_motion(paired, source, audio, steps=3, seed=1).motion
    happy = generate_motion(paired, source, audio, steps=3, seed=1, emotion=build_emotion("happy", 1.5)).motion
    assert float((happy - plain).abs().max()) > 1e-3  # the controller acts
    # without an emotion input a loaded controller sees its null token: the same as guidance w_e = 0
    zero = generate_motion(paired, source, audio, steps=3, seed=1, emotion=build_emotion("happy", 0.0)).motion
    torch.testing.assert_close(zero, plain, rtol=1e-4, atol=1e-5)
    # a stage-1 model skips its (untrained) controller: the trained weights copied in without stage 2 change nothing
    unchecked = load_motion_model(str(s1))
    unchecked.load_state_dict(trained.state_dict())
    assert torch.equal(generate_motion(unchecked, source, audio, steps=3, seed=1).motion,
                       generate_motion(alone, source, audio, steps=3, seed=1).motion)
    with pytest.raises(ValueError, match="no trained emotion control"):
        generate_motion(alone, source, audio, steps=3, emotion=build_emotion("happy", 1.5))


def test_wrong_pair_names_both_files(tmp_path):
    _, s2, _ = write_pair(tmp_path)
    other = tmp_path / "other_stage1.safetensors"
    save_motion_model(stage1(5), str(other))
    with pytest.raises(CheckpointError, match=r"playmate_emotion.safetensors was trained on the stage-1 model "
                                              r"'playmate_motion.safetensors', not on other_stage1.safetensors"):
        load_motion_model(str(other), emotion_path=str(s2))
    no_controller = tmp_path / "no_controller.safetensors"
    save_motion_model(stage1(0, emotion_blocks=0), str(no_controller))
    with pytest.raises(CheckpointError, match="without one"):
        load_motion_model(str(no_controller), emotion_path=str(s2))


def test_files_in_the_wrong_slot(tmp_path):
    s1, s2, _ = write_pair(tmp_path)
    with pytest.raises(CheckpointError, match=r"stage-2 emotion controller.*choose it in emotion_model.*"
                                              r"'playmate_motion.safetensors' in model_name"):
        load_motion_model(str(s2))
    with pytest.raises(CheckpointError, match="is not a stage-2 emotion controller"):
        load_motion_model(str(s1), emotion_path=str(s1))
    with pytest.raises(CheckpointError, match="emotion model file not found"):
        load_motion_model(str(s1), emotion_path=str(tmp_path / "absent.safetensors"))


def test_loader_node_emotion_model_input(pack, models_dir):
    folder = models_dir / "playmate"
    folder.mkdir()
    write_pair(folder)
    node_cls = pack.NODE_CLASS_MAPPINGS["PlaymateLoadMotionModel"]
    required = node_cls.INPUT_TYPES()["required"]
    assert list(required)[-1] == "emotion_model"
    assert required["emotion_model"][0] == ["none", "playmate_emotion.safetensors"]  # stage-2 files only (headers)
    assert required["emotion_model"][1]["default"] == "none"
    node = node_cls()
    plain, _ = node.load("playmate_motion.safetensors", "cpu", "fp32", "released", "none")
    paired, _ = node.load("playmate_motion.safetensors", "cpu", "fp32", "released", "playmate_emotion.safetensors")
    assert plain.supports_emotion is False and paired.supports_emotion is True
    with pytest.raises(CheckpointError, match="choose it in emotion_model"):
        node.load("playmate_emotion.safetensors", "cpu", "fp32", "released", "none")
    with pytest.raises(FileNotFoundError, match="emotion model 'gone.safetensors'"):
        node.load("playmate_motion.safetensors", "cpu", "fp32", "released", "gone.safetensors")
