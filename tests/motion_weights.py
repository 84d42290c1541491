"""Writers of motion-model files in the public layouts for tests.

JoyVASA's released generator comes from the goldens' deterministic checkpoint builder
(tests/joyvasa_standin.py: the released key layout and args), written the way the release is
(``torch.save({'args', 'model', 'iter'})``), with tests/fixtures/joyvasa/motion_template.pkl beside it.
"""

from __future__ import annotations

import os
import shutil

import torch

import joyvasa_standin
from conftest import fixture_path

JOYVASA_NAME = "motion_generator_hubert_chinese.pt"
LEGACY = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}


def joyvasa_fixture():
    """The goldens' checkpoint builder (module joyvasa_standin: make_state_dict, released_args, ...)."""
    return joyvasa_standin


def rename_legacy(key: str) -> str:
    """HuBERT's positional-conv weight norm in the older weight_g / weight_v spelling."""
    for new, old in LEGACY.items():
        if key.endswith(new):
            return key[: -len(new)] + old
    return key


def write_release(mc, state, folder, spelling="parametrizations", name=JOYVASA_NAME):
    """A released-format generator file (state in the 'parametrizations' or 'legacy' spelling)."""
    if spelling == "legacy":
        state = {rename_legacy(k): v for k, v in state.items()}
    path = os.path.join(folder, name)
    torch.save({"args": mc.released_args(), "model": state, "iter": 20000}, path)
    return path


def write_joyvasa_release(folder) -> str:
    """JoyVASA's two public files (no embedded HuBERT layers: fast to write and load) in ``folder``."""
    mc = joyvasa_fixture()
    os.makedirs(folder, exist_ok=True)
    path = write_release(mc, mc.make_state_dict(hubert_layers=0, wn="parametrizations", seed=0), str(folder))
    shutil.copyfile(fixture_path("joyvasa", "motion_template.pkl"), os.path.join(folder, "motion_template.pkl"))
    return path


def write_playmate_pair(folder, audio_dim: int = 768, audio_encoder: str = "hubert", seed: int = 0):
    """A tiny stage-1 Playmate model and a stage-2 emotion controller for it (non-zero controller weights, as
    after training), under the trainers' default names. Returns (stage-1 path, stage-2 path)."""
    from playmate_core.checkpoint.io import read_safetensors
    from playmate_core.motion.checkpoint import (load_motion_model, save_emotion_controller, save_motion_model,
                                                 stage1_sha256)
    from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel

    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    stage1 = os.path.join(folder, "playmate_motion.safetensors")
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=audio_dim,
                                                                audio_encoder=audio_encoder)), stage1)
    model = load_motion_model(stage1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("emotion_tokens", "emotion_controller.")):
                p.copy_(torch.randn_like(p) * 0.3)
    stage2 = os.path.join(folder, "playmate_emotion.safetensors")
    save_emotion_controller(model, stage2, stage1_sha256(read_safetensors(stage1)[0]), os.path.basename(stage1))
    return stage1, stage2
