"""Motion-model files: our safetensors layout, and detection of what a chosen file really is.

Layout: one .safetensors file; tensors = the model's state_dict (statistics as ``normalizer.*``);
header metadata (strings): ``format`` = "playmate-motion", ``format_version``, ``family``
("playmate" | "joyvasa") and ``config`` (JSON of the family's config dataclass), plus free-form
provenance (``source``, ``trained_steps``...). Loading is strict: every key, every shape.
JoyVASA's released .pt (and its motion_template.pkl) load directly too (see joyvasa_release).
"""

from __future__ import annotations

import json
import os

import torch

from ..checkpoint.io import CheckpointError, load_strict, read_pickled_checkpoint, read_safetensors, write_safetensors
from .models.base import MotionModel
from .models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
from .models.playmate import PlaymateConfig, PlaymateMotionModel
from .normalization import AdaptiveNormalizer, TemplateNormalizer

FORMAT = "playmate-motion"
FORMAT_VERSION = 1

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


def save_motion_model(model: MotionModel, path: str, **provenance) -> None:
    """Write a model in our layout (float32 or the model's dtype, CPU tensors)."""
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "family": model.family,
                "config": json.dumps(model.config.to_dict(), sort_keys=True)}
    metadata.update({k: str(v) for k, v in provenance.items()})
    write_safetensors(path, {k: v.detach().cpu() for k, v in model.state_dict().items()}, metadata)


def build_model(family: str, config: dict) -> MotionModel:
    """An uninitialised model of a family from its config dict (weights come from the file)."""
    if family == "playmate":
        return PlaymateMotionModel(PlaymateConfig.from_dict(config), AdaptiveNormalizer())
    if family == "joyvasa":
        c = JoyVASAConfig.from_dict(config)
        return JoyVASAMotionModel(c, TemplateNormalizer(torch.zeros(63), torch.ones(63), torch.zeros(7), torch.ones(7)))
    raise ValueError(f"unknown motion model family {family!r}; expected 'playmate' or 'joyvasa'")


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
                      positional_encoding: str | None = None) -> MotionModel:
    """Any supported motion-model file -> model in eval mode on device (statistics stay float32).

    positional_encoding: JoyVASA only; None keeps the file's choice ('released' for the .pt).
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: motion model file not found")
    if path.endswith(".safetensors"):
        tensors, metadata = read_safetensors(path)
        if metadata.get("format") != FORMAT:
            raise CheckpointError(describe_foreign(tensors.keys(), path))
        version = int(metadata.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{os.path.basename(path)} uses motion-file format {version}; this pack reads up to "
                             f"{FORMAT_VERSION}: update the pack")
        config = json.loads(metadata["config"])
        if positional_encoding and metadata["family"] == "joyvasa":
            config["positional_encoding"] = positional_encoding
        model = build_model(metadata["family"], config)
        load_strict(model, tensors, path, f"{model.family} motion model")
        if isinstance(model, JoyVASAMotionModel):
            model.check_buffers()
    else:
        model = _load_pickled(path, positional_encoding or "released")
    return to_precision(model.eval(), device, dtype)


def _load_pickled(path: str, positional_encoding: str) -> MotionModel:
    from .joyvasa_release import is_release_checkpoint, model_from_release, release_globals

    data = read_pickled_checkpoint(path, release_globals())
    if is_release_checkpoint(data):
        return model_from_release(path, data, positional_encoding=positional_encoding)[0]
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
