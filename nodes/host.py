"""The only place that talks to the ComfyUI host; every host module is imported lazily.

Without a host (tests, the in-process runner, scripts) the same functions fall back to plain
behaviour: model folders under ``$PLAYMATE_MODELS_DIR`` (default ``<pack>/models``), output
under ``$PLAYMATE_OUTPUT_DIR`` (default ``<pack>/output``), a silent progress bar, plain torch
devices.
"""

from __future__ import annotations

import logging
import os
import shutil
import weakref
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch

from playmate_core.devices import available_devices, default_device, resolve_device

log = logging.getLogger(__name__)
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


EXAMPLES_DIR = os.path.join(PACK_ROOT, "example_inputs")


def install_example_inputs() -> list[str]:
    """Copy the pack's example inputs (example_inputs/*, not its README) into the host's input folder, skipping every
    name the folder already has, so the example workflows run on their first Queue. Returns the names copied."""
    fp = _folder_paths()
    if fp is None or not os.path.isdir(EXAMPLES_DIR):
        return []
    target = fp.get_input_directory()
    copied = []
    for name in sorted(os.listdir(EXAMPLES_DIR)):
        source, destination = os.path.join(EXAMPLES_DIR, name), os.path.join(target, name)
        if name.lower().endswith(".md") or not os.path.isfile(source) or os.path.lexists(destination):
            continue
        created = False
        try:
            os.makedirs(target, exist_ok=True)
            with open(source, "rb") as src, open(destination, "xb") as dst:  # "x": never replaces a file
                created = True
                shutil.copyfileobj(src, dst)
            copied.append(name)
        except OSError as err:  # a read-only input folder: the workflows then ask for the files, as before
            if created:
                os.remove(destination)  # never leave a half-copied file behind
            log.warning("Playmate: could not copy the example input %s to %s: %s", name, target, err)
    return copied


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


def device_choices() -> list[str]:
    """The device widget's options: auto and the devices this machine has."""
    return ["auto", *available_devices()]


def torch_device(choice: str = "auto", input_name: str = "device") -> torch.device:
    """'auto' is the host's compute device (or cuda > mps > cpu without a host); any other choice must
    be a device this machine has (a saved workflow may name one it lacks)."""
    if choice != "auto":
        return resolve_device(choice, input_name)
    mm = _model_management()
    if mm is not None:
        return mm.get_torch_device()
    return default_device()


# --- the host's model management --------------------------------------------------------------------
# Each loaded model (renderer, audio encoder, motion model) is handed to the host as a ModelPatcher:
# the host moves its weights to the compute device when a node asks for them (load_models_gpu) and may
# move them back to its offload device whenever it needs the memory ("Unload models", another model).
_patchers: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


class ManagedNetworks(torch.nn.Module):
    """The networks of one library model as one module (what the host's ModelPatcher holds; it sets a
    plain ``device`` attribute on it, which our modules expose as a read-only property)."""

    def __init__(self, networks: Iterable[torch.nn.Module]):
        super().__init__()
        self.networks = torch.nn.ModuleList(networks)


def loading_device(device: torch.device) -> torch.device:
    """Where a loader should put new weights: the host's offload device (it loads them to ``device`` when
    a node needs them), or ``device`` itself without a host or on the CPU."""
    mm = _model_management()
    if mm is None or device.type == "cpu":
        return device
    return mm.unet_offload_device()


def manage_model(model, device: torch.device, networks: Iterable[torch.nn.Module] | None = None):
    """Register model (an nn.Module, or an object whose weights are ``networks``) with the host's model
    management, to compute on ``device``; returns model. Without a host, nothing happens."""
    mm = _model_management()
    if mm is None:
        return model
    from comfy.model_patcher import ModelPatcher  # type: ignore[import-not-found]

    holder = ManagedNetworks([model] if networks is None else networks)
    _patchers[model] = ModelPatcher(holder, load_device=device, offload_device=loading_device(device))
    return model


def model_patcher(model):
    """The host's ModelPatcher of a managed model (None when it is not managed)."""
    return _patchers.get(model)


@contextmanager
def models_on_device(*models) -> Iterator[None]:
    """Inside, the managed models' weights are on their compute device.

    The host loads them in full (our layers cannot run split across devices). Where it keeps them off
    the device (--novram), they are moved there for this node only and moved back afterwards.
    """
    patchers = [p for p in (model_patcher(m) for m in models if m is not None) if p is not None]
    if not patchers:
        yield
        return
    _model_management().load_models_gpu(patchers, force_full_load=True)
    streamed = [p for p in patchers if p.loaded_size() < p.model_size()]
    for patcher in streamed:
        patcher.model.to(patcher.load_device)
    try:
        yield
    finally:
        for patcher in streamed:
            patcher.model.to(patcher.offload_device)


def throw_if_interrupted() -> None:
    """Raise the host's interrupt exception when the user pressed Cancel."""
    mm = _model_management()
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()


class Progress:
    """Progress callback for playmate_core loops: ``progress(done, total)``.

    With a host it drives comfy.utils.ProgressBar, whose hook also raises on interrupt. The total given
    with each call replaces the initial one, so loops whose length is known only once they start can
    take ``Progress()``.
    """

    def __init__(self, total: int = 1):
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


def save_file_path(filename_prefix: str, extension: str, width: int = 0, height: int = 0) -> tuple[str, str, str]:
    """(absolute path, subfolder, file name) of a new numbered output file, the host's way:
    ``<output>/<subfolder>/<name>_<counter:05>_.<ext>``. The prefix may hold a subfolder; it may not
    leave the output folder. With a host its own rule runs (it also expands %date% and the like)."""
    if not filename_prefix.strip():
        raise ValueError("filename_prefix is empty: give a name such as 'Playmate/talking_head'")
    fp = _folder_paths()
    if fp is not None:
        try:
            folder, name, counter, subfolder, _ = fp.get_save_image_path(filename_prefix, fp.get_output_directory(),
                                                                           width, height)
        except PermissionError as err:
            raise PermissionError(f"the output folder for {filename_prefix!r} is not accessible: {err}") from err
    else:
        root = os.path.abspath(output_directory())
        subfolder = os.path.dirname(os.path.normpath(filename_prefix))
        name = os.path.basename(os.path.normpath(filename_prefix))
        folder = os.path.abspath(os.path.join(root, subfolder))
        if os.path.commonpath((root, folder)) != root:
            raise ValueError(f"filename_prefix {filename_prefix!r} points outside the output folder {root}")
        counter = _next_counter(folder, name)
    file = f"{name}_{counter:05}_.{extension}"
    return os.path.join(folder, file), subfolder, file


def _next_counter(folder: str, name: str) -> int:
    """1 + the largest counter of existing ``<name>_<counter>_...`` files (1 when none)."""
    try:
        entries = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):  # made (or refused) when the file is written
        return 1
    counters = []
    for entry in entries:
        stem = entry[len(name) + 1:]
        if entry.startswith(name + "_") and stem.split("_")[0].isdigit():
            counters.append(int(stem.split("_")[0]))
    return max(counters, default=0) + 1


def video_from_file(path: str):
    """The host's VIDEO value for a file (comfy_api's VideoFromFile); the path itself without a host."""
    try:
        from comfy_api.latest import InputImpl  # type: ignore[import-not-found]
    except ImportError:
        try:
            from comfy_api.input_impl import VideoFromFile  # type: ignore[import-not-found]  # hosts before 0.3.4x
        except ImportError:
            return path
        return VideoFromFile(path)
    return InputImpl.VideoFromFile(path)


def video_stream_source(video):
    """What PyAV can open for a VIDEO input: its stream source (a path or BytesIO), or a path as is."""
    if isinstance(video, (str, os.PathLike)):
        return os.fspath(video)
    get_source = getattr(video, "get_stream_source", None)
    if get_source is None:
        raise TypeError(f"video must be a VIDEO (from Load Video) or a file path, got {type(video).__name__}")
    return get_source()


def disable_metadata() -> bool:
    """The host's --disable-metadata flag (False without a host)."""
    try:
        from comfy.cli_args import args  # type: ignore[import-not-found]
    except ImportError:
        return False
    return bool(getattr(args, "disable_metadata", False))
