"""Reading wav2vec2 / HuBERT weights in the public Hugging Face layouts, and mapping them to torchaudio names.

Accepted sources: an HF folder (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded
index files too, optional ``preprocessor_config.json``) or a single ``.safetensors`` / ``.bin`` / ``.pt`` /
``.pth`` file. Keys may carry a model prefix (``wav2vec2.`` in Wav2Vec2ForCTC, ``hubert.``,
``audio_encoder.`` in JoyVASA's checkpoint); heads and training-only tensors beside the encoder are
ignored by name (``IGNORED_KEYS``); anything else unexpected, missing or misshapen is an error.

The positional convolution's weight norm comes in two spellings, both mapped here:
``conv.weight_g`` / ``conv.weight_v`` (``torch.nn.utils.weight_norm``, older files) and
``conv.parametrizations.weight.original0`` / ``original1`` (``torch.nn.utils.parametrizations``).
A plain ``conv.weight`` (weight norm already folded in) is accepted as well.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Mapping

import torch

from ..checkpoint.io import CheckpointError, read_pickled_checkpoint, read_safetensors
from ..download import RemoteFile

HF = "https://huggingface.co"
ANCHOR_KEY = "feature_projection.projection.weight"

# Tensors that sit beside the encoder in public files and play no part in its features.
IGNORED_KEYS = (
    "masked_spec_embed",  # SpecAugment mask vector (training only)
    "lm_head.",  # Wav2Vec2ForCTC / HubertForCTC output head
    "quantizer.",  # Wav2Vec2ForPreTraining
    "project_q.",
    "project_hid.",
    "final_proj.",  # HuBERT pre-training heads
    "label_embs_concat",
)

_POS_CONV = "encoder.pos_conv_embed.conv."
_WEIGHT_NORM_G = ("parametrizations.weight.original0", "weight_g")
_WEIGHT_NORM_V = ("parametrizations.weight.original1", "weight_v")

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
SINGLE_FILE_EXTENSIONS = (".safetensors", ".sft", ".bin", ".pt", ".pth")


ENCODER_WAY_ON = ("Use the encoder's model.safetensors (the pack's download fetches it), or re-save the weights of a "
                  "copy you trust as plain tensors")


class EncoderWeightsError(CheckpointError):
    """A file or state dict is not a usable wav2vec2 / HuBERT encoder."""


def _hf_files(repo: str, names: tuple[str, ...]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, f"{HF}/{repo}/resolve/main/{name}") for name in names)


# The public encoders: folder name under models/audio_encoders -> the files of its HF repository we read.
PUBLIC_ENCODERS = {
    "wav2vec2-base-960h": _hf_files(
        "facebook/wav2vec2-base-960h", ("config.json", "preprocessor_config.json", "pytorch_model.bin")
    ),
    "chinese-hubert-base": _hf_files(
        "TencentGameMate/chinese-hubert-base", ("config.json", "preprocessor_config.json", "pytorch_model.bin")
    ),
}


def is_complete_folder(folder: str) -> bool:
    """An HF folder with config.json and one of the weight files."""
    return os.path.isfile(os.path.join(folder, "config.json")) and any(
        os.path.isfile(os.path.join(folder, name)) for name in WEIGHT_FILES
    )


def is_ignored_key(key: str) -> bool:
    return any(key == p or (p.endswith(".") and key.startswith(p)) for p in IGNORED_KEYS)


def find_prefix(keys) -> str:
    """The prefix in front of the HF encoder keys ('' for a bare HubertModel / Wav2Vec2Model)."""
    prefixes = sorted({k[: -len(ANCHOR_KEY)] for k in keys if k.endswith(ANCHOR_KEY)})
    if not prefixes:
        raise EncoderWeightsError(
            f"no wav2vec2/HuBERT encoder weights found (no key ends in {ANCHOR_KEY!r}); "
            "this is not an audio encoder file"
        )
    if len(prefixes) > 1:
        raise EncoderWeightsError(f"several encoders in one state dict (prefixes {prefixes}); pass prefix=")
    return prefixes[0]


def encoder_keys(state_dict: Mapping[str, torch.Tensor], prefix: str | None = None) -> tuple[dict, str]:
    """The encoder's tensors with the prefix removed, and the prefix.

    With ``prefix=None`` the prefix is detected and every key outside it must be a known head
    (``IGNORED_KEYS``); with an explicit prefix, keys outside it are the caller's business.
    """
    auto = prefix is None
    if auto:
        prefix = find_prefix(state_dict.keys())
    out, stray = {}, []
    for key, value in state_dict.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            if not is_ignored_key(rest):
                out[rest] = value
        elif auto and not is_ignored_key(key):
            stray.append(key)
    if stray:
        raise EncoderWeightsError(f"unexpected keys outside the encoder: {_some(stray)}")
    if not out:
        raise EncoderWeightsError(f"no encoder keys under the prefix {prefix!r}")
    return out, prefix


def to_torchaudio_names(hf: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
    """HF-named encoder tensors -> (torchaudio-named tensors, torchaudio name -> HF name).

    Both weight-norm spellings map to torchaudio's parametrization; a folded ``conv.weight`` is split
    into magnitude (norm over all dims but the kernel axis, as ``weight_norm(dim=2)``) and direction.
    """
    out, origin = {}, {}
    for key, value in hf.items():
        if key.startswith(_POS_CONV):
            leaf = key[len(_POS_CONV):]
            base = "encoder.transformer.pos_conv_embed.conv."
            if leaf in _WEIGHT_NORM_G:
                name = base + _WEIGHT_NORM_G[0]
            elif leaf in _WEIGHT_NORM_V:
                name = base + _WEIGHT_NORM_V[0]
            elif leaf == "weight":
                g = torch.linalg.vector_norm(value.float(), dim=(0, 1), keepdim=True).to(value.dtype)
                _put(out, origin, base + _WEIGHT_NORM_G[0], g, key)
                name = base + _WEIGHT_NORM_V[0]
            else:
                name = base + leaf
        elif key.startswith("encoder."):
            name = "encoder.transformer." + key[len("encoder."):]
        elif key.startswith("feature_projection."):
            name = "encoder." + key
        else:
            name = key
        _put(out, origin, name, value, key)
    return out, origin


def _put(out: dict, origin: dict, name: str, value: torch.Tensor, key: str) -> None:
    if name in out:
        raise EncoderWeightsError(f"both {origin[name]!r} and {key!r} give the "
                                  f"tensor {name!r} (two weight-norm spellings?)")
    out[name] = value
    origin[name] = key


def load_strict(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], origin: Mapping[str, str]) -> None:
    """Copy every tensor into ``module``; any missing, unexpected or misshapen key is an error (HF names)."""
    own = module.state_dict()
    missing = [k for k in own if k not in tensors]
    unexpected = [origin.get(k, k) for k in tensors if k not in own]
    wrong = [
        f"{origin.get(k, k)} {tuple(v.shape)} (model expects {tuple(own[k].shape)})"
        for k, v in tensors.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_some([_hf_name(k) for k in missing])}")
    if unexpected:
        problems.append(f"unexpected keys: {_some(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {_some(wrong)}")
    if problems:
        raise EncoderWeightsError("the weights do not fit the encoder architecture; " + "; ".join(problems))
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()}, strict=True)


def _hf_name(torchaudio_key: str) -> str:
    key = torchaudio_key.replace("encoder.transformer.", "encoder.")
    return key[len("encoder."):] if key.startswith("encoder.feature_projection.") else key


def _some(items, n: int = 6) -> str:
    items = list(items)
    more = f" ... ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def read_weights_file(path: str) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or PyTorch (.bin/.pt/.pth, weights_only) file, on the CPU."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".safetensors", ".sft"):
        return read_safetensors(path)[0]
    if ext not in (".bin", ".pt", ".pth", ".ckpt"):
        raise EncoderWeightsError(f"{path}: unsupported weights file type {ext!r} (use .safetensors or .bin)")
    data = read_pickled_checkpoint(path, what="audio-encoder weights file", way_on=ENCODER_WAY_ON)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise EncoderWeightsError(f"{path} does not hold a state dict of tensors")
    return dict(data)


def _read_index(folder: str, index_name: str) -> dict[str, torch.Tensor]:
    with open(os.path.join(folder, index_name), encoding="utf-8") as f:
        weight_map = json.load(f).get("weight_map", {})
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(read_weights_file(os.path.join(folder, shard)))
    return tensors


def read_json(path: str) -> dict | None:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise EncoderWeightsError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise EncoderWeightsError(f"{path} does not hold a JSON object")
    return data


@dataclass
class EncoderSource:
    """What a folder or file provides: HF-named tensors, config.json and preprocessor_config.json (or None)."""

    tensors: dict
    config: dict | None
    preprocessor: dict | None
    name: str


def read_encoder_source(path: str) -> EncoderSource:
    """Read an HF folder or a single weights file.

    A file keeps the config.json beside it only when it has an HF weight-file name (model.safetensors,
    pytorch_model.bin): any other single file describes itself through its shapes.
    """
    if os.path.isdir(path):
        folder = path
        for weights in WEIGHT_FILES:
            if os.path.isfile(os.path.join(folder, weights)):
                break
        else:
            raise EncoderWeightsError(f"{folder} holds none of the weight files {', '.join(WEIGHT_FILES)}")
        if weights.endswith(".index.json"):
            tensors = _read_index(folder, weights)
        else:
            tensors = read_weights_file(os.path.join(folder, weights))
        name = os.path.basename(os.path.normpath(folder))
    elif os.path.isfile(path):
        folder = os.path.dirname(path)
        tensors = read_weights_file(path)
        name = os.path.splitext(os.path.basename(path))[0]
    else:
        raise EncoderWeightsError(f"{path} does not exist")
    config = preprocessor = None
    if os.path.isdir(path) or os.path.basename(path) in WEIGHT_FILES:
        config = read_json(os.path.join(folder, "config.json"))
        preprocessor = read_json(os.path.join(folder, "preprocessor_config.json"))
    if os.path.isdir(path) and config is None:
        raise EncoderWeightsError(f"{path} has no config.json (download it with the weights)")
    if preprocessor is not None and int(preprocessor.get("sampling_rate", 16000)) != 16000:
        raise EncoderWeightsError(f"{path}: preprocessor_config.json sampling_rate must be 16000")
    return EncoderSource(tensors, config, preprocessor, name)
