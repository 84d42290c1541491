"""Playmate Load Audio Encoder and Playmate Encode Audio, as the host calls them."""

import os
import urllib.error

import pytest
import torch

import audio_weights as AW
from conftest import fixture_path
from playmate_core.audio import AudioFeatures, AudioInputError, EncoderWeightsError, load_audio_file
from playmate_core.download import RemoteFile


@pytest.fixture
def nodes(pack):
    return pack.NODE_CLASS_MAPPINGS


@pytest.fixture
def encoder_dir(models_dir):
    folder = models_dir / "audio_encoders"
    config = AW.tiny_hf_config("wav2vec2")
    AW.write_hf_folder(str(folder / "tiny-w2v"), config, AW.hf_state_dict(config, seed=1))
    hubert = AW.tiny_hf_config("hubert")
    AW.save_weights(str(folder / "extra" / "tiny-hubert.safetensors"),
                    AW.rename_weight_norm(AW.hf_state_dict(hubert, seed=2), "legacy"))
    return folder


def load(nodes, name, **kwargs):
    return nodes["PlaymateLoadAudioEncoder"]().load(name, **kwargs)[0]


def encode(nodes, audio, encoder, **kwargs):
    return nodes["PlaymateEncodeAudio"]().encode(audio, encoder, **kwargs)


def test_node_contract(nodes):
    loader, encoder = nodes["PlaymateLoadAudioEncoder"], nodes["PlaymateEncodeAudio"]
    spec = loader.INPUT_TYPES()
    assert list(spec["required"]) == ["encoder_name", "precision", "device", "input_normalization"]
    spec = encoder.INPUT_TYPES()
    assert list(spec["required"]) == ["audio", "encoder", "fps", "layer", "chunk_seconds"]
    assert list(spec["optional"]) == ["audio_encoder_output"]
    assert spec["required"]["fps"][1]["default"] == 25.0
    for node in (loader, encoder):
        for group in node.INPUT_TYPES().values():
            for name, (_, options) in group.items():
                assert options.get("tooltip"), name
    assert loader.RETURN_TYPES == ("PLAYMATE_AUDIO_ENCODER",)
    assert encoder.RETURN_TYPES == ("PLAYMATE_AUDIO_FEATURES", "INT", "AUDIO")
    assert encoder.RETURN_NAMES == ("audio_features", "frame_count", "audio")


def test_choices_list_public_defaults_folders_and_single_files(nodes, encoder_dir):
    choices = nodes["PlaymateLoadAudioEncoder"].INPUT_TYPES()["required"]["encoder_name"][0]
    assert choices == ["wav2vec2-base-960h", "chinese-hubert-base", "extra/tiny-hubert.safetensors", "tiny-w2v"]


@pytest.fixture
def offline(monkeypatch):
    def no_network(*_args, **_kwargs):
        raise urllib.error.URLError("name resolution failed")

    monkeypatch.setattr("playmate_core.download.open_url", no_network)


def test_missing_public_encoder_offline_says_what_to_download(nodes, models_dir, offline):
    choices = nodes["PlaymateLoadAudioEncoder"].INPUT_TYPES()["required"]["encoder_name"][0]
    assert choices == ["wav2vec2-base-960h", "chinese-hubert-base"]
    with pytest.raises(FileNotFoundError) as err:
        load(nodes, "chinese-hubert-base")
    message = str(err.value)
    for name in ("config.json", "preprocessor_config.json", "pytorch_model.bin"):
        assert f"https://huggingface.co/TencentGameMate/chinese-hubert-base/resolve/main/{name}" in message
    assert str(models_dir / "audio_encoders" / "chinese-hubert-base") in message
    assert "name resolution failed" in message


def test_incomplete_public_folder_fetches_only_what_is_missing(nodes, models_dir, offline):
    folder = models_dir / "audio_encoders" / "wav2vec2-base-960h"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError) as err:
        load(nodes, "wav2vec2-base-960h")
    message = str(err.value)
    assert "resolve/main/pytorch_model.bin" in message and "resolve/main/config.json" not in message


def test_missing_public_encoder_is_downloaded_then_loaded(nodes, pack, models_dir, tmp_path, monkeypatch):
    config = AW.tiny_hf_config("hubert")
    published = AW.write_hf_folder(str(tmp_path / "hub"), config, AW.hf_state_dict(config, seed=3),
                                   "pytorch_model.bin", do_normalize=False)
    remotes = tuple(RemoteFile(n, (tmp_path / "hub" / n).as_uri())
                    for n in ("config.json", "preprocessor_config.json", "pytorch_model.bin"))
    monkeypatch.setitem(pack.nodes.audio.PUBLIC_ENCODERS, "chinese-hubert-base", remotes)
    encoder = load(nodes, "chinese-hubert-base", device="cpu")
    assert (encoder.family, encoder.name, encoder.normalize_input) == ("hubert", "chinese-hubert-base", False)
    target = models_dir / "audio_encoders" / "chinese-hubert-base"
    assert sorted(p.name for p in target.iterdir()) == sorted(os.listdir(published))
    assert load(nodes, "chinese-hubert-base", device="cpu") is encoder  # cached


def test_non_audio_file_in_the_slot(nodes, models_dir):
    AW.save_weights(str(models_dir / "audio_encoders" / "warping_module.safetensors"),
                    {"dense.weight": torch.zeros(2, 2)})
    with pytest.raises(EncoderWeightsError, match="encoder_name 'warping_module.safetensors'.*not "
                                                  "an audio encoder file"):
        load(nodes, "warping_module.safetensors")


def test_loader_options(nodes, encoder_dir):
    encoder = load(nodes, "tiny-w2v", precision="bf16", device="cpu", input_normalization="off")
    assert encoder.dtype == torch.bfloat16 and encoder.normalize_input is False
    assert load(nodes, "tiny-w2v", precision="auto", device="cpu").dtype == torch.float32
    hubert = load(nodes, "extra/tiny-hubert.safetensors")
    assert hubert.family == "hubert" and hubert.normalize_input is False and hubert.name == "tiny-hubert"


def clip(name: str) -> dict:
    """A test clip as an AUDIO dict; "en_60s" is the 3.585 s speech clip repeated to exactly 60 s."""
    if name == "en_60s":
        audio = clip("en_3s_22k_mono.wav")
        rate = audio["sample_rate"]
        repeats = -(-60 * rate // audio["waveform"].shape[-1])
        return {"waveform": audio["waveform"].repeat(1, 1, repeats)[..., :60 * rate], "sample_rate": rate}
    return load_audio_file(str(fixture_path("media", "audio", name)))


@pytest.mark.parametrize("name, fps, frames, samples", [
    ("en_3s_22k_mono.wav", 25.0, 90, 79380),
    ("en_3s_22k_mono.wav", 30.0, 108, 79380),
    ("en_2s_22k_mono.wav", 25.0, 51, 44982),  # 44400 samples = 50.3 frames of 882
    ("en_2s_22k_mono.wav", 30.0, 61, 44835),  # 60.4 frames of 735
    ("en_60s", 25.0, 1500, 1323000),
    ("en_60s", 30.0, 1800, 1323000),
    ("silence_3s_16k_mono.flac", 25.0, 75, 48000),
])
def test_frame_counts_on_real_clips(nodes, encoder_dir, name, fps, frames, samples):
    audio = clip(name)
    features, count, fitted = encode(nodes, audio, load(nodes, "tiny-w2v"), fps=fps)
    assert isinstance(features, AudioFeatures)
    assert count == frames == features.num_frames
    assert features.features.shape == (1, frames, 128) and features.features.dtype == torch.float32
    assert features.fps == fps and features.encoder == "wav2vec2-2x128"
    assert features.duration_s == pytest.approx(audio["waveform"].shape[-1] / audio["sample_rate"])
    assert bool(torch.isfinite(features.features).all())
    assert fitted["sample_rate"] == audio["sample_rate"] and fitted["waveform"].shape == (1, 1, samples)


def test_silence_gives_constant_features(nodes, encoder_dir):
    audio = clip("silence_3s_16k_mono.flac")
    features = encode(nodes, audio, load(nodes, "tiny-w2v"))[0].features
    interior = features[0, 5:-5]
    assert float((interior - interior.mean(0)).abs().max()) < 1e-4


def test_stereo_batch_and_inputs_untouched(nodes, encoder_dir):
    torch.manual_seed(0)
    wave = torch.randn(2, 2, 44100 * 2) * 0.1
    audio = {"waveform": wave, "sample_rate": 44100}
    before = wave.clone()
    encoder = load(nodes, "tiny-w2v")
    features, count, fitted = encode(nodes, audio, encoder, fps=30.0, layer=1)
    assert count == 60 and features.features.shape == (2, 60, 128) and features.encoder == "wav2vec2-2x128:layer1"
    assert fitted["waveform"].shape == (2, 2, 88200) and fitted["waveform"] is not wave
    assert torch.equal(wave, before) and audio["sample_rate"] == 44100
    single = encode(nodes, {"waveform": wave[1:], "sample_rate": 44100}, encoder, fps=30.0, layer=1)[0]
    assert torch.allclose(features.features[1:], single.features, atol=1e-5)


def test_long_audio_is_chunked_with_continuous_features(nodes, encoder_dir):
    audio = clip("en_60s")
    encoder = load(nodes, "tiny-w2v")
    whole = encode(nodes, audio, encoder, chunk_seconds=0.0)[0].features
    chunked = encode(nodes, audio, encoder, chunk_seconds=20.0)[0].features
    assert chunked.shape == whole.shape == (1, 1500, 128)
    assert float((chunked - whole).norm() / whole.norm()) < 0.1


def test_bad_inputs_name_the_input(nodes, encoder_dir):
    encoder = load(nodes, "tiny-w2v")
    with pytest.raises(AudioInputError, match="audio is empty"):
        encode(nodes, {"waveform": torch.zeros(1, 1, 0), "sample_rate": 16000}, encoder)
    with pytest.raises(AudioInputError, match="audio: sample_rate 0"):
        encode(nodes, {"waveform": torch.zeros(1, 1, 100), "sample_rate": 0}, encoder)
    with pytest.raises(AudioInputError, match="audio has 6 channels"):
        encode(nodes, {"waveform": torch.zeros(1, 6, 100), "sample_rate": 16000}, encoder)
    with pytest.raises(TypeError, match=r"encoder: expected a PLAYMATE_AUDIO_ENCODER \(Load Motion Model's "
                                        r"audio_encoder output for JoyVASA, Load Audio Encoder for Playmate models\)"):
        encode(nodes, {"waveform": torch.zeros(1, 1, 100), "sample_rate": 16000}, "wav2vec2")
    with pytest.raises(ValueError, match="layer 7 does not exist"):
        encode(nodes, {"waveform": torch.zeros(1, 1, 1600), "sample_rate": 16000}, encoder, layer=7)


def host_output(encoder, audio):
    """What the core AudioEncoderEncode node returns for this audio (same hidden-state numbering)."""
    from playmate_core.audio import to_encoder_input

    wave = to_encoder_input(audio)
    states = encoder.encode(wave)
    return {"encoded_audio": states[-1], "encoded_audio_all_layers": states, "audio_samples": wave.shape[-1]}


def test_host_encoder_output_is_accepted_where_it_fits(nodes, encoder_dir):
    audio = clip("en_3s_22k_mono.wav")
    encoder = load(nodes, "tiny-w2v", input_normalization="off")
    output = host_output(encoder, audio)
    for layer in (-1, 1):
        ours = encode(nodes, audio, encoder, layer=layer)
        theirs = encode(nodes, audio, encoder, layer=layer, audio_encoder_output=output)
        assert theirs[1] == ours[1] == 90
        assert torch.allclose(theirs[0].features, ours[0].features, atol=1e-5)
        assert theirs[0].encoder == ours[0].encoder
    normalising = load(nodes, "tiny-w2v")
    with pytest.raises(AudioInputError, match="does not normalise the input of 128-d encoders"):
        encode(nodes, audio, normalising, audio_encoder_output=output)
    other = clip("en_2s_22k_mono.wav")
    with pytest.raises(AudioInputError, match="encode the same audio clip"):
        encode(nodes, other, encoder, audio_encoder_output=output)
    wide = {"encoded_audio": torch.zeros(1, 179, 768), "encoded_audio_all_layers": ()}
    with pytest.raises(AudioInputError, match="makes 128-d features"):
        encode(nodes, audio, encoder, audio_encoder_output=wide)
    with pytest.raises(AudioInputError, match="holds 0 hidden states"):
        encode(nodes, audio, encoder, layer=1, audio_encoder_output=wide)
