"""The only place that talks to the ComfyUI host; every host module is imported lazily.

Without a host (tests, the in-process runner, scripts) the same functions fall back to plain
behaviour: model folders under ``$PLAYMATE_MODELS_DIR`` (default ``<pack>/models``), output
under ``$PLAYMATE_OUTPUT_DIR`` (default ``<pack>/output``), a silent progress bar, plain torch
devices.
"""

from __future__ import annotations

import os
from typing import Iterable

import torch

PACK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# model folder name -> file extensions it holds
MODEL_FOLDERS = {
    "liveportrait": (".safetensors", ".pth", ".pt"),
    "playmate": (".safetensors", ".pt", ".pth"),
    "audio_encoders": (".safetensors", ".bin", ".pt", ".pth", ".json"),
}


def _folder_paths():
    try:
        import folder_paths  # type: ignore[import-not-found]
    except ImportError:
        return None
    return folder_paths


def _model_management():
    try:
        import comfy.model_management as mm  # type: ignore[import-not-found]
    except ImportError:
        return None
    return mm


def register_model_folders() -> None:
    """Register our model folders with the host, merging with extra_model_paths.yaml entries."""
    fp = _folder_paths()
    if fp is None:
        return
    for name, exts in MODEL_FOLDERS.items():
        default = os.path.join(fp.models_dir, name)
        known = fp.folder_names_and_paths.get(name)
        if known is None:
            fp.folder_names_and_paths[name] = ([default], set(exts))
            continue
        paths, known_exts = known[0], known[1]
        if default not in paths:
            paths.append(default)
        if isinstance(known_exts, set) and known_exts:
            known_exts.update(exts)


def models_root() -> str:
    return os.environ.get("PLAYMATE_MODELS_DIR", os.path.join(PACK_ROOT, "models"))


def model_folders(kind: str) -> list[str]:
    """Every folder registered for a model kind (the host's, or the fallback root)."""
    fp = _folder_paths()
    if fp is not None:
        return list(fp.get_folder_paths(kind))
    return [os.path.join(models_root(), kind)]


def list_model_files(kind: str, extensions: Iterable[str] | None = None) -> list[str]:
    """Relative paths (with '/' separators) of the files of a model kind, sorted, recursive."""
    exts = tuple(extensions or MODEL_FOLDERS[kind])
    found = set()
    for folder in model_folders(kind):
        if not os.path.isdir(folder):
            continue
        for dirpath, _, files in os.walk(folder, followlinks=True):
            for name in files:
                if name.endswith(exts):
                    rel = os.path.relpath(os.path.join(dirpath, name), folder)
                    found.add(rel.replace(os.sep, "/"))
    return sorted(found)


def resolve_model_path(kind: str, relative: str) -> str | None:
    """Absolute path of a listed model file, or None when no registered folder holds it."""
    for folder in model_folders(kind):
        path = os.path.join(folder, relative)
        if os.path.isfile(path):
            return path
    return None


def default_model_folder(kind: str) -> str:
    """Where a download of this model kind goes: the first registered folder."""
    return model_folders(kind)[0]


def output_directory() -> str:
    fp = _folder_paths()
    if fp is not None:
        return fp.get_output_directory()
    return os.environ.get("PLAYMATE_OUTPUT_DIR", os.path.join(PACK_ROOT, "output"))


def torch_device(choice: str = "auto") -> torch.device:
    """'auto' is the host's compute device (or cuda > mps > cpu without a host)."""
    if choice != "auto":
        return torch.device(choice)
    mm = _model_management()
    if mm is not None:
        return mm.get_torch_device()
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def throw_if_interrupted() -> None:
    """Raise the host's interrupt exception when the user pressed Cancel."""
    mm = _model_management()
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()


class Progress:
    """Progress callback for playmate_core loops: ``progress(done, total)``.

    With a host it drives comfy.utils.ProgressBar, whose hook also raises on interrupt.
    """

    def __init__(self, total: int):
        self._bar = None
        try:
            import comfy.utils  # type: ignore[import-not-found]
        except ImportError:
            return
        self._bar = comfy.utils.ProgressBar(max(1, int(total)))

    def __call__(self, done: int, total: int) -> None:
        throw_if_interrupted()
        if self._bar is not None:
            self._bar.update_absolute(int(done), int(total))
