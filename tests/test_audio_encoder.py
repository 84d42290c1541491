"""wav2vec2 / HuBERT encoders: strict loading of the public HF layouts, hidden states, chunking."""

import argparse

import pytest
import torch
from safetensors.torch import load_file

import audio_weights as AW
import joyvasa_standin as maker
from conftest import fixture_path
from golden_fixtures import joyvasa_window
from playmate_core.audio import EncoderWeightsError, encoder_from_hf_state_dict, load_audio_encoder

torch.manual_seed(0)
WAVE = torch.randn(2, 16000 * 2 + 123) * 0.1


def hidden(encoder, wave=WAVE, **kwargs):
    return encoder.encode(wave, **kwargs)


@pytest.fixture(scope="module")
def tiny_w2v():
    config = AW.tiny_hf_config("wav2vec2")
    return config, AW.hf_state_dict(config, seed=1)


@pytest.mark.parametrize("family, stable", [("wav2vec2", False), ("wav2vec2", True), ("hubert", False)])
def test_both_weight_norm_spellings_and_files_give_the_same_features(tmp_path, family, stable):
    config = AW.tiny_hf_config(family, stable)
    sd = AW.hf_state_dict(config, seed=2)
    legacy = AW.rename_weight_norm(sd, "legacy")
    assert any(k.endswith("conv.weight_g") for k in legacy) and not any(k.endswith("original0") for k in legacy)
    folders = [
        AW.write_hf_folder(str(tmp_path / "st"), config, sd, "model.safetensors"),
        AW.write_hf_folder(str(tmp_path / "bin"), config, legacy, "pytorch_model.bin"),
    ]
    singles = [AW.save_weights(str(tmp_path / "one.safetensors"), legacy),
               AW.save_weights(str(tmp_path / "one.bin"), sd)]
    outputs = []
    for path in folders + singles:
        encoder = load_audio_encoder(path, normalize_input=False)
        assert (encoder.family, encoder.dim, encoder.num_layers) == (family if path in folders else "wav2vec2", 128, 2)
        assert encoder.config.stable_layer_norm == stable
        outputs.append(hidden(encoder))
    assert len(outputs[0]) == 3 and outputs[0][-1].shape == (2, 100, 128)
    for other in outputs[1:]:
        for a, b in zip(outputs[0], other):
            assert torch.equal(a, b)


def test_folded_pos_conv_weight_is_accepted(tiny_w2v):
    config, sd = tiny_w2v
    sd = dict(sd)
    g = sd.pop("encoder.pos_conv_embed.conv.parametrizations.weight.original0")
    v = sd.pop("encoder.pos_conv_embed.conv.parametrizations.weight.original1")
    folded = dict(sd, **{"encoder.pos_conv_embed.conv.weight": g * v / v.norm(dim=(0, 1), keepdim=True)})
    ref = encoder_from_hf_state_dict(dict(sd, **{
        "encoder.pos_conv_embed.conv.weight_g": g, "encoder.pos_conv_embed.conv.weight_v": v}), config)
    out = encoder_from_hf_state_dict(folded, config)
    assert torch.allclose(hidden(out, layer=-1), hidden(ref, layer=-1), atol=1e-5)


def test_prefixes_and_heads(tiny_w2v):
    config, _ = tiny_w2v
    ctc = AW.hf_state_dict(config, seed=1, prefix="wav2vec2.", ctc_head=True)
    bare = AW.hf_state_dict(config, seed=1)
    assert torch.equal(hidden(encoder_from_hf_state_dict(ctc), layer=-1),
                       hidden(encoder_from_hf_state_dict(bare), layer=-1))
    joy = {("audio_encoder." + k): v for k, v in bare.items()}
    joy["denoising_net.feature_proj.weight"] = torch.zeros(4, 4)
    with pytest.raises(EncoderWeightsError, match="unexpected keys outside the encoder: denoising_net"):
        encoder_from_hf_state_dict(joy)
    encoder = encoder_from_hf_state_dict(joy, config, "hubert", prefix="audio_encoder.")
    assert encoder.family == "hubert" and encoder.normalize_input is False


def test_hubert_prefix_sets_the_family():
    config = AW.tiny_hf_config("hubert")
    sd = AW.hf_state_dict(config, seed=0, prefix="hubert.")
    encoder = encoder_from_hf_state_dict(sd)
    assert (encoder.family, encoder.kind, encoder.normalize_input) == ("hubert", "hubert-2x128", False)


def test_strict_loading_names_what_is_wrong(tiny_w2v):
    config, sd = tiny_w2v
    missing = {k: v for k, v in sd.items() if k != "encoder.layers.1.final_layer_norm.bias"}
    with pytest.raises(EncoderWeightsError, match=r"missing keys: encoder\.layers\.1\.final_layer_norm\.bias"):
        encoder_from_hf_state_dict(missing, config)
    with pytest.raises(EncoderWeightsError, match=r"unexpected keys: encoder\.layers\.0\.attention\.extra"):
        encoder_from_hf_state_dict(dict(sd, **{"encoder.layers.0.attention.extra": torch.zeros(1)}), config)
    with pytest.raises(EncoderWeightsError, match=r"missing keys: encoder\.layers\.2\."):
        encoder_from_hf_state_dict(sd, dict(config, num_hidden_layers=3))
    with pytest.raises(EncoderWeightsError, match=r"wrong shapes: feature_projection\.projection\.weight \(128, 64\)"):
        encoder_from_hf_state_dict(sd, dict(config, hidden_size=256, num_attention_heads=4))
    both = dict(sd, **{"encoder.pos_conv_embed.conv.weight_g": torch.ones(1, 1, 16)})
    with pytest.raises(EncoderWeightsError, match="two weight-norm spellings"):
        encoder_from_hf_state_dict(both, config)


def test_non_encoder_files_are_rejected(tmp_path):
    other = AW.save_weights(str(tmp_path / "motion_extractor.safetensors"), {"detector.conv.weight": torch.zeros(3, 3)})
    with pytest.raises(EncoderWeightsError, match="not an audio encoder file"):
        load_audio_encoder(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(EncoderWeightsError, match="not a readable safetensors file"):
        load_audio_encoder(str(junk))
    pickled = tmp_path / "obj.bin"
    torch.save({"args": argparse.Namespace(lr=1e-4)}, str(pickled))
    with pytest.raises(EncoderWeightsError, match="obj.bin: refused for safety"):
        load_audio_encoder(str(pickled))
    empty = tmp_path / "folder"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(EncoderWeightsError, match="holds none of the weight files"):
        load_audio_encoder(str(empty))
    (empty / "model.safetensors").write_bytes(b"")
    (empty / "config.json").write_text('{"model_type": "whisper"}')
    with pytest.raises(EncoderWeightsError, match="not a readable safetensors|model_type 'whisper'"):
        load_audio_encoder(str(empty))


def test_unsupported_config_is_rejected(tiny_w2v):
    config, sd = tiny_w2v
    with pytest.raises(ValueError, match="model_type 'whisper'"):
        encoder_from_hf_state_dict(sd, dict(config, model_type="whisper"), family=None)
    with pytest.raises(ValueError, match="add_adapter"):
        encoder_from_hf_state_dict(sd, dict(config, add_adapter=True))


def test_layers_and_hidden_state_numbering(tiny_w2v):
    config, sd = tiny_w2v
    encoder = encoder_from_hf_state_dict(sd, config)
    states = hidden(encoder)
    assert len(states) == 3
    assert torch.equal(hidden(encoder, layer=-1), states[2])
    assert torch.equal(hidden(encoder, layer=0), states[0])
    picked = hidden(encoder, layer=[1, -1])
    assert torch.equal(picked[0], states[1]) and torch.equal(picked[1], states[2])
    with pytest.raises(ValueError, match="layer 3 does not exist"):
        hidden(encoder, layer=3)
    assert encoder.num_frames(WAVE.shape[1]) == 100 and encoder.num_frames(10) == 1
    assert hidden(encoder, torch.zeros(1, 10), layer=-1).shape == (1, 1, 128)


def test_input_normalisation_follows_family_and_preprocessor(tmp_path, tiny_w2v):
    config, sd = tiny_w2v
    assert encoder_from_hf_state_dict(sd, config).normalize_input is True
    folder = AW.write_hf_folder(str(tmp_path / "w"), config, sd, do_normalize=False)
    plain = load_audio_encoder(folder)
    assert plain.normalize_input is False
    normed = load_audio_encoder(folder, normalize_input=True)
    from playmate_core.audio.waveform import zero_mean_unit_var

    assert torch.equal(hidden(normed, layer=-1), hidden(plain, zero_mean_unit_var(WAVE), layer=-1))
    assert not torch.allclose(hidden(normed, layer=-1), hidden(plain, layer=-1), atol=1e-3)


def test_batch_items_are_independent(tiny_w2v):
    config, sd = tiny_w2v
    encoder = encoder_from_hf_state_dict(sd, config)
    both = hidden(encoder, layer=-1)
    assert torch.allclose(both[1:], hidden(encoder, WAVE[1:], layer=-1), atol=1e-5)


def test_bf16_stays_close_to_fp32(tiny_w2v):
    config, sd = tiny_w2v
    ref = hidden(encoder_from_hf_state_dict(sd, config), layer=-1)
    low = hidden(encoder_from_hf_state_dict(sd, config, dtype=torch.bfloat16), layer=-1)
    assert low.dtype == torch.float32
    assert float((low - ref).norm() / ref.norm()) < 0.05


def test_chunked_encoding_bookkeeping_is_exact(tiny_w2v):
    """When every chunk's context spans the clip, chunked output must equal the whole-clip output."""
    config, sd = tiny_w2v
    encoder = encoder_from_hf_state_dict(sd, config)
    wave = torch.randn(1, 16000 * 14) * 0.1  # 700 frames: conv front-end runs in two blocks
    whole = hidden(encoder, wave)
    calls = []
    chunked = hidden(encoder, wave, chunk_seconds=3.0, context_seconds=15.0, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    for a, b in zip(whole, chunked):
        assert float((a - b).abs().max()) < 1e-4


def test_chunk_seams_are_continuous():
    """Limited context changes features (random weights attend almost uniformly), but never as a step at a seam."""
    config = AW.tiny_hf_config("wav2vec2")
    encoder = encoder_from_hf_state_dict(AW.hf_state_dict(config, seed=4), config)
    wave = torch.randn(1, 16000 * 24) * 0.1
    whole = hidden(encoder, wave, layer=-1)[0]
    chunked = hidden(encoder, wave, layer=-1, chunk_seconds=6.0, context_seconds=3.0)[0]
    rel = float((chunked - whole).norm() / whole.norm())
    assert rel < 0.1, rel
    error = (chunked - whole).norm(dim=-1)
    step = (error[1:] - error[:-1]).abs()
    assert float(step.max()) < 0.05 * float(whole.norm(dim=-1).mean())


def test_joyvasa_hubert_matches_the_official_golden():
    """The 2-layer HuBERT of the JoyVASA small fixture (legacy weight-norm spelling) vs the official outputs."""
    golden = load_file(str(fixture_path("joyvasa", "golden_small.safetensors")))
    sd = {}
    for key, shape, dtype, canonical in maker.hubert_entries(maker.hubert_config(2), "legacy"):
        sd["audio_encoder." + key] = maker.value_for("audio_encoder." + key, "audio_encoder." + canonical, shape, dtype,
                                                     0)
    encoder = encoder_from_hf_state_dict(sd, maker.hf_config_json(2), prefix="audio_encoder.")
    assert encoder.normalize_input is False
    window = joyvasa_window(golden, 0)
    for _ in range(2):  # JoyVASA's pad_audio: a 20-sample reflect pad, twice
        window = torch.nn.functional.pad(window[:, None], (20, 20), mode="reflect")[:, 0]
    conv = encoder.model.feature_extractor(window, None)[0].transpose(1, 2)
    ref = golden["hubert.w0.conv_features"]
    assert float((conv - ref).norm() / ref.norm()) < 1e-5
    out = encoder.encode(window, layer=-1)
    ref = golden["hubert.w0.last_hidden_state"]
    assert float((out - ref).norm() / ref.norm()) < 1e-5
