"""JoyVASA's own audio path through the nodes: Load Motion Model's audio_encoder output (the HuBERT embedded in the
released file, run in the release's independent 4 s windows) into Encode Audio, against the official per-window
features (tests/fixtures/joyvasa golden_small, computed by the official code on the same weights); stock HuBERT
features are refused with a message naming the user's choices; convert-joyvasa keeps the encoder in its file."""

import shutil

import pytest
import torch
from safetensors.torch import load_file

import audio_weights as AW
from conftest import fixture_path
from golden_fixtures import joyvasa_window
from motion_weights import JOYVASA_NAME, joyvasa_fixture, write_release
from playmate_core.audio import AudioInputError
from playmate_core.cli import main as cli_main
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import load_motion_files, save_motion_model

EMBEDDED = f"{JOYVASA_NAME}'s embedded HuBERT"


def rel(a, b):
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.fixture(scope="module")
def golden_small():
    return load_file(str(fixture_path("fixtures", "joyvasa", "golden_small.safetensors")))


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    """The goldens' checkpoint (its 2-layer HuBERT embedded) as the released file, and a stock-style HuBERT folder
    under chinese-hubert-base (768 wide, as JoyVASA reads)."""
    mc = joyvasa_fixture()
    root = tmp_path_factory.mktemp("models")
    (root / "playmate").mkdir()
    write_release(mc, mc.make_state_dict(hubert_layers=2, wn="parametrizations", seed=0), str(root / "playmate"))
    shutil.copyfile(fixture_path("fixtures", "joyvasa", "motion_template.pkl"),
                    root / "playmate" / "motion_template.pkl")
    config = AW.tiny_hf_config("hubert", layers=1)
    config.update(hidden_size=768, num_attention_heads=4)
    AW.write_hf_folder(str(root / "audio_encoders" / "chinese-hubert-base"), config, AW.hf_state_dict(config, seed=1),
                       "pytorch_model.bin", do_normalize=False)
    return root


@pytest.fixture
def nodes(pack, models_root, monkeypatch):
    monkeypatch.setenv("PLAYMATE_MODELS_DIR", str(models_root))
    return pack.NODE_CLASS_MAPPINGS


def clip(seconds: float) -> dict:
    """A 16 kHz AUDIO of a decaying chirp (speech-like band)."""
    t = torch.arange(int(seconds * 16000)) / 16000
    return {"waveform": (0.3 * torch.sin(2 * torch.pi * (150 + 400 * t) * t) * torch.exp(-t))[None, None],
            "sample_rate": 16000}


def test_embedded_encoder_through_the_nodes_matches_the_official_windows(nodes, golden_small):
    model, encoder = nodes["PlaymateLoadMotionModel"]().load(JOYVASA_NAME, "cpu", "fp32", "released")
    assert encoder.name == EMBEDDED and encoder.windowing.window_frames == 100
    # two official windows back to back: the node must cut exactly there and encode each on its own
    wave = torch.cat([joyvasa_window(golden_small, 0), joyvasa_window(golden_small, 1)], dim=-1)
    audio = {"waveform": wave[None], "sample_rate": 16000}
    features, count, fitted = nodes["PlaymateEncodeAudio"]().encode(audio, encoder)  # every widget at its default
    expected = torch.cat([golden_small["hubert.w0.resampled"], golden_small["hubert.w1.resampled"]], dim=1)
    assert count == 200 and features.features.shape == (1, 200, 768) and fitted["waveform"].shape[-1] == 128000
    assert rel(features.features, expected) < 1e-5  # official float32 vs ours: different kernels, a few ulps apart
    assert (features.encoder, features.source) == ("joyvasa-hubert", EMBEDDED)
    with pytest.raises(ValueError, match="last hidden state; set layer to -1"):
        nodes["PlaymateEncodeAudio"]().encode(audio, encoder, 25.0, 1)
    with pytest.raises(AudioInputError, match="encodes its own fixed windows.*disconnect audio_encoder_output"):
        nodes["PlaymateEncodeAudio"]().encode(audio, encoder, audio_encoder_output={"encoded_audio": expected})


def test_joyvasa_takes_its_own_features_and_refuses_stock_hubert(nodes):
    model, embedded = nodes["PlaymateLoadMotionModel"]().load(JOYVASA_NAME, "cpu", "fp32", "released")
    (stock,) = nodes["PlaymateLoadAudioEncoder"]().load("chinese-hubert-base", "fp32", "cpu", "auto")
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    sampler = nodes["PlaymateMotionSampler"]()
    own, _, _ = nodes["PlaymateEncodeAudio"]().encode(clip(0.2), embedded)
    (motion,) = sampler.sample(model, source, own, 2, 4.0, 1.5, 0, 0.0)
    assert motion.motion.shape == (1, 5, 70) and torch.isfinite(motion.motion).all()
    foreign, _, _ = nodes["PlaymateEncodeAudio"]().encode(clip(0.2), stock)
    assert foreign.features.shape == own.features.shape  # same width: only the check tells them apart
    with pytest.raises(ValueError) as info:
        sampler.sample(model, source, foreign, 2, 4.0, 1.5, 0, 0.0)
    assert str(info.value) == (
        "motion model 'motion_generator_hubert_chinese.pt' (joyvasa) is driven by the HuBERT embedded in its own "
        "checkpoint, but these audio features come from 'chinese-hubert-base': connect Load Motion Model's "
        "audio_encoder output to Encode Audio's encoder input (Load Audio Encoder is for Playmate models)")


def test_converted_file_keeps_its_encoder_and_an_old_conversion_says_what_to_do(nodes, models_root, tmp_path):
    released = models_root / "playmate" / JOYVASA_NAME
    converted = models_root / "playmate" / "joyvasa_converted.safetensors"
    assert cli_main(["convert-joyvasa", str(released), "--out", str(converted)]) == 0
    _, from_pt = load_motion_files(str(released))
    model, from_safetensors = load_motion_files(str(converted))
    audio = clip(0.3)
    a, _, _ = nodes["PlaymateEncodeAudio"]().encode(audio, from_pt)
    b, _, _ = nodes["PlaymateEncodeAudio"]().encode(audio, from_safetensors)
    assert torch.equal(a.features, b.features) and b.encoder == "joyvasa-hubert"

    old = models_root / "playmate" / "joyvasa_old.safetensors"
    save_motion_model(model, str(old))  # what convert-joyvasa wrote before: no audio_encoder.* tensors
    _, missing = nodes["PlaymateLoadMotionModel"]().load(old.name, "cpu", "fp32", "released")
    with pytest.raises(ValueError, match=r"encoder: motion model 'joyvasa_old.safetensors' \(joyvasa\) carries no "
                                         r"embedded HuBERT .*convert-joyvasa"):
        nodes["PlaymateEncodeAudio"]().encode(audio, missing)


def test_joyvasa_features_do_not_drive_a_playmate_model(nodes, tmp_path):
    from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel

    _, embedded = nodes["PlaymateLoadMotionModel"]().load(JOYVASA_NAME, "cpu", "fp32", "released")
    features, _, _ = nodes["PlaymateEncodeAudio"]().encode(clip(0.2), embedded)
    path = tmp_path / "hubert_playmate.safetensors"
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=768, audio_encoder="hubert")),
                      str(path))
    model, _ = load_motion_files(str(path))
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    with pytest.raises(ValueError, match=f"come from '{EMBEDDED}', which drives JoyVASA only, but motion model "
                                         r"'hubert_playmate.safetensors' \(playmate\) was trained on hubert features"):
        nodes["PlaymateMotionSampler"]().sample(model, source, features, 2, 1.5, 1.5, 0, 0.0)
