"""The motion nodes through the pack, as the host calls them."""

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import EMOTION_FORMAT, save_motion_model
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.motion.sequence import MotionSequence


def test_node_contract(pack):
    nodes = pack.NODE_CLASS_MAPPINGS
    sampler = nodes["PlaymateMotionSampler"].INPUT_TYPES()
    assert list(sampler["required"]) == ["model", "source", "audio_features", "steps", "audio_cfg", "emotion_cfg",
                                         "seed", "pose_smoothing"]
    assert list(sampler["optional"]) == ["emotion", "pose", "sampler"]
    assert sampler["required"]["seed"][1]["control_after_generate"] is True
    assert sampler["required"]["seed"][1]["max"] == 2**64 - 1
    for name in ("PlaymateLoadMotionModel", "PlaymateMotionSampler", "PlaymatePlotMotion"):
        node = nodes[name]
        spec = node.INPUT_TYPES()
        for group in spec.values():
            for input_name, (kind, options) in group.items():
                assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"
        assert node.CATEGORY.startswith("Playmate") and node.DESCRIPTION
    assert nodes["PlaymateMotionSampler"].RETURN_TYPES == ("PLAYMATE_MOTION",)
    assert nodes["PlaymateLoadMotionModel"].RETURN_TYPES == ("PLAYMATE_MOTION_MODEL",)


def test_load_sample_and_plot(pack, models_dir, tmp_path):
    folder = models_dir / "playmate"
    folder.mkdir()
    torch.manual_seed(0)
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16)), str(folder / "tiny.safetensors"))
    (folder / "tiny.state.pt").write_bytes(b"trainer state, not a model")
    save_file({"emotion_tokens": torch.zeros(8, 4)}, str(folder / "tiny_emotion.safetensors"),
              metadata={"format": EMOTION_FORMAT})
    (folder / "broken.safetensors").write_bytes(b"\xff" * 16)
    nodes = pack.NODE_CLASS_MAPPINGS
    inputs = nodes["PlaymateLoadMotionModel"].INPUT_TYPES()["required"]
    # the public and default-trained names are always offered (shared workflows validate); trainer state is not a
    # model; each slot lists its stage (from the file header); an unreadable file is in both, for the loader to explain
    assert inputs["model_name"][0] == ["broken.safetensors", "motion_generator_hubert_chinese.pt",
                                       "playmate_motion.safetensors", "tiny.safetensors"]
    assert inputs["emotion_model"][0] == ["none", "broken.safetensors", "playmate_emotion.safetensors",
                                          "tiny_emotion.safetensors"]
    (model,) = nodes["PlaymateLoadMotionModel"]().load("tiny.safetensors", "cpu", "fp32", "released")
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.cat([torch.zeros(1, 63), torch.tensor([[1.5, 0, 0, 0, 2.0, 3.0, 1.0]])], 1))
    feats = AudioFeatures(torch.randn(1, 50, 16), 25.0, 50, 2.0, "wav2vec2-base")
    before = feats.features.clone()
    (motion,) = nodes["PlaymateMotionSampler"]().sample(model, source, feats, 3, 1.5, 1.5, 11, 0.2)
    assert isinstance(motion, MotionSequence) and motion.motion.shape == (1, 50, 70)
    assert torch.equal(feats.features, before)  # inputs are never mutated
    (image,) = nodes["PlaymatePlotMotion"]().plot(motion, 640, 480, 0)
    assert image.shape == (1, 480, 640, 3) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    pixels = (image[0].numpy() * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "plot.png")
    coloured = (np.abs(pixels[..., 0].astype(int) - pixels[..., 2].astype(int)) > 60).sum()
    assert coloured > 500  # the curves are drawn
    with pytest.raises(ValueError, match="batch_index 3"):
        nodes["PlaymatePlotMotion"]().plot(motion, 640, 480, 3)


def test_missing_model_file_is_named(pack, models_dir):
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        pack.NODE_CLASS_MAPPINGS["PlaymateLoadMotionModel"]().load("absent.safetensors", "cpu", "fp32", "released")


def test_missing_public_motion_model_says_where_to_get_it(pack, models_dir):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateLoadMotionModel"]()
    with pytest.raises(FileNotFoundError) as info:
        node.load("motion_generator_hubert_chinese.pt", "cpu", "fp32", "released")
    message = str(info.value)
    assert str(models_dir / "playmate") in message
    assert "huggingface.co/jdh-algo/JoyVASA" in message and "motion_template.pkl" in message


@pytest.mark.parametrize("model_name, emotion_model", [("playmate_motion.safetensors", "none"),
                                                       ("motion_generator_hubert_chinese.pt", "playmate_emotion.safetensors")])
def test_missing_trained_playmate_files_say_how_to_train_them(pack, models_dir, model_name, emotion_model):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateLoadMotionModel"]()
    if emotion_model != "none":  # the stage-1 file is present; only the emotion controller is missing
        (models_dir / "playmate").mkdir()
        (models_dir / "playmate" / model_name).write_bytes(b"x")
    with pytest.raises(FileNotFoundError) as info:
        node.load(model_name, "cpu", "fp32", "released", emotion_model)
    message = str(info.value)
    assert "train stage1" in message and "train stage2" in message and str(models_dir / "playmate") in message
