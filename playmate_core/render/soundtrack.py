"""The audio that goes with N rendered frames: exactly N / fps seconds of it."""

from __future__ import annotations

import torch

from ..audio.waveform import fit_length, samples_for_frames


def check_audio(audio, name: str = "audio") -> tuple[torch.Tensor, int]:
    """A host AUDIO dict -> (waveform [B, C, T] float32, sample rate), with clear errors."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise TypeError(f"{name} must be an AUDIO value (a dict with 'waveform' "
                        f"and 'sample_rate'), got {type(audio).__name__}")
    waveform = audio["waveform"]
    if not isinstance(waveform, torch.Tensor) or waveform.ndim != 3:
        shape = tuple(waveform.shape) if isinstance(waveform, torch.Tensor) else type(waveform).__name__
        raise ValueError(f"{name} waveform must be a tensor [batch, channels, samples], got {shape}")
    rate = int(audio["sample_rate"])
    if rate <= 0:
        raise ValueError(f"{name} sample_rate must be positive, got {rate}")
    # audio decoded from a video keeps its codec's dtype (e.g. int16); everything here is float32
    if not waveform.is_floating_point():
        waveform = waveform.float() / float(torch.iinfo(waveform.dtype).max)
    return waveform.float(), rate


def fit_audio(audio, num_frames: int, fps: float, repeats: int = 1) -> dict:
    """AUDIO trimmed (or padded with silence) to num_frames / fps seconds, then played `repeats`
    times in a row (one per clip when several clips are rendered back to back). A new dict; the
    input is not modified. Batch and channels are kept."""
    waveform, rate = check_audio(audio)
    fitted = fit_length(waveform, samples_for_frames(num_frames, fps, rate))
    if repeats > 1:
        fitted = fit_length(fitted.repeat(1, 1, repeats), samples_for_frames(num_frames * repeats, fps, rate))
    return {"waveform": fitted.contiguous(), "sample_rate": rate}

