"""Audio nodes: load a wav2vec2 / HuBERT encoder, encode AUDIO into features per video frame."""

from __future__ import annotations

import os

import torch

from playmate_core.audio import (
    PUBLIC_ENCODERS,
    AudioEncoder,
    EncoderWeightsError,
    encode_audio,
    features_from_encoder_output,
    fit_audio_to_frames,
    load_audio_encoder,
    missing_encoder_message,
)
from playmate_core.audio.checkpoint import SINGLE_FILE_EXTENSIONS

from . import host

KIND = "audio_encoders"
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DEVICES = ("auto", "cpu", "cuda", "mps")
NORMALIZATION = {"auto": None, "on": True, "off": False}


def encoder_choices() -> list[str]:
    """HF folders (holding config.json) and single weight files under models/audio_encoders.

    The public default names always come first, installed or not, so shared workflows validate;
    loading one that is absent says what to download.
    """
    files = host.list_model_files(KIND, extensions=(".json",) + SINGLE_FILE_EXTENSIONS)
    folders = sorted({os.path.dirname(f) for f in files if os.path.basename(f) == "config.json" and os.path.dirname(f)})
    singles = [
        f for f in files
        if f.endswith(SINGLE_FILE_EXTENSIONS) and not any(f.startswith(d + "/") for d in folders)
    ]
    public = list(PUBLIC_ENCODERS)
    return public + sorted(name for name in folders + singles if name not in public)


def resolve_encoder(name: str) -> str:
    """Absolute path of a listed folder or file; a clear error (with download links) when absent."""
    for folder in host.model_folders(KIND):
        path = os.path.join(folder, name)
        if os.path.isdir(path) or os.path.isfile(path):
            return path
    raise FileNotFoundError(missing_encoder_message(name, host.default_model_folder(KIND)))


class PlaymateLoadAudioEncoder:
    """Load a wav2vec2 or HuBERT speech encoder from models/audio_encoders."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "encoder_name": (encoder_choices(), {
                    "tooltip": "A Hugging Face model folder (config.json + model.safetensors or pytorch_model.bin) "
                               "or a single weights file in models/audio_encoders. wav2vec2-base-960h and "
                               "chinese-hubert-base are the public defaults; see the README for the downloads.",
                }),
                "precision": (list(PRECISIONS), {
                    "default": "fp32",
                    "tooltip": "Weight precision. fp32 matches the reference features; fp16/bf16 halve memory.",
                }),
                "device": (list(DEVICES), {
                    "default": "auto",
                    "tooltip": "Where the encoder runs: auto = the host's compute device (GPU when there is one).",
                }),
                "input_normalization": (list(NORMALIZATION), {
                    "default": "auto",
                    "tooltip": "Scale each clip to zero mean, unit variance before encoding. auto = the model's "
                               "preprocessor_config.json, else on for wav2vec2 and off for HuBERT (as JoyVASA).",
                }),
            }
        }

    RETURN_TYPES = ("PLAYMATE_AUDIO_ENCODER",)
    RETURN_NAMES = ("encoder",)
    FUNCTION = "load"
    CATEGORY = "Playmate/audio"
    DESCRIPTION = (
        "Loads a wav2vec2 / HuBERT speech encoder (Hugging Face layout, strict: every key and shape is "
        "checked) for Playmate Encode Audio."
    )

    def load(self, encoder_name, precision="fp32", device="auto", input_normalization="auto"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        if input_normalization not in NORMALIZATION:
            raise ValueError(f"input_normalization must be one of {list(NORMALIZATION)}, got {input_normalization!r}")
        path = resolve_encoder(encoder_name)
        try:
            encoder = load_audio_encoder(
                path, dtype=PRECISIONS[precision], device=host.torch_device(device),
                normalize_input=NORMALIZATION[input_normalization],
            )
        except EncoderWeightsError as exc:
            hint = f"\n{missing_encoder_message(encoder_name, host.default_model_folder(KIND))}" \
                if encoder_name in PUBLIC_ENCODERS else ""
            raise EncoderWeightsError(f"encoder_name {encoder_name!r}: {exc}{hint}") from exc
        return (encoder,)


class PlaymateEncodeAudio:
    """AUDIO -> speech features per video frame, the frame count, and the audio fitted to those frames."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "audio": ("AUDIO", {"tooltip": "Speech or singing; any sample rate, mono or stereo, any length."}),
                "encoder": ("PLAYMATE_AUDIO_ENCODER", {"tooltip": "From Playmate Load Audio Encoder."}),
                "fps": ("FLOAT", {
                    "default": 25.0, "min": 1.0, "max": 120.0, "step": 0.01,
                    "tooltip": "Video frame rate the features are aligned to; frame count = ceil(duration x fps).",
                }),
                "layer": ("INT", {
                    "default": -1, "min": -1, "max": 48,
                    "tooltip": "Encoder hidden state to use: -1 = last layer, 0 = transformer input, k = layer k.",
                }),
                "chunk_seconds": ("FLOAT", {
                    "default": 30.0, "min": 0.0, "max": 600.0, "step": 1.0,
                    "tooltip": "Long audio is encoded in chunks of this length with 5 s of overlap on each side, "
                               "so memory stays flat; 0 = the whole clip at once.",
                }),
            },
            "optional": {
                "audio_encoder_output": ("AUDIO_ENCODER_OUTPUT", {
                    "tooltip": "Optional: features from the core Audio Encoder Encode node for the same audio, used "
                               "instead of running the encoder (must match its width, layers and normalisation).",
                }),
            },
        }

    RETURN_TYPES = ("PLAYMATE_AUDIO_FEATURES", "INT", "AUDIO")
    RETURN_NAMES = ("audio_features", "frame_count", "audio")
    FUNCTION = "encode"
    CATEGORY = "Playmate/audio"
    DESCRIPTION = (
        "Encodes speech with wav2vec2 / HuBERT and resamples the 50 Hz features to the video frame rate. "
        "Also returns the frame count and the audio trimmed or padded to exactly that many frames, so video "
        "and sound stay in sync downstream."
    )

    def encode(self, audio, encoder, fps=25.0, layer=-1, chunk_seconds=30.0, audio_encoder_output=None):
        if not isinstance(encoder, AudioEncoder):
            raise TypeError(f"encoder: expected a PLAYMATE_AUDIO_ENCODER from Playmate Load Audio Encoder, "
                            f"got {type(encoder).__name__}")
        if audio_encoder_output is not None:
            features = features_from_encoder_output(audio_encoder_output, audio, encoder, fps, layer)
        else:
            features = encode_audio(
                audio, encoder, fps, layer, chunk_seconds=chunk_seconds or None, progress=host.Progress(1)
            )
        return (features, features.num_frames, fit_audio_to_frames(audio, features.num_frames, fps))


NODE_CLASS_MAPPINGS = {
    "PlaymateLoadAudioEncoder": PlaymateLoadAudioEncoder,
    "PlaymateEncodeAudio": PlaymateEncodeAudio,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlaymateLoadAudioEncoder": "Playmate Load Audio Encoder",
    "PlaymateEncodeAudio": "Playmate Encode Audio",
}
