"""Motion-model files: our safetensors layout, and detection of what a chosen file really is.

Layout: one .safetensors file; tensors = the model's state_dict (statistics as ``normalizer.*``);
header metadata (strings): ``format`` = "playmate-motion", ``format_version``, ``family``
("playmate" | "joyvasa") and ``config`` (JSON of the family's config dataclass), plus free-form
provenance (``source``, ``trained_steps``...). Loading is strict: every key, every shape.
JoyVASA's released .pt (and its motion_template.pkl) load directly too (see joyvasa_release). A JoyVASA
.safetensors may also hold the embedded HuBERT under ``audio_encoder.*`` (convert-joyvasa writes it).

Stage-2 emotion files: ``format`` = "playmate-emotion"; tensors = ONLY the emotion controller
(``emotion_tokens``, ``emotion_controller.*``); ``stage1_sha256`` = :func:`stage1_sha256` of the stage-1
file's tensors it was trained on, ``stage1_name`` = that file's name. They load on top of that stage-1 file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import torch

from ..checkpoint.io import CheckpointError, load_strict, read_pickled_checkpoint, read_safetensors, write_safetensors
from ..config import ConfigError
from .models.base import MotionModel
from .models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
from .models.playmate import PlaymateConfig, PlaymateMotionModel
from .normalization import AdaptiveNormalizer, TemplateNormalizer

FORMAT = "playmate-motion"
FORMAT_VERSION = 1
EMOTION_FORMAT = "playmate-emotion"
EMOTION_FORMAT_VERSION = 1
EMOTION_PREFIXES = ("emotion_tokens", "emotion_controller.")

# (key prefix, what the file is, where it belongs) for files chosen in the wrong slot
FOREIGN_SIGNATURES = (
    ("first.conv.", "a LivePortrait appearance feature extractor", "models/liveportrait"),
    ("detector.", "a LivePortrait motion extractor", "models/liveportrait"),
    ("dense_motion_network.", "a LivePortrait warping module", "models/liveportrait"),
    ("G_middle_0.", "a LivePortrait SPADE generator", "models/liveportrait"),
    ("retarget_", "a LivePortrait stitching/retargeting module", "models/liveportrait"),
    ("feature_extractor.conv_layers.", "an audio encoder (wav2vec2/HuBERT)", "models/audio_encoders"),
    ("wav2vec2.", "an audio encoder (wav2vec2)", "models/audio_encoders"),
    ("hubert.", "an audio encoder (HuBERT)", "models/audio_encoders"),
)


def save_motion_model(model: MotionModel, path: str, audio_encoder: dict | None = None, **provenance) -> None:
    """Write a model in our layout (float32 or the model's dtype, CPU tensors). audio_encoder: JoyVASA's embedded
    HuBERT (HF keys), stored under ``audio_encoder.*`` as in the release."""
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "family": model.family,
                "config": json.dumps(model.config.to_dict(), sort_keys=True)}
    metadata.update({k: str(v) for k, v in provenance.items()})
    tensors = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tensors.update({"audio_encoder." + k: v.detach().cpu() for k, v in (audio_encoder or {}).items()})
    write_safetensors(path, tensors, metadata)


def is_emotion_key(key: str) -> bool:
    return key.startswith(EMOTION_PREFIXES)


def stage1_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Hex sha256 of a Playmate state dict without its emotion controller: key, dtype, shape and bytes of every
    tensor in key order (so it names the stage-1 weights whatever the file's metadata or tensor order)."""
    digest = hashlib.sha256()
    for key in sorted(k for k in tensors if not is_emotion_key(k)):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def save_emotion_controller(model: PlaymateMotionModel, path: str, stage1_hash: str, stage1_name: str,
                            **provenance) -> None:
    """Write only the emotion controller of a stage-2 model, naming the stage-1 file it extends."""
    tensors = {k: v.detach().cpu() for k, v in model.state_dict().items() if is_emotion_key(k)}
    if not tensors:
        raise ValueError("this motion model has no emotion controller (emotion_blocks = 0): nothing to save")
    metadata = {"format": EMOTION_FORMAT, "format_version": str(EMOTION_FORMAT_VERSION), "family": model.family,
                "stage1_sha256": stage1_hash, "stage1_name": stage1_name,
                "config": json.dumps(model.config.to_dict(), sort_keys=True)}
    metadata.update({k: str(v) for k, v in provenance.items()})
    write_safetensors(path, tensors, metadata)


def attach_emotion_controller(model: MotionModel, stage1_tensors: dict[str, torch.Tensor], stage1_path: str,
                              emotion_path: str) -> None:
    """Load a stage-2 file's controller into a stage-1 Playmate model (strict) and enable emotion conditions."""
    stage1_file, emotion_file = os.path.basename(stage1_path), os.path.basename(emotion_path)
    if not os.path.isfile(emotion_path):
        raise CheckpointError(f"{emotion_path}: emotion model file not found")
    tensors, metadata = read_safetensors(emotion_path) if emotion_path.endswith(".safetensors") else ({}, {})
    if metadata.get("format") != EMOTION_FORMAT:
        raise CheckpointError(f"{emotion_file} is not a stage-2 emotion controller (no '{EMOTION_FORMAT}' metadata): "
                              "emotion_model takes the file written by `train stage2`; choose stage-1 models in "
                              "model_name")
    if int(metadata.get("format_version", "0")) > EMOTION_FORMAT_VERSION:
        raise CheckpointError(f"{emotion_file} uses emotion-file format {metadata['format_version']}; this pack reads "
                              f"up to {EMOTION_FORMAT_VERSION}: update the pack")
    if not isinstance(model, PlaymateMotionModel) or not model.config.emotion_blocks:
        raise CheckpointError(f"{emotion_file} is an emotion controller for Playmate stage-1 models, but {stage1_file} "
                              f"is a {model.family} model without one: choose its stage-1 file "
                              f"{metadata.get('stage1_name', '')!r} in model_name")
    if metadata.get("stage1_sha256") != stage1_sha256(stage1_tensors):
        raise CheckpointError(f"{emotion_file} was trained on the stage-1 model {metadata.get('stage1_name')!r}, "
                              f"not on {stage1_file} (their stage-1 weights differ): choose the stage-1 file it "
                              "was trained with in model_name, or train stage 2 again on this one")
    holder = torch.nn.Module()
    holder.emotion_tokens = model.emotion_tokens
    holder.emotion_controller = model.emotion_controller
    load_strict(holder, tensors, emotion_path, "emotion controller")
    model.config = dataclasses.replace(model.config, emotion_trained=True)
    model.supports_emotion = True


def build_model(family: str, config: dict, source: str = "config") -> MotionModel:
    """An uninitialised model of a family from its config dict (weights come from the file named ``source``)."""
    if family not in ("playmate", "joyvasa"):
        raise ValueError(f"unknown motion model family {family!r}; expected 'playmate' or 'joyvasa'")
    kind = PlaymateConfig if family == "playmate" else JoyVASAConfig
    try:
        c = kind.from_dict(config, f"{source} (its {family} config)")
    except ConfigError as err:
        raise CheckpointError(f"{err} (a file from a newer version of the pack? update the pack)") from None
    if family == "playmate":
        return PlaymateMotionModel(c, AdaptiveNormalizer())
    return JoyVASAMotionModel(c, TemplateNormalizer(torch.zeros(63), torch.ones(63), torch.zeros(7), torch.ones(7)))


def describe_foreign(keys, path: str) -> str:
    """A message saying what a non-motion file looks like and which loader it belongs to."""
    for prefix, what, folder in FOREIGN_SIGNATURES:
        if any(str(k).startswith(prefix) for k in keys):
            return (f"{os.path.basename(path)} looks like {what}, not a motion model: choose it in the matching loader "
                    f"(it belongs in {folder}); a motion model is a Playmate .safetensors or JoyVASA's "
                    f"motion_generator_hubert_chinese.pt")
    return (f"{os.path.basename(path)} is not a motion model this pack knows (no '{FORMAT}' metadata and no JoyVASA "
            f"generator keys)")


def load_motion_model(path: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                      positional_encoding: str | None = None, emotion_path: str | None = None) -> MotionModel:
    """Any supported motion-model file -> model in eval mode on device (statistics stay float32).

    positional_encoding: JoyVASA only; None keeps the file's choice ('released' for the .pt).
    emotion_path: a stage-2 emotion controller trained on this stage-1 file (checked by hash).
    """
    return load_motion_files(path, device, dtype, positional_encoding, emotion_path, with_audio_encoder=False)[0]


def load_motion_files(path: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                      positional_encoding: str | None = None, emotion_path: str | None = None,
                      with_audio_encoder: bool = True):
    """Like load_motion_model, plus the audio encoder the file carries: -> (model, AudioEncoder or None).

    JoyVASA files carry their fine-tuned HuBERT (``audio_encoder.*``: the released .pt, and .safetensors written by
    convert-joyvasa); it comes back with the release windowing, in dtype on device. Playmate files carry none.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: motion model file not found")
    hubert: dict = {}
    if path.endswith(".safetensors"):
        tensors, metadata = read_safetensors(path)
        if metadata.get("format") == EMOTION_FORMAT:
            raise CheckpointError(f"{os.path.basename(path)} is a stage-2 emotion controller, not a motion model: "
                                  f"choose it in emotion_model, and its stage-1 file "
                                  f"{metadata.get('stage1_name', '')!r} in model_name")
        if metadata.get("format") != FORMAT:
            raise CheckpointError(describe_foreign(tensors.keys(), path))
        version = int(metadata.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{os.path.basename(path)} uses motion-file format {version}; this pack reads up to "
                             f"{FORMAT_VERSION}: update the pack")
        config = json.loads(metadata["config"])
        if positional_encoding and metadata["family"] == "joyvasa":
            config["positional_encoding"] = positional_encoding
        model = build_model(metadata["family"], config, os.path.basename(path))
        if metadata["family"] == "joyvasa":
            from .joyvasa_release import split_audio_encoder

            tensors, hubert = split_audio_encoder(tensors)
        load_strict(model, tensors, path, f"{model.family} motion model")
        if isinstance(model, JoyVASAMotionModel):
            model.check_buffers()
    else:
        (model, hubert), tensors = _load_pickled(path, positional_encoding or "released"), {}
    if emotion_path:
        attach_emotion_controller(model, tensors, path, emotion_path)
    model.file_name = os.path.basename(path)
    encoder = None
    if with_audio_encoder and hubert:
        from .joyvasa_audio import embedded_encoder

        encoder = embedded_encoder(hubert, dtype, f"{model.file_name}'s embedded HuBERT").to(device)
    return to_precision(model.eval(), device, dtype), encoder


def _load_pickled(path: str, positional_encoding: str):
    """A released JoyVASA .pt -> (model, its HuBERT state dict)."""
    from .joyvasa_release import JOYVASA_WAY_ON, is_release_checkpoint, model_from_release, release_globals

    data = read_pickled_checkpoint(path, release_globals(), "motion model", JOYVASA_WAY_ON)
    if is_release_checkpoint(data):
        model, hubert, _ = model_from_release(path, data, positional_encoding=positional_encoding,
                                              keep_audio_encoder=True)
        return model, hubert
    keys = list(data) if isinstance(data, dict) else []
    nested = [f"{outer}_{k}" for outer, inner in data.items() if isinstance(inner, dict) for k in inner] if keys else []
    raise CheckpointError(describe_foreign(keys + nested, path))


def to_precision(model: MotionModel, device, dtype: torch.dtype) -> MotionModel:
    """Move to device and dtype; statistics and schedule buffers stay exact float32 (bf16 would round a
    scale of 1.55 to 1.547)."""
    keep = {name: {k: v.detach().clone().float() for k, v in getattr(model, name).state_dict().items()}
            for name in model.float32_modules}
    model.to(device=device, dtype=dtype)
    for name, state in keep.items():
        module = getattr(model, name).float()
        module.load_state_dict(state)
    return model
