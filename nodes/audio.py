"""Audio nodes: load a wav2vec2 / HuBERT encoder, encode AUDIO into features per video frame."""

from __future__ import annotations

import os

from playmate_core.audio import (
    PUBLIC_ENCODERS,
    AudioEncoder,
    EncoderWeightsError,
    encode_audio,
    features_from_encoder_output,
    fit_audio_to_frames,
    load_audio_encoder,
)
from playmate_core.audio.checkpoint import SINGLE_FILE_EXTENSIONS, WEIGHT_FILES, is_complete_folder
from playmate_core.download import DownloadError, download_file, missing_files_message

from . import host
from .loaders import PRECISIONS, resolve_precision
from .model_cache import ModelCache, file_identity
from .spec import choice, integer, link, mappings, node, real

KIND = "audio_encoders"
NORMALIZATION = {"auto": None, "on": True, "off": False}
_encoders = ModelCache()


def encoder_choices() -> list[str]:
    """HF folders (holding config.json) and single weight files under models/audio_encoders.

    The public default names always come first, installed or not, so shared workflows validate;
    a missing one is downloaded on first use when there is internet.
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
    """Path of a listed folder or file; a public encoder that is absent (or incomplete) is downloaded."""
    for folder in host.model_folders(KIND):
        path = os.path.join(folder, name)
        if os.path.isfile(path) or (os.path.isdir(path) and (name not in PUBLIC_ENCODERS or is_complete_folder(path))):
            return path
    if name not in PUBLIC_ENCODERS:
        raise FileNotFoundError(
            f"encoder_name {name!r} is not in any models/audio_encoders folder ({', '.join(host.model_folders(KIND))})"
        )
    return _fetch_public_encoder(name)


def _fetch_public_encoder(name: str) -> str:
    """Download the missing files of a public encoder into models/audio_encoders/<name>/ (atomic per file)."""
    target = os.path.join(host.default_model_folder(KIND), name)
    has_weights = any(os.path.isfile(os.path.join(target, w)) for w in WEIGHT_FILES)
    missing = [
        remote for remote in PUBLIC_ENCODERS[name]
        if not os.path.isfile(os.path.join(target, remote.name)) and not (has_weights and remote.name in WEIGHT_FILES)
    ]
    try:
        for remote in missing:
            download_file(remote, target, progress=host.Progress(remote.size or 1))
    except DownloadError as err:
        raise FileNotFoundError(missing_files_message(f"audio encoder {name}", missing, target, str(err))) from err
    return target


def _identity(path: str) -> tuple:
    if os.path.isfile(path):
        return file_identity([path])
    names = ("config.json", "preprocessor_config.json") + WEIGHT_FILES
    return file_identity(os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n)))


class NoEmbeddedEncoder:
    """Load Motion Model's audio_encoder output for a model that carries none; Encode Audio raises its message."""

    def __init__(self, message: str):
        self.message = message


@node(
    display="Load Audio Encoder (Playmate)", category="Playmate/loaders", function="load",
    required={
        "encoder_name": choice(encoder_choices, next(iter(PUBLIC_ENCODERS)), (
            "For Playmate motion models: the encoder the model was trained with (a Hugging Face "
            "folder with config.json + model.safetensors or pytorch_model.bin, or a single "
            "weights file in models/audio_encoders). wav2vec2-base-960h and chinese-hubert-base "
            "are downloaded on first use when there is internet. JoyVASA does not use this node.")),
        "precision": choice(PRECISIONS, "auto", "auto: fp16 on CUDA, fp32 on CPU/MPS. "
                                                "fp32 gives the reference features."),
        "device": choice(host.device_choices, "auto", "auto: the device ComfyUI computes on (it loads "
                                                      "the encoder there when needed and may offload "
                                                      "it). The list shows the devices this machine has."),
        "input_normalization": choice(NORMALIZATION, "auto", (
            "Scale each clip to zero mean, unit variance before encoding. auto = the model's "
            "preprocessor_config.json, else on for wav2vec2 and off for HuBERT (as JoyVASA).")),
    },
    outputs={"encoder": "PLAYMATE_AUDIO_ENCODER"},
)
class PlaymateLoadAudioEncoder:
    """Loads a wav2vec2 / HuBERT speech encoder (Hugging Face layout, strict: every key and shape is checked) for
    Encode Audio (Playmate), to drive Playmate motion models. JoyVASA brings its own encoder: use Load Motion Model's
    audio_encoder output instead. Missing public encoders are downloaded when there is internet."""

    def load(self, encoder_name, precision="auto", device="auto", input_normalization="auto"):
        if input_normalization not in NORMALIZATION:
            raise ValueError(f"input_normalization must be one of {list(NORMALIZATION)}, got {input_normalization!r}")
        target = host.torch_device(device)  # an unavailable device fails before any download
        path = resolve_encoder(encoder_name)
        dtype = resolve_precision(precision, target)
        normalize = NORMALIZATION[input_normalization]
        key = (_identity(path), str(target), str(dtype), normalize)
        try:
            encoder = _encoders.get_or_load(
                key, lambda: host.manage_model(
                    load_audio_encoder(path, dtype=dtype, device=host.loading_device(target),
                                       normalize_input=normalize),
                    target)
            )
        except EncoderWeightsError as exc:
            raise EncoderWeightsError(f"encoder_name {encoder_name!r}: {exc}") from exc
        return (encoder,)


@node(
    display="Encode Audio (Playmate)", category="Playmate/audio", function="encode",
    required={
        "audio": link("AUDIO", "Speech or singing; any sample rate, mono or stereo, any length."),
        "encoder": link("PLAYMATE_AUDIO_ENCODER", (
            "JoyVASA: Load Motion Model's audio_encoder output (the HuBERT embedded in its checkpoint, "
            "run in its released 4 s windows). Playmate models: Load Audio Encoder (Playmate).")),
        "fps": real(25.0, 1.0, 120.0, 0.01,
                    "Video frame rate the features are aligned to; frame count = ceil(duration x fps)."),
        "layer": integer(-1, -1, 48,
                         "Encoder hidden state to use: -1 = last layer, 0 = transformer input, k = layer k."),
        "chunk_seconds": real(30.0, 0.0, 600.0, 1.0, (
            "Long audio is encoded in chunks of this length, each with 5 s of context on "
            "each side and cross-faded at the seams, so memory stays flat; 0 = the whole "
            "clip at once. JoyVASA's embedded encoder always uses its own 4 s windows.")),
    },
    optional={
        "audio_encoder_output": link("AUDIO_ENCODER_OUTPUT", (
            "Optional: features from the core Audio Encoder Encode node for the same audio, used "
            "instead of running the encoder (must match its width, layers and normalisation).")),
    },
    outputs={"audio_features": "PLAYMATE_AUDIO_FEATURES", "frame_count": "INT", "audio": "AUDIO"},
)
class PlaymateEncodeAudio:
    """Encodes speech with wav2vec2 / HuBERT and resamples the 50 Hz features to the video frame rate (JoyVASA's
    embedded HuBERT: in its released 4 s windows). Also returns the frame count and the audio trimmed or padded to
    exactly that many frames, so video and sound stay in sync downstream."""

    def encode(self, audio, encoder, fps=25.0, layer=-1, chunk_seconds=30.0, audio_encoder_output=None):
        if isinstance(encoder, NoEmbeddedEncoder):
            raise ValueError(f"encoder: {encoder.message}")
        if not isinstance(encoder, AudioEncoder):
            raise TypeError("encoder: expected a PLAYMATE_AUDIO_ENCODER (Load Motion Model's audio_encoder output "
                            f"for JoyVASA, Load Audio Encoder for Playmate models), got {type(encoder).__name__}")
        if audio_encoder_output is not None:
            features = features_from_encoder_output(audio_encoder_output, audio, encoder, fps, layer)
        else:
            with host.models_on_device(encoder):
                features = encode_audio(
                    audio, encoder, fps, layer, chunk_seconds=chunk_seconds or None, progress=host.Progress(1)
                )
        return (features, features.num_frames, fit_audio_to_frames(audio, features.num_frames, fps))


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymateLoadAudioEncoder, PlaymateEncodeAudio)
