"""Read state dicts safely (safetensors, or .pth with weights_only=True) and write ours.

Every failure raises CheckpointError naming the file and saying what to do; .pth files are
never fully unpickled.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from typing import Any, Iterable

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class CheckpointError(ValueError):
    """A model file that cannot be used: missing, corrupt, unsafe, or of the wrong kind."""


def read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors on CPU, header metadata) of a .safetensors file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({err}). The file is probably truncated or corrupt: "
            "download it again (compare its size with the published one)."
        ) from err
    return tensors, metadata


UNSAFE_PICKLE_WAY_ON = ("Use the .safetensors version of this file, or a copy from a source you trust (plain tensors), "
                        "converted once with the pack's CLI (python -m playmate_core convert-liveportrait / "
                        "convert-joyvasa)")


SAFETENSORS_HEADER_LIMIT = 100 * 1024 * 1024  # the format's own cap on the JSON header


def read_safetensors_metadata(path: str) -> dict[str, str]:
    """The header metadata of a .safetensors file, reading only its header (no tensors).

    Raises OSError or ValueError when the file is not a readable safetensors file."""
    with open(path, "rb") as f:
        size_bytes = f.read(8)
        if len(size_bytes) != 8:
            raise ValueError("shorter than a safetensors header")
        size = int.from_bytes(size_bytes, "little")
        if size > SAFETENSORS_HEADER_LIMIT:
            raise ValueError(f"header size {size} is over the format's limit")
        header = json.loads(f.read(size))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in metadata.items()}


def read_pickled_checkpoint(path: str, allowed_globals: Iterable[Any] = (), what: str = "checkpoint",
                            way_on: str = UNSAFE_PICKLE_WAY_ON) -> Any:
    """torch.load with weights_only=True (plus an explicit allow-list): never a full unpickle.

    what names the file's role in the refusal ("LivePortrait network file"); way_on is the safe next step.
    """
    name = os.path.basename(path)
    try:
        with torch.serialization.safe_globals(list(allowed_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        stored = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"{name}: refused for safety. This {what} is a PyTorch pickle that stores Python objects{stored} "
            f"besides tensors, and loading such a file can run arbitrary code. {way_on}."
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch checkpoint ({str(err).splitlines()[0]}). "
            "The file is probably truncated or corrupt: download it again."
        ) from err


def read_state_dict(path: str, what: str = "checkpoint",
                    way_on: str = UNSAFE_PICKLE_WAY_ON) -> tuple[dict[str, Any], dict[str, str]]:
    """(state dict or nested dict, metadata) of a .safetensors / .pth / .pt / .bin file
    (what, way_on: for a refusal)."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    if path.endswith((".safetensors", ".sft")):
        return read_safetensors(path)
    return read_pickled_checkpoint(path, what=what, way_on=way_on), {}


def write_safetensors(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename); metadata values that are not strings are JSON."""
    from safetensors.torch import save_file

    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def cast_floating(tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Floating tensors to ``dtype``; integer buffers (BatchNorm counters) unchanged."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


def load_strict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], source: str, what: str, assign: bool = False
) -> None:
    """load_state_dict(strict=True) with one readable error listing every key problem.

    ``assign=True`` adopts the given tensors (for modules built on the meta device)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped keys", mis_shaped)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{title}: {shown}")
    if problems:
        raise CheckpointError(f"{source}: does not match the {what} network; " + "; ".join(problems))
    module.load_state_dict(state, strict=True, assign=assign)

