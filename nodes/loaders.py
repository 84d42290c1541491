"""Model loader nodes."""

from __future__ import annotations

import os

from playmate_core.devices import DEVICES, PRECISIONS, resolve_precision
from playmate_core.download import DownloadError, download_file, missing_files_message
from playmate_core.implicit.checkpoints import NETWORKS, SPECIES, RendererFiles
from playmate_core.implicit.public_files import LIVEPORTRAIT_FILES, PUBLIC_CHOICES
from playmate_core.implicit.renderer import load_renderer

from . import host
from .model_cache import ModelCache, file_identity

_renderers = ModelCache()


def _liveportrait_choices() -> list[str]:
    files = host.list_model_files("liveportrait")
    return sorted(set(files) | set(PUBLIC_CHOICES))


def _fetch_missing(missing: dict[str, str]) -> None:
    """Download the public files that are absent (only their published names, in their slot, can be fetched)."""
    root = host.default_model_folder("liveportrait")
    public = {n: PUBLIC_CHOICES.get(rel) for n, rel in missing.items()}
    unknown = [rel for n, rel in missing.items() if public[n] is None or public[n][0] != n]
    if unknown:
        raise FileNotFoundError(f"LivePortrait file(s) not found in any models/liveportrait folder: {', '.join(unknown)}")
    by_folder: dict[str, list] = {}
    for _, remote, subfolder in public.values():
        by_folder.setdefault(os.path.join(root, subfolder) if subfolder else root, []).append(remote)
    for folder, remotes in by_folder.items():
        try:
            for remote in remotes:
                download_file(remote, folder, progress=host.Progress(remote.size or 1))
        except DownloadError as err:
            raise FileNotFoundError(missing_files_message("LivePortrait weights", remotes, folder, str(err))) from err


class PlaymateLoadLivePortrait:
    """Loads the five LivePortrait networks (the renderer of the 3D implicit keypoint space)."""

    @classmethod
    def INPUT_TYPES(cls):
        choices = _liveportrait_choices()
        slot = "LivePortrait {} file from models/liveportrait: Kijai's .safetensors, the official .pth, or a Playmate renderer file (which holds all five)."
        inputs = {
            name: (choices, {"default": LIVEPORTRAIT_FILES[name].name, "tooltip": slot.format(name)}) for name in NETWORKS
        }
        inputs["precision"] = (PRECISIONS, {"default": "auto", "tooltip": "auto: fp16 on CUDA, fp32 on CPU/MPS. bf16 pays off only on CPUs with AMX or AVX512-BF16; without them it is about 4x slower than fp32 (small accuracy cost)."})
        inputs["device"] = (DEVICES, {"default": "auto", "tooltip": "auto: the device ComfyUI computes on."})
        inputs["channels_last"] = ("BOOLEAN", {"default": False, "tooltip": "Channels-last memory format for the 2D networks: for fp16 on GPU, or bf16 on CPUs with AMX / AVX512-BF16."})
        species = {"species": (["auto", *SPECIES], {"default": "auto", "tooltip": "Which LivePortrait set this is. auto: animal when the four base networks come from an animal folder (Kijai's animal/, the official liveportrait_animals/) or a Playmate file that says so, else human. The animal set drives the motion with the official animal settings."})}
        return {"required": inputs, "optional": species}

    RETURN_TYPES = ("PLAYMATE_RENDERER",)
    RETURN_NAMES = ("renderer",)
    FUNCTION = "load"
    CATEGORY = "Playmate/loaders"
    DESCRIPTION = "Load LivePortrait's appearance extractor, motion extractor, warping module, SPADE decoder and stitching/retargeting MLPs. Missing public files are downloaded when there is internet."

    def load(self, appearance_feature_extractor, motion_extractor, warping_module, spade_generator,
             stitching_retargeting_module, precision, device, channels_last, species="auto"):
        chosen = dict(zip(NETWORKS, (appearance_feature_extractor, motion_extractor, warping_module, spade_generator,
                                     stitching_retargeting_module)))
        missing = {n: rel for n, rel in chosen.items() if host.resolve_model_path("liveportrait", rel) is None}
        if missing:
            _fetch_missing(missing)
        paths = {n: host.resolve_model_path("liveportrait", rel) for n, rel in chosen.items()}
        target = host.torch_device(device)
        dtype = resolve_precision(precision, target)
        key = (file_identity(paths.values()), str(target), str(dtype), bool(channels_last), species)
        renderer = _renderers.get_or_load(
            key, lambda: load_renderer(RendererFiles(paths, "selected"), target, dtype, bool(channels_last), species)
        )
        return (renderer,)


NODE_CLASS_MAPPINGS = {"PlaymateLoadLivePortrait": PlaymateLoadLivePortrait}
NODE_DISPLAY_NAME_MAPPINGS = {"PlaymateLoadLivePortrait": "Load LivePortrait (Playmate)"}
