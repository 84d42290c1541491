"""LivePortrait checkpoint layouts: find a set of files, read it, build the networks strictly.

Layouts accepted (detected automatically):
- official (KwaiVGI/LivePortrait): ``base_models/<network>.pth`` and
  ``retargeting_models/stitching_retargeting_module.pth`` (a dict retarget_shoulder /
  retarget_mouth / retarget_eye, inner keys possibly prefixed ``module.``; other entries ignored);
- Kijai's conversion (Kijai/LivePortrait_safetensors): ``<network>.safetensors`` side by side,
  stitching flattened to ``<outer>_module.<key>``;
- ours: one ``.safetensors`` holding all five networks under ``<network>.`` prefixes with the
  config and provenance in its metadata (written by ``convert_renderer``).

Hyper-parameters are always read back from the tensor shapes (config_inference), so every size
of the networks loads strictly and a stored config can never disagree with the weights.

Species. LivePortrait's animal networks have the human architecture and shapes, so nothing in the
tensors tells them apart: a set is "animal" when its four base networks sit in an animal folder
(Kijai's ``animal/``, the official ``liveportrait_animals/base_models[_v1.1]/``) or our single file
says so in its metadata (``species``, written by ``convert_renderer``); otherwise "human". An animal
set takes the human stitching module when one is found beside it (Kijai: ``../``; official:
``../../liveportrait/retargeting_models/``), as the official animal configs do ("use human
temporarily"); the loader node and CLI can also name the species explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..checkpoint.io import CheckpointError, cast_floating, read_state_dict, write_safetensors
from . import config_inference as infer
from .config import RendererConfig

LIVEPORTRAIT_WAY_ON = ("Use the .safetensors files (Kijai's conversion, which the pack "
                       "downloads), or the official .pth set from a source you trust (plain "
                       "tensors), converted once with python -m playmate_core convert-liveportrait")
NETWORKS = (
    "appearance_feature_extractor",
    "motion_extractor",
    "warping_module",
    "spade_generator",
    "stitching_retargeting_module",
)
STITCHING_OUTER = {"retarget_shoulder": "stitching", "retarget_mouth": "lip", "retarget_eye": "eye"}
SPECIES = ("human", "animal")
ANIMAL_FOLDERS = ("animal", "animals")
ANIMAL_ROOT_PREFIX = "liveportrait_animal"  # the official liveportrait_animals/
OUR_FORMAT = "playmate-liveportrait"
FORMAT_VERSION = "1"

# a key that only the named network's file has (in our key names)
SIGNATURES = {
    "appearance_feature_extractor": "resblocks_3d.3dr0.conv1.weight",
    "motion_extractor": "detector.fc_kp.weight",
    "warping_module": "dense_motion_network.mask.weight",
    "spade_generator": "G_middle_0.conv_0.weight_orig",
    "stitching_retargeting_module": "stitching.mlp.0.weight",
}


@dataclass(frozen=True)
class RendererFiles:
    """Where each network of one set comes from (the same path five times for our single file)."""

    paths: dict[str, str]
    layout: str  # "official" | "kijai" | "playmate"


def find_renderer_files(path: str) -> RendererFiles:
    """Locate the five files of a set from any one of them, a folder, or our single file."""
    if os.path.isdir(path):
        folder = path
    elif os.path.isfile(path):
        if os.path.basename(path).split(".")[0] not in NETWORKS:
            return RendererFiles({name: path for name in NETWORKS}, "playmate")
        folder = os.path.dirname(path)
    else:
        raise CheckpointError(f"{path}: no such file or folder")
    candidates = {
        "kijai": {n: os.path.join(folder, f"{n}.safetensors") for n in NETWORKS},
        "official": {n: os.path.join(folder, f"{n}.pth") for n in NETWORKS[:4]}
        | {NETWORKS[4]: _official_stitching_path(folder)},
    }
    if is_animal_folder(folder):
        candidates["kijai"][NETWORKS[4]] = _human_stitching(candidates["kijai"][NETWORKS[4]], "..")
        candidates["official"][NETWORKS[4]] = _human_stitching(
            candidates["official"][NETWORKS[4]], "..", "..", "liveportrait", "retargeting_models")
    for layout, paths in candidates.items():
        if os.path.isfile(paths[NETWORKS[0]]):
            missing = [p for p in paths.values() if not os.path.isfile(p)]
            if missing:
                raise CheckpointError(
                    f"incomplete LivePortrait set in {folder} ({layout} layout): missing " + ", ".join(missing)
                )
            return RendererFiles(paths, layout)
    raise CheckpointError(
        f"{folder}: no LivePortrait set found (expected appearance_feature_extractor.safetensors and the "
        "four other Kijai/LivePortrait_safetensors files, or the official base_models/*.pth files)"
    )


def _official_stitching_path(folder: str) -> str:
    beside = os.path.join(folder, "stitching_retargeting_module.pth")
    if os.path.isfile(beside):
        return beside
    return os.path.join(os.path.dirname(folder), "retargeting_models", "stitching_retargeting_module.pth")


def check_species(species: str) -> str:
    if species not in SPECIES:
        raise ValueError(f"species must be auto, {' or '.join(SPECIES)}, got {species!r}")
    return species


def _human_stitching(own: str, *up: str) -> str:
    """The human stitching file at os.path.join(dirname(own), *up, basename(own)) when it exists, else own."""
    human = os.path.normpath(os.path.join(os.path.dirname(own), *up, os.path.basename(own)))
    return human if os.path.isfile(human) else own


def is_animal_folder(folder: str) -> bool:
    """Kijai's animal/ sub-folder, or the official liveportrait_animals/[base_models*/] folder."""
    parts = os.path.normpath(os.path.abspath(folder)).lower().split(os.sep)
    name, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    if name.startswith("base_models"):
        return parent.startswith(ANIMAL_ROOT_PREFIX)
    return name in ANIMAL_FOLDERS or name.startswith(ANIMAL_ROOT_PREFIX)


def detect_species(files: RendererFiles) -> str:
    """"animal" or "human" from where the four base networks are (or our single file's metadata)."""
    kinds = set()
    for name in NETWORKS[:4]:
        path = files.paths[name]
        stored = _stored_species(path)
        kinds.add(stored if stored else ("animal" if is_animal_folder(os.path.dirname(path)) else "human"))
    if len(kinds) > 1:
        listing = ", ".join(files.paths[n] for n in NETWORKS[:4])
        raise CheckpointError(
            f"the four base networks mix the animal and the human LivePortrait sets ({listing}): pick all four from "
            "one folder, or set species (human / animal) to say which set they are"
        )
    return kinds.pop()


def _stored_species(path: str) -> str | None:
    """The species recorded in our single file's metadata (None for other files)."""
    if not path.endswith(".safetensors") or not os.path.isfile(path):
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError):
        return None  # the loader reports what is wrong with the file
    species = meta.get("species") if meta.get("playmate_format") == OUR_FORMAT else None
    return species if species in SPECIES else None


def _strip_module_prefix(state: dict) -> dict[str, torch.Tensor]:
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state.items()}


def _stitching_state(raw: dict, path: str) -> dict[str, torch.Tensor]:
    """Official nested dict or Kijai flat keys -> our keys ('stitching.mlp.0.weight', ...)."""
    out: dict[str, torch.Tensor] = {}
    for outer, ours in STITCHING_OUTER.items():
        if isinstance(raw.get(outer), dict):
            inner = _strip_module_prefix(raw[outer])
        else:
            prefix = f"{outer}_module."
            inner = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
        if not inner:
            raise CheckpointError(
                f"{path}: not a stitching_retargeting_module file (no '{outer}' weights); "
                "choose stitching_retargeting_module.safetensors/.pth for this slot"
            )
        out.update({f"{ours}.{k}": v for k, v in inner.items() if torch.is_tensor(v)})
    return out


def _network_state(name: str, raw: dict, path: str) -> dict[str, torch.Tensor]:
    """Our key names for one network from one file's contents, checking the file's kind."""
    if name == "stitching_retargeting_module":
        return _stitching_state(raw, path)
    state = {k: v for k, v in _strip_module_prefix(raw).items() if torch.is_tensor(v)}
    if SIGNATURES[name] not in state:
        found = [n for n, key in SIGNATURES.items() if key in state]
        stitch = any(k in raw for k in STITCHING_OUTER) or any(k.startswith("retarget_") for k in raw)
        actual = found[0] if found else ("stitching_retargeting_module" if stitch else None)
        hint = f"it looks like a {actual} file" if actual else "it is not a LivePortrait network file"
        raise CheckpointError(f"{path}: expected the {name} network, but {hint}")
    return state


def read_renderer_states(files: RendererFiles) -> dict[str, dict[str, torch.Tensor]]:
    """Per-network state dicts in our key names. Each network may come from a file of any layout;
    a file is read once even when it serves several networks (our single file)."""
    contents: dict[str, tuple[dict, dict]] = {}
    states = {}
    for name, path in files.paths.items():
        if path not in contents:
            contents[path] = read_state_dict(path, "LivePortrait network file", LIVEPORTRAIT_WAY_ON)
        raw, meta = contents[path]
        if not isinstance(raw, dict):
            raise CheckpointError(f"{path}: expected a state dict, found a {type(raw).__name__}")
        if meta.get("playmate_format") == OUR_FORMAT:
            states[name] = {k[len(name) + 1 :]: v for k, v in raw.items() if k.startswith(name + ".")}
            if not states[name]:
                raise CheckpointError(f"{path}: this Playmate renderer file holds no {name} network")
        else:
            states[name] = _network_state(name, raw, path)
    return states


def infer_renderer_config(states: dict[str, dict[str, torch.Tensor]], files: RendererFiles) -> RendererConfig:
    readers = {
        "appearance_feature_extractor": infer.appearance_config,
        "motion_extractor": infer.motion_extractor_config,
        "warping_module": infer.warping_config,
        "spade_generator": infer.spade_config,
        "stitching_retargeting_module": infer.stitching_config,
    }
    parts = {}
    for name, read in readers.items():
        try:
            parts[name] = read(states[name])
        except (KeyError, IndexError, ZeroDivisionError) as err:
            raise CheckpointError(f"{files.paths[name]}: the {name} weights are incomplete (missing {err})") from err
    return RendererConfig(
        appearance=parts["appearance_feature_extractor"],
        motion=parts["motion_extractor"],
        warping=parts["warping_module"],
        spade=parts["spade_generator"],
        stitching=parts["stitching_retargeting_module"],
    )


def convert_renderer(source: str, out_path: str, dtype: torch.dtype = torch.float32,
                     species: str = "auto") -> RendererFiles:
    """Write any accepted set as our single safetensors file (config, species and provenance in metadata).
    species "auto": detect_species of the source set."""
    files = find_renderer_files(source)
    species = detect_species(files) if species == "auto" else check_species(species)
    states = read_renderer_states(files)
    cfg = infer_renderer_config(states, files)
    tensors = {f"{n}.{k}": v for n, state in states.items() for k, v in state.items()}
    metadata = {
        "format": "pt",
        "playmate_format": OUR_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "source_layout": files.layout,
        "species": species,
        "source_files": sorted({os.path.basename(p) for p in files.paths.values()}),
        "dtype": str(dtype).replace("torch.", ""),
    }
    write_safetensors(out_path, cast_floating(tensors, dtype), metadata)
    return files
