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


def save_tiny_model(folder) -> None:
    """A tiny Playmate motion model (audio width 16) as folder/tiny.safetensors."""
    model = PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16))
    save_motion_model(model, str(folder / "tiny.safetensors"))


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
    assert nodes["PlaymateLoadMotionModel"].RETURN_TYPES == ("PLAYMATE_MOTION_MODEL", "PLAYMATE_AUDIO_ENCODER")
    assert nodes["PlaymateLoadMotionModel"].RETURN_NAMES == ("motion_model", "audio_encoder")
    # saved workflows keep their explicit values; the defaults mean "the loaded model's own"
    assert sampler["required"]["steps"][1]["default"] == 0 and sampler["required"]["audio_cfg"][1]["default"] == -1.0


def test_load_sample_and_plot(pack, models_dir, tmp_path):
    folder = models_dir / "playmate"
    folder.mkdir()
    torch.manual_seed(0)
    save_tiny_model(folder)
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
    model, _ = nodes["PlaymateLoadMotionModel"]().load("tiny.safetensors", "cpu", "fp32", "released")
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3),
                            torch.cat([torch.zeros(1, 63), torch.tensor([[1.5, 0, 0, 0, 2.0, 3.0, 1.0]])], 1))
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


def test_sampler_defaults_are_the_models_own_and_logged(pack, models_dir, caplog):
    """steps 0 / audio_cfg -1 give exactly the Playmate model's published 25 DDIM steps and w_a 1.5."""
    folder = models_dir / "playmate"
    folder.mkdir()
    torch.manual_seed(0)
    save_tiny_model(folder)
    nodes = pack.NODE_CLASS_MAPPINGS
    model, _ = nodes["PlaymateLoadMotionModel"]().load("tiny.safetensors", "cpu", "fp32", "released")
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    feats = AudioFeatures(torch.randn(1, 12, 16), 25.0, 12, 0.48, "wav2vec2-base")
    sampler = nodes["PlaymateMotionSampler"]()
    with caplog.at_level("INFO"):
        (own,) = sampler.sample(model, source, feats, 0, -1.0, 1.5, 5, 0.2)
    assert "motion model 'tiny.safetensors' (playmate): 25 steps (the model's own), audio_cfg 1.5 (the model's own)" \
        in caplog.text
    (explicit,) = sampler.sample(model, source, feats, 25, 1.5, 1.5, 5, 0.2)
    (other,) = sampler.sample(model, source, feats, 10, 1.5, 1.5, 5, 0.2)
    assert torch.equal(own.motion, explicit.motion) and not torch.equal(own.motion, other.motion)


def test_playmate_models_carry_no_audio_encoder_and_encode_audio_says_what_to_connect(pack, models_dir):
    folder = models_dir / "playmate"
    folder.mkdir()
    save_tiny_model(folder)
    nodes = pack.NODE_CLASS_MAPPINGS
    _, encoder = nodes["PlaymateLoadMotionModel"]().load("tiny.safetensors", "cpu", "fp32", "released")
    audio = {"waveform": torch.zeros(1, 1, 1600), "sample_rate": 16000}
    with pytest.raises(ValueError) as info:
        nodes["PlaymateEncodeAudio"]().encode(audio, encoder)
    assert str(info.value) == ("encoder: motion model 'tiny.safetensors' (playmate) carries no audio encoder (only "
                               "JoyVASA files do): connect Load Audio Encoder (Playmate) with the encoder it was "
                               "trained with (wav2vec2-base-960h) to Encode Audio's encoder input instead")


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
                                                       ("motion_generator_hubert_chinese.pt",
                                                        "playmate_emotion.safetensors")])
def test_missing_trained_playmate_files_say_how_to_train_them(pack, models_dir, model_name, emotion_model):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateLoadMotionModel"]()
    if emotion_model != "none":  # the stage-1 file is present; only the emotion controller is missing
        (models_dir / "playmate").mkdir()
        (models_dir / "playmate" / model_name).write_bytes(b"x")
    with pytest.raises(FileNotFoundError) as info:
        node.load(model_name, "cpu", "fp32", "released", emotion_model)
    message = str(info.value)
    assert "train stage1" in message and "train stage2" in message and str(models_dir / "playmate") in message


def test_encoder_mismatch_names_the_users_files(pack, models_dir):
    """Load Audio Encoder at its default (wav2vec2-base-960h) into a Playmate model trained on HuBERT features: the
    message names both files as the user chose them, not internal ids such as 'wav2vec2-2x128'."""
    import audio_weights as AW

    config = AW.tiny_hf_config("wav2vec2")
    AW.write_hf_folder(str(models_dir / "audio_encoders" / "wav2vec2-base-960h"), config,
                       AW.hf_state_dict(config, seed=1))
    (models_dir / "playmate").mkdir()
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=128, audio_encoder="hubert")),
                      str(models_dir / "playmate" / "hubert_tiny.safetensors"))
    nodes = pack.NODE_CLASS_MAPPINGS
    encoder_name = nodes["PlaymateLoadAudioEncoder"].INPUT_TYPES()["required"]["encoder_name"][1]["default"]
    (encoder,) = nodes["PlaymateLoadAudioEncoder"]().load(encoder_name, "fp32", "cpu", "auto")
    features, _, _ = nodes["PlaymateEncodeAudio"]().encode({"waveform": torch.zeros(1, 1, 3200), "sample_rate": 16000},
                                                           encoder)
    model, _ = nodes["PlaymateLoadMotionModel"]().load("hubert_tiny.safetensors", "cpu", "fp32", "released")
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    with pytest.raises(ValueError) as info:
        nodes["PlaymateMotionSampler"]().sample(model, source, features, 0, -1.0, 1.5, 0, 0.2)
    assert str(info.value) == ("the audio features come from 'wav2vec2-base-960h' but motion model "
                               "'hubert_tiny.safetensors' (playmate) was trained on hubert features: encode the audio "
                               "with a hubert encoder in Load Audio Encoder")
