"""AUDIO -> features per video frame (``AudioFeatures``), from our encoder or from the host's encoder output."""

from __future__ import annotations

from typing import Callable

import torch

from .align import ENCODER_FRAME_RATE, resample_to_video_frames
from .encoders import AudioEncoder
from .features import AudioFeatures, frame_count
from .waveform import ENCODER_SAMPLE_RATE, AudioInputError, audio_waveform, mix_to_mono, resample
from .windowed import windowed_features

DEFAULT_CHUNK_SECONDS = 30.0
HOST_FRAME_TOLERANCE = 2  # encoder frames: rounding of the host's own resampling


def _checked(audio, fps: float, name: str) -> tuple[torch.Tensor, int, float, int]:
    """(waveform [B, C, T] float32, sample rate, duration s, video frames = ceil(duration * fps))."""
    if not fps or fps <= 0:
        raise ValueError(f"fps must be greater than 0, got {fps}")
    waveform, rate = audio_waveform(audio, name)
    duration = waveform.shape[-1] / rate
    return waveform, rate, duration, frame_count(duration, fps)


def features_label(encoder: AudioEncoder, layer: int) -> str:
    """``AudioFeatures.encoder``: family-size, plus ":layerK" when not the last hidden state."""
    index = encoder.layer_index(layer)
    return encoder.kind if index == encoder.num_layers else f"{encoder.kind}:layer{index}"


def encode_audio(
    audio,
    encoder: AudioEncoder,
    fps: float = 25.0,
    layer: int = -1,
    *,
    chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS,
    progress: Callable[[int, int], None] | None = None,
    name: str = "audio",
) -> AudioFeatures:
    """Encode an AUDIO dict: mono mix, resample to 16 kHz, encoder (input normalisation as the encoder
    expects), hidden state ``layer``, then linear resampling of the 50 Hz frames to ``fps``
    (``align.resample_to_video_frames``). Features are float32 on the CPU, [B, N, D] with
    N = ``frame_count(duration, fps)``. ``chunk_seconds`` bounds attention length (see ``AudioEncoder.encode``).
    An encoder with a ``windowing`` (JoyVASA's embedded HuBERT) runs its own fixed windows instead
    (``windowed.windowed_features``): its last hidden state only, chunk_seconds does not apply.
    """
    waveform, rate, duration, num_frames = _checked(audio, fps, name)
    wave_16k = resample(mix_to_mono(waveform), rate, ENCODER_SAMPLE_RATE)
    if encoder.windowing is not None:
        if encoder.layer_index(layer) != encoder.num_layers:
            raise ValueError(f"layer {layer}: {encoder.name} is used as it was trained, with its last hidden state; "
                             "set layer to -1")
        return windowed_features(encoder, wave_16k, fps, progress, encoder.name)
    hidden = encoder.encode(wave_16k, int(layer), chunk_seconds=chunk_seconds, progress=progress)
    features = resample_to_video_frames(hidden, fps, num_frames, encoder.frame_rate)
    return AudioFeatures(features.float().cpu(), float(fps), num_frames, duration, features_label(encoder, layer),
                         encoder.name)


def features_from_encoder_output(
    output,
    audio,
    encoder: AudioEncoder,
    fps: float = 25.0,
    layer: int = -1,
    *,
    name: str = "audio_encoder_output",
) -> AudioFeatures:
    """The host's AUDIO_ENCODER_OUTPUT (``encoded_audio`` [B, T', D], ``encoded_audio_all_layers``) for ``audio``,
    resampled to ``fps`` exactly like ``encode_audio``.

    ``encoder`` says what the features must be: same width and layer count, and the same input
    normalisation (the host normalises the input of its 1024-wide models only). A mismatch, or an output
    made from a clip of another length, is an error.
    """
    if encoder.windowing is not None:
        raise AudioInputError(f"{name}: {encoder.name} encodes its own fixed windows, which the host's encoder "
                              f"output cannot reproduce: disconnect {name}")
    if not isinstance(output, dict) or not isinstance(output.get("encoded_audio"), torch.Tensor):
        raise AudioInputError(f"{name}: expected the host's AUDIO_ENCODER_OUTPUT (a dict with 'encoded_audio')")
    waveform, _, duration, num_frames = _checked(audio, fps, "audio")
    index = encoder.layer_index(layer)
    layers = output.get("encoded_audio_all_layers")
    if index == encoder.num_layers:
        hidden = output["encoded_audio"]
    elif isinstance(layers, (tuple, list)) and len(layers) == encoder.num_layers + 1:
        hidden = layers[index]
    else:
        count = len(layers) if isinstance(layers, (tuple, list)) else 0
        raise AudioInputError(
            f"{name} holds {count} hidden states; layer {layer} needs the {encoder.num_layers + 1} of {encoder.name}"
        )
    if hidden.ndim != 3 or hidden.shape[-1] != encoder.dim:
        raise AudioInputError(
            f"{name} has features of shape {tuple(hidden.shape)}, but the encoder {encoder.name} makes "
            f"{encoder.dim}-d features: load the matching audio encoder, or disconnect {name}"
        )
    host_normalizes = hidden.shape[-1] == 1024
    if host_normalizes != encoder.normalize_input:
        state = "normalises" if host_normalizes else "does not normalise"
        raise AudioInputError(
            f"{name}: the host {state} the input of {hidden.shape[-1]}-d encoders, but {encoder.name} is set to "
            f"input_normalization={'on' if encoder.normalize_input else 'off'}; set the loader's "
            "input_normalization to match, or disconnect it to use this pack's encoder"
        )
    if hidden.shape[0] != waveform.shape[0]:
        raise AudioInputError(f"{name} has a batch of {hidden.shape[0]}, the audio a batch of {waveform.shape[0]}")
    expected = encoder.num_frames(round(duration * ENCODER_SAMPLE_RATE))
    if abs(hidden.shape[1] - expected) > HOST_FRAME_TOLERANCE:
        raise AudioInputError(
            f"{name} has {hidden.shape[1]} frames ({hidden.shape[1] / ENCODER_FRAME_RATE:.2f} s) but the audio is "
            f"{duration:.2f} s ({expected} frames): encode the same audio clip that goes into this node"
        )
    features = resample_to_video_frames(hidden.float(), fps, num_frames, ENCODER_FRAME_RATE)
    return AudioFeatures(features.cpu(), float(fps), num_frames, duration, features_label(encoder, layer), encoder.name)
