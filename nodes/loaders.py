"""Model loader nodes."""

from __future__ import annotations

import logging
import os

from playmate_core.devices import PRECISIONS, resolve_precision
from playmate_core.download import DownloadError, download_file, missing_files_message
from playmate_core.implicit.checkpoints import NETWORKS, SPECIES, RendererFiles
from playmate_core.implicit.public_files import LIVEPORTRAIT_FILES, PUBLIC_CHOICES
from playmate_core.implicit.renderer import load_renderer

from . import host
from .model_cache import ModelCache, file_identity
from .spec import boolean, choice, mappings, node

_renderers = ModelCache()
LOG = logging.getLogger("playmate")


def _liveportrait_choices() -> list[str]:
    files = host.list_model_files("liveportrait")
    return sorted(set(files) | set(PUBLIC_CHOICES))


def _fetch_missing(missing: dict[str, str]) -> None:
    """Download the public files that are absent (only their published names, in their slot, can be fetched)."""
    root = host.default_model_folder("liveportrait")
    public = {n: PUBLIC_CHOICES.get(rel) for n, rel in missing.items()}
    unknown = [rel for n, rel in missing.items() if public[n] is None or public[n][0] != n]
    if unknown:
        raise FileNotFoundError("LivePortrait file(s) not found in any "
                                f"models/liveportrait folder: {', '.join(unknown)}")
    by_folder: dict[str, list] = {}
    for _, remote, subfolder in public.values():
        by_folder.setdefault(os.path.join(root, subfolder) if subfolder else root, []).append(remote)
    for folder, remotes in by_folder.items():
        try:
            for remote in remotes:
                download_file(remote, folder, progress=host.Progress(remote.size or 1))
        except DownloadError as err:
            raise FileNotFoundError(missing_files_message("LivePortrait weights", remotes, folder, str(err))) from err


SLOT_TOOLTIP = ("LivePortrait {} file from models/liveportrait: Kijai's .safetensors, "
                "the official .pth, or a Playmate renderer file (which holds all five).")


@node(
    display="Load LivePortrait (Playmate)", category="Playmate/loaders", function="load",
    required={
        **{name: choice(_liveportrait_choices, LIVEPORTRAIT_FILES[name].name, SLOT_TOOLTIP.format(name))
           for name in NETWORKS},
        "precision": choice(PRECISIONS, "auto", "auto: fp16 on CUDA, fp32 on CPU/MPS. bf16 pays off "
                                                "only on CPUs with AMX or AVX512-BF16; without them it "
                                                "is about 4x slower than fp32 (small accuracy cost)."),
        "device": choice(host.device_choices, "auto", "auto: the device ComfyUI computes on (it loads the "
                                                      "networks there when a node needs them and may offload "
                                                      "them). The list shows the devices this machine has."),
        "channels_last": boolean(False, "Channels-last memory format for the 2D networks: for "
                                        "fp16 on GPU, or bf16 on CPUs with AMX / AVX512-BF16."),
    },
    optional={
        "species": choice(["auto", *SPECIES], "auto", "Which LivePortrait set this is. auto: animal when the "
                                                      "four base networks come from an animal folder (Kijai's "
                                                      "animal/, the official liveportrait_animals/) or a "
                                                      "Playmate file that says so, else human. The animal set "
                                                      "drives the motion with the official animal settings."),
        "compile": boolean(False, "torch.compile warp + decode (inductor). The first render of each batch size "
                                  "compiles (about a minute or more), later ones are faster. Needs a C++ compiler on "
                                  "CPU, Triton on CUDA; without them it renders uncompiled and says why in the log."),
    },
    outputs={"renderer": "PLAYMATE_RENDERER"},
)
class PlaymateLoadLivePortrait:
    """Load LivePortrait's appearance extractor, motion extractor, warping module, SPADE decoder and
    stitching/retargeting MLPs. Missing public files are downloaded when there is internet."""

    def load(self, appearance_feature_extractor, motion_extractor, warping_module, spade_generator,
             stitching_retargeting_module, precision, device, channels_last, species="auto", compile=False):
        target = host.torch_device(device)  # an unavailable device fails before any download
        chosen = dict(zip(NETWORKS, (appearance_feature_extractor, motion_extractor, warping_module, spade_generator,
                                     stitching_retargeting_module)))
        missing = {n: rel for n, rel in chosen.items() if host.resolve_model_path("liveportrait", rel) is None}
        if missing:
            _fetch_missing(missing)
        paths = {n: host.resolve_model_path("liveportrait", rel) for n, rel in chosen.items()}
        dtype = resolve_precision(precision, target)
        key = (file_identity(paths.values()), str(target), str(dtype), bool(channels_last), species, bool(compile))
        renderer = _renderers.get_or_load(
            key, lambda: _load(paths, target, dtype, bool(channels_last), species, bool(compile)))
        return (renderer,)


def _load(paths: dict[str, str], target, dtype, channels_last: bool, species: str, compile: bool):
    renderer = load_renderer(RendererFiles(paths, "selected"), host.loading_device(target), dtype, channels_last,
                             species)
    if compile:
        reason = renderer.compile(target)
        if reason is not None:
            LOG.warning("Load LivePortrait: compile is on but %s; rendering without compilation", reason)
    return host.manage_model(renderer, target, renderer.modules())


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymateLoadLivePortrait)
