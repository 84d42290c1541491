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
from safetensors import safe_open
from safetensors.torch import save_file

from .models.base import MotionModel
from .models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
from .models.playmate import PlaymateConfig, PlaymateMotionModel
from .normalization import AdaptiveNormalizer, TemplateNormalizer

FORMAT = "playmate-motion"
FORMAT_VERSION = 1
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

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
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata=metadata)


def build_model(family: str, config: dict) -> MotionModel:
    """An uninitialised model of a family from its config dict (weights come from the file)."""
    if family == "playmate":
        return PlaymateMotionModel(PlaymateConfig.from_dict(config), AdaptiveNormalizer())
    if family == "joyvasa":
        c = JoyVASAConfig.from_dict(config)
        return JoyVASAMotionModel(c, TemplateNormalizer(torch.zeros(63), torch.ones(63), torch.zeros(7), torch.ones(7)))
    raise ValueError(f"unknown motion model family {family!r}; expected 'playmate' or 'joyvasa'")


def load_strict(model: torch.nn.Module, tensors: dict, path: str) -> None:
    """load_state_dict(strict) with one error listing missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshaped = sorted(f"{k} {tuple(tensors[k].shape)} (expected {tuple(expected[k].shape)})"
                       for k in set(expected) & set(tensors) if tuple(tensors[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or misshaped:
        def head(items):
            return ", ".join(items[:8]) + (f" and {len(items) - 8} more" if len(items) > 8 else "")
        lines = [f"{os.path.basename(path)} does not fit the {getattr(model, 'family', '')} motion model it describes:"]
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped)):
            if items:
                lines.append(f"  {label} ({len(items)}): {head(items)}")
        raise ValueError("\n".join(lines))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)


def describe_foreign(keys, path: str) -> str:
    """A message saying what a non-motion file looks like and which loader it belongs to."""
    for prefix, what, folder in FOREIGN_SIGNATURES:
        if any(str(k).startswith(prefix) for k in keys):
            return (f"{os.path.basename(path)} looks like {what}, not a motion model: choose it in the matching loader "
                    f"(it belongs in {folder}); a motion model is a Playmate .safetensors or JoyVASA's "
                    f"motion_generator_hubert_chinese.pt")
    return (f"{os.path.basename(path)} is not a motion model this pack knows (no '{FORMAT}' metadata and no JoyVASA "
            f"generator keys)")


def read_safetensors(path: str) -> tuple[dict, dict]:
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return metadata, tensors


def load_motion_model(path: str, device: torch.device | str = "cpu", precision: str = "fp32",
                      positional_encoding: str | None = None) -> MotionModel:
    """Any supported motion-model file -> model in eval mode on device (statistics stay float32).

    positional_encoding: JoyVASA only; None keeps the file's choice ('released' for the .pt).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"motion model file not found: {path}")
    if path.endswith(".safetensors"):
        metadata, tensors = read_safetensors(path)
        if metadata.get("format") != FORMAT:
            raise ValueError(describe_foreign(tensors.keys(), path))
        version = int(metadata.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise ValueError(f"{os.path.basename(path)} uses motion-file format {version}; this pack reads up to "
                             f"{FORMAT_VERSION}: update the pack")
        config = json.loads(metadata["config"])
        if positional_encoding and metadata["family"] == "joyvasa":
            config["positional_encoding"] = positional_encoding
        model = build_model(metadata["family"], config)
        load_strict(model, tensors, path)
        if isinstance(model, JoyVASAMotionModel):
            model.check_buffers()
    else:
        model = _load_pickled(path, positional_encoding or "released")
    return to_precision(model.eval(), device, PRECISIONS[precision])


def _load_pickled(path: str, positional_encoding: str) -> MotionModel:
    from .joyvasa_release import model_from_release

    try:
        model, _, _ = model_from_release(path, positional_encoding=positional_encoding)
        return model
    except ValueError as err:
        if "is not a JoyVASA" not in str(err) and "expected a dict" not in str(err):
            raise
    try:
        with torch.serialization.safe_globals([]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure here means "not something we read"
        raise ValueError(f"{os.path.basename(path)} is not a motion model this pack can read safely ({err})") from err
    keys = list(data) if isinstance(data, dict) else []
    nested = [f"{outer}_{k}" for outer, inner in data.items() if isinstance(inner, dict) for k in inner] if keys else []
    raise ValueError(describe_foreign(keys + nested, path))


def to_precision(model: MotionModel, device, dtype: torch.dtype) -> MotionModel:
    """Move to device and dtype; the motion statistics stay float32 (bf16 would round a scale of 1.55 by 0.3%)."""
    model.to(device=device, dtype=dtype)
    model.normalizer.float()
    return model
