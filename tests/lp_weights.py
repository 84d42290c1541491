"""Write LivePortrait renderer files in the public layouts for tests.

Two sources of weights: the golden fixture's deterministic full-size weights
(tests/standin_weights.py from tests/fixtures/liveportrait/manifest.json), and seeded random weights
for any RendererConfig (e.g. the tiny one). Both are written exactly as the public files are:
official ``base_models/*.pth`` + ``retargeting_models/stitching_retargeting_module.pth``, or
Kijai's flat ``*.safetensors``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from playmate_core.implicit.checkpoints import NETWORKS, STITCHING_OUTER
from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import build_networks
from standin_weights import liveportrait_namespaces

BASE_NETWORKS = NETWORKS[:4]
OUTER_BY_ROLE = {role: outer for outer, role in STITCHING_OUTER.items()}


def golden_official_states(fixture_dir: Path | None = None) -> dict[str, dict]:
    """Official-key state dicts of the golden weights (seed 0); stitching as {outer: {key: tensor}}.

    Built once per process by tests/standin_weights.py; ``fixture_dir`` is accepted for older callers and unused
    (the manifest is tests/fixtures/liveportrait/manifest.json)."""
    built = liveportrait_namespaces(0)
    states = {name: dict(built[name]) for name in BASE_NETWORKS}
    states["stitching_retargeting_module"] = {outer: dict(built[outer]) for outer in STITCHING_OUTER}
    return states


def random_official_states(cfg: RendererConfig, seed: int = 0) -> dict[str, dict]:
    """Seeded weights for any config in official key names, with non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    networks = build_networks(cfg)
    states = {}
    for name in BASE_NETWORKS:
        state = {k: v.clone() for k, v in networks[name].state_dict().items()}
        for key, value in state.items():
            if key.endswith("running_mean"):
                value.normal_(0.0, 0.05)
            elif key.endswith("running_var"):
                value.uniform_(0.8, 1.2)
        states[name] = state
    stitching = networks["stitching_retargeting_module"].state_dict()
    states["stitching_retargeting_module"] = {
        OUTER_BY_ROLE[role]: {k[len(role) + 1 :]: v.clone() for k, v in stitching.items() if k.startswith(role + ".")}
        for role in ("stitching", "lip", "eye")
    }
    return states


def write_official_layout(states: dict[str, dict], root: Path) -> Path:
    """root/base_models/*.pth + root/retargeting_models/stitching_retargeting_module.pth
    (stitching inner keys with the DDP 'module.' prefix, plus an extra top-level entry the loader
    must ignore). Returns the base_models folder."""
    base = root / "base_models"
    base.mkdir(parents=True, exist_ok=True)
    for name in BASE_NETWORKS:
        torch.save(states[name], base / f"{name}.pth")
    retarget = root / "retargeting_models"
    retarget.mkdir(parents=True, exist_ok=True)
    nested = {outer: {f"module.{k}": v for k, v in inner.items()} for outer, inner in states[NETWORKS[4]].items()}
    nested["epoch"] = torch.tensor(100)
    torch.save(nested, retarget / "stitching_retargeting_module.pth")
    return base


def write_kijai_layout(states: dict[str, dict], folder: Path) -> Path:
    """folder/<network>.safetensors, stitching flattened to '<outer>_module.<key>'."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in BASE_NETWORKS:
        save_file({k: v.contiguous() for k, v in states[name].items()}, os.fspath(folder / f"{name}.safetensors"),
                  metadata={"format": "pt"})
    flat = {f"{outer}_module.{k}": v for outer, inner in states[NETWORKS[4]].items() for k, v in inner.items()}
    save_file(flat, os.fspath(folder / "stitching_retargeting_module.safetensors"), metadata={"format": "pt"})
    return folder


def write_tiny_kijai_set(folder: Path, seed: int = 0) -> Path:
    """A complete tiny renderer set in Kijai's layout (what the downstream node tests use)."""
    return write_kijai_layout(random_official_states(RendererConfig.tiny(), seed), folder)
