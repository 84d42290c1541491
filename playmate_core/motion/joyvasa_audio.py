"""JoyVASA's audio path: its embedded (fine-tuned) HuBERT and the released windowing around it.

Released behaviour: the 16 kHz waveform is cut into windows of 100 frames (64,000 samples, the last one
zero-padded); each window is reflect-padded by 20 samples twice (40 per side), encoded independently
(HuBERT's last hidden state, 200 frames at 50 Hz) and linearly resampled 200 -> 100 frames (the mean of
frame pairs). Not reproduced: the release's extra 1,280 leading / 640 trailing zero samples, which shift the
motion two frames later than the audio that is muxed back; here frame i covers audio [i/25, (i+1)/25) s and
the frame count is ceil(duration * 25) like every other encoder of the pack.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..audio.encoders import AudioEncoder, encoder_from_hf_state_dict
from ..audio.features import AudioFeatures, frame_count
from .convert import hubert_config
from .joyvasa_release import split_audio_encoder

SAMPLE_RATE = 16000
REFLECT_PAD = 20


def joyvasa_audio_encoder(release_state_dict: dict, dtype: torch.dtype = torch.float32) -> AudioEncoder:
    """The HuBERT embedded in a released generator's state dict (either weight-norm spelling), loaded strictly."""
    _, hubert = split_audio_encoder(release_state_dict)
    if not hubert:
        raise ValueError("this JoyVASA state dict holds no embedded audio encoder (audio_encoder.* keys)")
    return encoder_from_hf_state_dict(hubert, hubert_config(hubert), "hubert", normalize_input=False,
                                      name="joyvasa-hubert", dtype=dtype)


def window_features(encoder: AudioEncoder, window: torch.Tensor, frames: int) -> torch.Tensor:
    """One window [B, frames * 640] -> [B, frames, D]: double 20-sample reflect pad, last hidden state, 2:1 resample."""
    padded = F.pad(F.pad(window.unsqueeze(1), (REFLECT_PAD, REFLECT_PAD), mode="reflect"),
                   (REFLECT_PAD, REFLECT_PAD), mode="reflect").squeeze(1)
    hidden = encoder.encode(padded, layer=-1)
    return F.interpolate(hidden.transpose(1, 2), size=frames, mode="linear", align_corners=False).transpose(1, 2)


def joyvasa_audio_features(encoder: AudioEncoder, waveform_16k: torch.Tensor, fps: float = 25.0,
                           window_frames: int = 100) -> AudioFeatures:
    """A 16 kHz mono waveform [T] or [B, T] -> JoyVASA's per-frame HuBERT features [B, N, 768] at fps."""
    wave = waveform_16k.unsqueeze(0) if waveform_16k.ndim == 1 else waveform_16k
    if wave.shape[-1] == 0:
        raise ValueError("the waveform is empty")
    samples_per_frame = SAMPLE_RATE / fps
    if samples_per_frame != int(samples_per_frame):
        raise ValueError(f"JoyVASA's windowing needs a whole number of samples per frame; {fps:g} fps gives {samples_per_frame}")
    window = window_frames * int(samples_per_frame)
    duration = wave.shape[-1] / SAMPLE_RATE
    n = frame_count(duration, fps)
    wave = F.pad(wave.float(), (0, math.ceil(wave.shape[-1] / window) * window - wave.shape[-1]))
    feats = torch.cat([window_features(encoder, w, window_frames) for w in wave.split(window, dim=-1)], dim=1)
    return AudioFeatures(feats[:, :n].cpu(), fps, n, duration, encoder.kind)
