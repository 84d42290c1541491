"""AUDIO input handling: file loading, PCM conversion, mono mix, resampling, bad input, fitting to frames."""

import math

import numpy as np
import pytest
import torch

from conftest import fixture_path
from playmate_core.audio import AudioInputError, audio_waveform, fit_audio_to_frames, load_audio_file, to_encoder_input
from playmate_core.audio.align import frame_positions, resample_to_video_frames
from playmate_core.audio.waveform import pcm_to_float, zero_mean_unit_var


def media(name):
    return str(fixture_path("media", "audio", name))


@pytest.mark.parametrize("name, rate, channels, samples", [  # tests/fixtures/README.md: 2.014 s cuts of one clip
    ("en_2s_22k_mono.wav", 22050, 1, 44400),
    ("en_2s_22k_mono.flac", 22050, 1, 44400),
    ("en_2s_22k_mono.mp3", 22050, 1, 44400),  # gapless header honoured
    ("en_2s_44k1_stereo.flac", 44100, 2, 88800),
    ("en_2s_8k_mono.flac", 8000, 1, 16108),
])
def test_load_audio_file_matches_the_files(name, rate, channels, samples):
    audio = load_audio_file(media(name))
    assert audio["sample_rate"] == rate
    assert audio["waveform"].shape == (1, channels, samples)
    assert audio["waveform"].dtype == torch.float32
    assert 0.5 < float(audio["waveform"].abs().max()) <= 1.0


def test_load_audio_file_scales_pcm16_like_the_host():
    wav = load_audio_file(media("en_2s_22k_mono.wav"))["waveform"]
    raw = np.frombuffer(open(media("en_2s_22k_mono.wav"), "rb").read()[44:], dtype="<i2")
    assert torch.equal(wav[0, 0], torch.from_numpy(raw.astype(np.float32) / 32768.0))


def test_load_audio_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_audio_file(str(tmp_path / "missing.wav"))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(ValueError, match="junk.wav"):
        load_audio_file(str(junk))


def test_resampled_variants_agree():
    """The 22.05 kHz mono, 44.1 kHz stereo and 8 kHz copies of one clip, resampled to 16 kHz."""
    base = to_encoder_input(load_audio_file(media("en_2s_22k_mono.wav")))
    stereo = to_encoder_input(load_audio_file(media("en_2s_44k1_stereo.flac")))
    narrow = to_encoder_input(load_audio_file(media("en_2s_8k_mono.flac")))
    assert base.shape == (1, math.ceil(44400 * 16000 / 22050))
    assert stereo.shape == (1, math.ceil(88800 * 16000 / 44100))
    assert narrow.shape == (1, math.ceil(16108 * 16000 / 8000))
    n = narrow.shape[1]
    # right channel is the left at -6 dB, so the mono mix is 0.75 x the mono clip
    mix = stereo[:, :n] / 0.75
    assert float((mix - base[:, :n]).norm() / base[:, :n].norm()) < 1e-3
    # the 8 kHz copy keeps the band below 4 kHz: compare with the 16 kHz clip low-passed the same way
    import torchaudio.functional as AF

    band = AF.resample(AF.resample(base, 16000, 8000), 8000, 16000)[:, :n]
    assert float((narrow - band).norm() / band.norm()) < 0.05


def test_pcm_types_are_scaled():
    assert torch.equal(pcm_to_float(torch.tensor([-32768, 0, 16384], dtype=torch.int16)),
                       torch.tensor([-1.0, 0.0, 0.5]))
    assert torch.equal(pcm_to_float(torch.tensor([-2**31, 2**30], dtype=torch.int32)), torch.tensor([-1.0, 0.5]))
    assert torch.equal(pcm_to_float(torch.tensor([0, 128, 192], dtype=torch.uint8)), torch.tensor([-1.0, 0.0, 0.5]))
    assert pcm_to_float(torch.zeros(3, dtype=torch.float64)).dtype == torch.float32


def test_int16_audio_dict_and_numpy_waveform():
    samples = np.array([[[0, 16384, -16384, 32767]]], dtype=np.int16)
    wave, rate = audio_waveform({"waveform": samples, "sample_rate": 16000})
    assert rate == 16000 and wave.dtype == torch.float32
    assert wave[0, 0, :3].tolist() == [0.0, 0.5, -0.5]


@pytest.mark.parametrize("audio, message", [
    ({"waveform": torch.zeros(1, 1, 0), "sample_rate": 16000}, "audio is empty"),
    ({"waveform": torch.zeros(1, 1, 100), "sample_rate": 0}, "sample_rate 0 is not valid"),
    ({"waveform": torch.zeros(1, 1, 100), "sample_rate": 22050.5}, "sample_rate 22050.5 is not valid"),
    ({"waveform": torch.tensor([[[0.0, float("nan"), 0.1]]]), "sample_rate": 16000}, "1 NaN or infinite"),
    ({"waveform": torch.tensor([[[0.0, float("inf")]]]), "sample_rate": 16000}, "NaN or infinite"),
    ({"waveform": torch.zeros(1, 3, 100), "sample_rate": 16000}, "3 channels; mono or stereo"),
    ({"waveform": torch.zeros(1, 100), "sample_rate": 16000}, r"\[batch, channels, samples\]"),
    ({"waveform": [0.0, 0.1], "sample_rate": 16000}, "must be a tensor"),
    ({"sample_rate": 16000}, "expected an AUDIO dict"),
    ("speech.wav", "expected an AUDIO dict"),
])
def test_bad_audio_is_a_clear_error(audio, message):
    with pytest.raises(AudioInputError, match=message):
        audio_waveform(audio)


def test_zero_mean_unit_var_matches_the_hf_formula():
    x = torch.randn(2, 1000, dtype=torch.float64) * 0.3 + 0.1
    ref = np.stack([(r - r.mean()) / np.sqrt(r.var() + 1e-7) for r in x.numpy()])
    assert np.allclose(zero_mean_unit_var(x.float()).numpy(), ref, atol=1e-5)
    assert torch.equal(zero_mean_unit_var(torch.zeros(1, 50)), torch.zeros(1, 50))


def test_fit_audio_pads_to_whole_frames_and_keeps_the_input():
    wave = torch.randn(2, 2, 16000 * 3 + 7)
    audio = {"waveform": wave, "sample_rate": 16000}
    before = wave.clone()
    fitted = fit_audio_to_frames(audio, 76, 25.0)
    assert fitted["sample_rate"] == 16000
    assert fitted["waveform"].shape == (2, 2, 76 * 640)
    assert torch.equal(fitted["waveform"][..., : wave.shape[-1]], wave)
    assert torch.equal(fitted["waveform"][..., wave.shape[-1]:], torch.zeros(2, 2, 76 * 640 - wave.shape[-1]))
    assert torch.equal(wave, before) and audio["waveform"] is wave
    trimmed = fit_audio_to_frames(audio, 30, 25.0)
    assert torch.equal(trimmed["waveform"], wave[..., :19200])
    trimmed["waveform"][0, 0, 0] = 5.0
    assert torch.equal(wave, before)


def test_fit_audio_at_fractional_rates():
    audio = {"waveform": torch.zeros(1, 1, 10), "sample_rate": 44100}
    assert fit_audio_to_frames(audio, 100, 29.97)["waveform"].shape[-1] == math.ceil(100 * 44100 / 29.97)


def test_frame_positions_formula():
    assert torch.allclose(frame_positions(3, 30.0), torch.tensor([1 / 3, 2.0, 11 / 3], dtype=torch.float64))


@pytest.mark.parametrize("fps, frames, count, expected", [
    (25.0, 10, 5, [0.5, 2.5, 4.5, 6.5, 8.5]),  # mean of frame pairs (JoyVASA's 50 -> 25)
    (30.0, 10, 6, [1 / 3, 2.0, 11 / 3, 16 / 3, 7.0, 26 / 3]),
    (50.0, 4, 4, [0.0, 1.0, 2.0, 3.0]),  # identity
    (25.0, 4, 3, [0.5, 2.5, 3.0]),  # past the end: held at the last frame
    (100.0, 3, 6, [0.0, 0.25, 0.75, 1.25, 1.75, 2.0]),  # held before the first and after the last frame
])
def test_resample_to_video_frames_on_a_ramp(fps, frames, count, expected):
    ramp = torch.arange(frames, dtype=torch.float32)[None, :, None].repeat(2, 1, 3)
    out = resample_to_video_frames(ramp, fps, count)
    assert out.shape == (2, count, 3)
    assert torch.allclose(out[0, :, 0], torch.tensor(expected), atol=1e-6)
    assert torch.equal(out[0], out[1])
