"""JoyVASA's released files: motion_generator_hubert_chinese.pt and motion_template.pkl, read safely.

The generator is ``torch.save({'args': argparse.Namespace, 'model': state_dict, 'iter': int})``. It is
read with ``weights_only=True`` and an allow-list of exactly the globals such a file needs
(argparse.Namespace, pathlib.PosixPath read as PurePosixPath so it works on Windows too); anything
else in the pickle is refused. The template is a pickle of numpy arrays, read with an unpickler that
only rebuilds numpy arrays. The state dict embeds the fine-tuned HuBERT under ``audio_encoder.*``; its
positional-conv weight norm comes in two spellings (``weight_g/weight_v`` and
``parametrizations.weight.original0/1``), both accepted and normalised to ``weight_g/weight_v``.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import pickle

import numpy as np

from ..checkpoint.io import CheckpointError, load_strict, read_pickled_checkpoint
from .models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
from .normalization import TemplateNormalizer

AUDIO_PREFIX = "audio_encoder."
POS_CONV = "encoder.pos_conv_embed.conv."
WEIGHT_NORM_SPELLINGS = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}
DROPPED_KEYS = ("denoising_net.TE.pe",)  # rebuilt from the schedule length, as the official loader does
TEMPLATE_POSE_PARTS = ("scale", "t", "pitch", "yaw", "roll")
TEMPLATE_FILE = "motion_template.pkl"

JOYVASA_WAY_ON = ("JoyVASA's released generator holds nothing more: get it again from "
                  "huggingface.co/jdh-algo/JoyVASA, and convert it once with python -m playmate_core convert-joyvasa "
                  "to load a .safetensors from then on")


def release_globals():
    """The only globals a released generator's pickle may name (read with weights_only=True)."""
    return [argparse.Namespace, (pathlib.PurePosixPath, "pathlib.PosixPath"),
            (pathlib.PureWindowsPath, "pathlib.WindowsPath")]


def is_release_checkpoint(data) -> bool:
    return (isinstance(data, dict) and "args" in data and isinstance(data.get("model"), dict)
            and any(str(k).startswith("denoising_net.") for k in data["model"]))


def read_release_checkpoint(path: str) -> dict:
    """{'args': dict, 'model': state_dict, 'iter': int} without running arbitrary pickle code."""
    data = read_pickled_checkpoint(path, release_globals(), "motion model", JOYVASA_WAY_ON)
    if not is_release_checkpoint(data):
        raise CheckpointError(f"{path}: not a JoyVASA motion generator (expected 'args' and a 'model' state dict "
                              "with denoising_net.* keys)")
    return data


def _args_dict(args) -> dict:
    return dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a motion template")


def read_template(path: str) -> dict[str, np.ndarray]:
    """motion_template.pkl -> {name: float32 array}; only numpy arrays are rebuilt."""
    with open(path, "rb") as f:
        try:
            data = _NumpyOnlyUnpickler(io.BytesIO(f.read())).load()
        except pickle.UnpicklingError as err:
            raise ValueError(f"{os.path.basename(path)} is not a plain motion template: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{os.path.basename(path)} is not a motion template (expected a dict of arrays)")
    return {str(k): np.asarray(v, dtype=np.float32) for k, v in data.items()}


def find_template(checkpoint_path: str) -> str:
    """The template next to the generator, in ../motion_template/ (the released repository layout), or
    in the same folder under any name starting with 'motion_template'."""
    folder = os.path.dirname(os.path.abspath(checkpoint_path))
    candidates = [os.path.join(folder, TEMPLATE_FILE),
                  os.path.join(folder, os.pardir, "motion_template", TEMPLATE_FILE)]
    candidates += sorted(os.path.join(folder, n) for n in os.listdir(folder)
                         if n.startswith("motion_template") and n.endswith(".pkl"))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    raise FileNotFoundError(f"JoyVASA needs its motion statistics: put {TEMPLATE_FILE} "
                            "(from huggingface.co/jdh-algo/JoyVASA, motion_template/) "
                            f"next to {os.path.basename(checkpoint_path)} in {folder}")


def normalizer_from_template(template: dict[str, np.ndarray]) -> TemplateNormalizer:
    needed = ["mean_exp", "std_exp"] + [f"{s}_{p}" for s in ("min", "max") for p in TEMPLATE_POSE_PARTS]
    missing = [k for k in needed if k not in template]
    if missing:
        raise ValueError(f"the motion template lacks {missing}")
    pose = {s: np.concatenate([template[f"{s}_{p}"].reshape(-1) for p in TEMPLATE_POSE_PARTS]) for s in ("min", "max")}
    return TemplateNormalizer(template["mean_exp"], template["std_exp"], pose["min"], pose["max"])


def split_audio_encoder(state_dict: dict) -> tuple[dict, dict]:
    """-> (motion-generator tensors, HuBERT tensors in HF HubertModel keys with weight_g/weight_v)."""
    generator, hubert = {}, {}
    for key, value in state_dict.items():
        if not key.startswith(AUDIO_PREFIX):
            if key not in DROPPED_KEYS:
                generator[key] = value
            continue
        name = key[len(AUDIO_PREFIX):]
        if name.startswith(POS_CONV):
            leaf = name[len(POS_CONV):]
            name = POS_CONV + WEIGHT_NORM_SPELLINGS.get(leaf, leaf)
        if name in hubert:
            raise ValueError(f"the checkpoint holds the HuBERT positional-conv weights in both spellings ({key})")
        hubert[name] = value
    if hubert:
        missing = [POS_CONV + k for k in ("weight_g", "weight_v") if POS_CONV + k not in hubert]
        if missing:
            raise ValueError(f"the embedded HuBERT lacks {missing} (in either "
                             "weight-norm spelling); the file is incomplete")
    return generator, hubert


def config_from_release(args: dict, generator: dict, positional_encoding: str = "released") -> JoyVASAConfig:
    """Architecture from the file's args (the values the official loader reads) and tensor shapes."""
    if int(args.get("motion_feat_dim") or 70) != 70:
        raise ValueError(f"this JoyVASA file generates {args.get('motion_feat_dim')}-d "
                         "motion; only the 70-d layout is supported")
    layer_ids = {int(k.split(".")[3]) for k in generator if k.startswith("denoising_net.transformer.layers.")}
    if "audio_feature_map.weight" not in generator or not layer_ids:
        raise ValueError("the JoyVASA state dict lacks audio_feature_map / denoising_net.transformer layers")
    audio_dim = int(generator["audio_feature_map.weight"].shape[1])
    return JoyVASAConfig(
        window=int(args.get("n_motions") or 100), num_prev=int(args.get("n_prev_motions") or 25),
        dim=int(args.get("feature_dim") or 256), layers=len(layer_ids), train_steps=int(args.get("n_diff_steps") or 50),
        audio_dim=audio_dim, audio_model=str(args.get("audio_model") or "hubert_zh"), fps=float(args.get("fps") or 25),
        pe_rows=int(generator["denoising_net.PE.pe"].shape[1]), positional_encoding=positional_encoding,
    )


def model_from_release(checkpoint_path: str, data: dict | None = None, template_path: str | None = None,
                       positional_encoding: str = "released", keep_audio_encoder: bool = False):
    """Released files -> (JoyVASAMotionModel on CPU in float32, HuBERT state dict or None, args dict).
    data: the already-read checkpoint (read_release_checkpoint), to avoid reading it twice."""
    data = data if data is not None else read_release_checkpoint(checkpoint_path)
    template = read_template(template_path or find_template(checkpoint_path))
    args = _args_dict(data["args"])
    model, hubert = model_from_release_state(args, data["model"], template, positional_encoding, checkpoint_path)
    return model, (hubert if keep_audio_encoder else None), args


def model_from_release_state(args: dict, state_dict: dict, template: dict, positional_encoding: str = "released",
                             name: str = "checkpoint"):
    """A released state dict + template -> (JoyVASAMotionModel, HuBERT state dict)."""
    generator, hubert = split_audio_encoder(state_dict)
    config = config_from_release(args, generator, positional_encoding)
    model = JoyVASAMotionModel(config, normalizer_from_template(template))
    tensors = dict(generator)
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    load_strict(model, tensors, name, "JoyVASA motion model")
    model.check_buffers()
    return model.eval(), hubert
