"""The host's AUDIO dict in, checked; mono 16 kHz float waveforms out; audio fitted to a frame count.

AUDIO is ``{"waveform": Tensor [B, C, T], "sample_rate": int}``. Integer PCM is scaled to [-1, 1]
(int16 / 32768, int32 / 2^31, uint8 (x - 128) / 128); other float types become float32. Nothing here
modifies the caller's dict or tensor.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ENCODER_SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 2


class AudioInputError(ValueError):
    """The AUDIO input is unusable; the message names the input and what to do."""


def pcm_to_float(waveform: torch.Tensor) -> torch.Tensor:
    """Integer PCM scaled to [-1, 1] float32; float input cast to float32 (a new tensor or the same one)."""
    if waveform.dtype == torch.int16:
        return waveform.to(torch.float32) / 32768.0
    if waveform.dtype == torch.int32:
        return waveform.to(torch.float32) / 2147483648.0
    if waveform.dtype == torch.uint8:
        return (waveform.to(torch.float32) - 128.0) / 128.0
    if waveform.dtype == torch.int8:
        return waveform.to(torch.float32) / 128.0
    if waveform.is_floating_point():
        return waveform.to(torch.float32)
    raise AudioInputError(f"audio samples of type {waveform.dtype} are not supported (use float or int16/int32 PCM)")


def audio_waveform(audio, name: str = "audio") -> tuple[torch.Tensor, int]:
    """Check an AUDIO dict and return (waveform [B, C, T] float32 in [-1, 1], sample_rate)."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise AudioInputError(
            f"{name}: expected an AUDIO dict with 'waveform' [batch, channels, samples] and 'sample_rate' "
            f"(connect a Load Audio node), got {type(audio).__name__}"
        )
    waveform, rate = audio["waveform"], audio["sample_rate"]
    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(waveform)
    if not isinstance(waveform, torch.Tensor):
        raise AudioInputError(f"{name}: 'waveform' must be a tensor, got {type(waveform).__name__}")
    if waveform.ndim != 3:
        raise AudioInputError(
            f"{name}: waveform must have 3 dimensions [batch, channels, samples], got shape {tuple(waveform.shape)}"
        )
    batch, channels, samples = waveform.shape
    if batch == 0 or samples == 0:
        raise AudioInputError(f"{name} is empty (waveform shape {tuple(waveform.shape)}): load a clip with sound")
    if channels == 0 or channels > MAX_CHANNELS:
        raise AudioInputError(
            f"{name} has {channels} channels; mono or stereo is supported: "
            "mix it down first (e.g. Split Audio Channels, then use one or two channels)"
        )
    try:
        rate_value = float(rate)
    except (TypeError, ValueError):
        raise AudioInputError(f"{name}: sample_rate must be a number, got {rate!r}") from None
    if not rate_value.is_integer() or not MIN_SAMPLE_RATE <= rate_value <= MAX_SAMPLE_RATE:
        raise AudioInputError(
            f"{name}: sample_rate {rate!r} is not valid; expected a whole number of Hz between "
            f"{MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE}"
        )
    waveform = pcm_to_float(waveform)
    if not bool(torch.isfinite(waveform).all()):
        bad = int((~torch.isfinite(waveform)).sum())
        raise AudioInputError(f"{name} contains {bad} NaN or infinite samples: fix or re-export the clip")
    return waveform, int(rate_value)


def mix_to_mono(waveform: torch.Tensor) -> torch.Tensor:
    """[B, C, T] -> [B, T], the mean of the channels."""
    return waveform.mean(dim=1)


def resample(waveform: torch.Tensor, sample_rate: int, target_rate: int = ENCODER_SAMPLE_RATE) -> torch.Tensor:
    """Band-limited resampling along the last axis (torchaudio's windowed-sinc, Hann window, width 6)."""
    if int(sample_rate) == int(target_rate):
        return waveform
    import torchaudio.functional as AF

    return AF.resample(waveform, int(sample_rate), int(target_rate))


def to_encoder_input(audio, name: str = "audio") -> torch.Tensor:
    """AUDIO dict -> [B, T16k] mono float32 at 16 kHz."""
    waveform, rate = audio_waveform(audio, name)
    return resample(mix_to_mono(waveform), rate, ENCODER_SAMPLE_RATE)


def zero_mean_unit_var(waveform: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Per-row (x - mean) / sqrt(var + eps), population variance: HF Wav2Vec2FeatureExtractor(do_normalize)."""
    stats = waveform.to(torch.float64)
    mean = stats.mean(dim=-1, keepdim=True)
    var = stats.var(dim=-1, keepdim=True, unbiased=False)
    return ((stats - mean) / torch.sqrt(var + eps)).to(waveform.dtype)


def samples_for_frames(num_frames: int, fps: float, sample_rate: int) -> int:
    """Samples covering ``num_frames`` video frames: ceil(num_frames * sample_rate / fps), as the host's video muxer."""
    return int(math.ceil(num_frames * sample_rate / fps - 1e-6))


def fit_audio_to_frames(audio, num_frames: int, fps: float, name: str = "audio") -> dict:
    """A new AUDIO dict holding exactly ``num_frames / fps`` seconds: trimmed, or padded with silence.

    Keeps the sample rate, channels and batch of the input; the waveform is float32.
    """
    waveform, rate = audio_waveform(audio, name)
    return {"waveform": fit_length(waveform, samples_for_frames(num_frames, fps, rate)), "sample_rate": rate}


def fit_length(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """[..., T] -> a new [..., length] tensor: trimmed, or padded with silence at the end."""
    if waveform.shape[-1] >= length:
        return waveform[..., :length].clone()
    return torch.nn.functional.pad(waveform, (0, length - waveform.shape[-1]))
