"""Parity with Hugging Face transformers (runs only where `transformers` is importable; CI skips it).

Also checks that the test writer (tests/audio_weights.py) produces files transformers loads with no
missing or unexpected keys, i.e. that it really writes the public layouts.
"""

import pytest
import torch

import audio_weights as AW
from playmate_core.audio import load_audio_encoder
from playmate_core.audio.waveform import zero_mean_unit_var

transformers = pytest.importorskip("transformers", reason="transformers is not installed (optional parity check)")

CASES = [
    # family, stable layer norm, weight-norm spelling, weights file, CTC layout
    ("wav2vec2", False, "legacy", "pytorch_model.bin", True),
    ("wav2vec2", True, "parametrizations", "model.safetensors", False),
    ("hubert", False, "parametrizations", "model.safetensors", False),
    ("hubert", False, "legacy", "pytorch_model.bin", False),
]


@pytest.mark.parametrize("family, stable, spelling, weights, ctc", CASES)
def test_hidden_states_match_transformers(tmp_path, family, stable, spelling, weights, ctc):
    config = AW.tiny_hf_config(family, stable, layers=3)
    if ctc:
        config["architectures"] = ["Wav2Vec2ForCTC"]
    sd = AW.hf_state_dict(config, seed=5, weight_norm=spelling, prefix="wav2vec2." if ctc else "", ctc_head=ctc)
    folder = AW.write_hf_folder(str(tmp_path / "model"), config, sd, weights)
    if ctc:
        reference, info = transformers.Wav2Vec2ForCTC.from_pretrained(folder, output_loading_info=True)
        body = reference.wav2vec2
    else:
        body, info = transformers.AutoModel.from_pretrained(folder, output_loading_info=True)
    assert not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    body.eval()
    wave = torch.randn(2, 16000 * 3 + 77) * 0.1
    with torch.no_grad():
        ref = body(wave, output_hidden_states=True)
    ours = load_audio_encoder(folder, normalize_input=False).encode(wave)
    assert float((ours[-1] - ref.last_hidden_state).abs().max()) < 1e-5
    # hidden_states[k] for k < num_layers is the output of layer k (the input of layer k + 1) in every version
    for k in range(config["num_hidden_layers"]):
        assert float((ours[k] - ref.hidden_states[k]).abs().max()) < 1e-5, k


def test_input_normalisation_matches_the_feature_extractor():
    extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True, sampling_rate=16000)
    wave = torch.randn(16000) * 0.2 + 0.05
    ref = extractor(wave.numpy(), sampling_rate=16000, return_tensors="pt").input_values
    assert float((zero_mean_unit_var(wave[None]) - ref).abs().max()) < 1e-5
