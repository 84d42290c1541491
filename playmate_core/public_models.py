"""The public model files this pack runs with, where each goes in a models folder, and fetching them.

A models folder has ComfyUI's layout (ComfyUI's own ``models/`` folder works as is):

    <models>/liveportrait/<the five LivePortrait networks>.safetensors
    <models>/liveportrait/animal/<the four animal base networks>.safetensors   (only with --only liveportrait_animal)
    <models>/audio_encoders/<encoder name>/config.json, preprocessor_config.json, pytorch_model.bin
    <models>/playmate/motion_generator_hubert_chinese.pt, motion_template.pkl   (JoyVASA)

Groups (the names of ``python -m playmate_core download --only``): liveportrait, hubert, wav2vec2, joyvasa
(default: liveportrait, joyvasa; hubert and wav2vec2 are the stock encoders Playmate models train on;
liveportrait_animal is fetched only when named).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from .audio.checkpoint import PUBLIC_ENCODERS, WEIGHT_FILES
from .download import HF_ENDPOINT, DownloadError, RemoteFile, download_file
from .implicit.public_files import ANIMAL_FILES, ANIMAL_FOLDER, LIVEPORTRAIT_FILES

JOYVASA_PUBLIC_NAME = "motion_generator_hubert_chinese.pt"
JOYVASA_TEMPLATE_NAME = "motion_template.pkl"
JOYVASA_URL = f"{HF_ENDPOINT}/jdh-algo/JoyVASA/resolve/main"
# the default names of the files `train stage1` / `train stage2` write: Playmate publishes no weights, so the
# loaders offer these names and say how to train them when they are absent
PLAYMATE_STAGE1_NAME = "playmate_motion.safetensors"
PLAYMATE_EMOTION_NAME = "playmate_emotion.safetensors"
JOYVASA_FILES = (
    RemoteFile(JOYVASA_PUBLIC_NAME, f"{JOYVASA_URL}/motion_generator/{JOYVASA_PUBLIC_NAME}"),
    RemoteFile(JOYVASA_TEMPLATE_NAME, f"{JOYVASA_URL}/motion_template/{JOYVASA_TEMPLATE_NAME}"),
)


@dataclass(frozen=True)
class ModelGroup:
    """Files that belong together, in ``<models>/<kind>/<subfolder>``."""

    key: str
    title: str
    kind: str
    subfolder: str
    files: tuple[RemoteFile, ...]
    approx_mb: int

    def folder(self, models_dir: str) -> str:
        if self.subfolder:
            return os.path.join(models_dir, self.kind, self.subfolder)
        return os.path.join(models_dir, self.kind)


def _encoder_group(key: str, name: str) -> ModelGroup:
    return ModelGroup(key, f"audio encoder {name}", "audio_encoders", name, tuple(PUBLIC_ENCODERS[name]), 380)


GROUPS: dict[str, ModelGroup] = {
    "liveportrait": ModelGroup("liveportrait", "LivePortrait networks (Kijai's safetensors)", "liveportrait", "",
                               tuple(LIVEPORTRAIT_FILES.values()), 520),
    "hubert": _encoder_group("hubert", "chinese-hubert-base"),
    "wav2vec2": _encoder_group("wav2vec2", "wav2vec2-base-960h"),
    "joyvasa": ModelGroup("joyvasa", "JoyVASA motion generator", "playmate", "", JOYVASA_FILES, 415),
    "liveportrait_animal": ModelGroup("liveportrait_animal", "LivePortrait animal networks (Kijai's animal/ folder)",
                                      "liveportrait", ANIMAL_FOLDER, tuple(ANIMAL_FILES.values()), 520),
}
ENCODER_GROUPS = {group.subfolder: group for group in GROUPS.values() if group.kind == "audio_encoders"}
# what the default graph and `animate` run on: JoyVASA brings its own HuBERT, so no stock encoder
DEFAULT_GROUPS = ("liveportrait", "joyvasa")
# the public encoder of each family a Playmate model can be trained on (JoyVASA carries its own HuBERT)
ENCODER_BY_FAMILY = {"hubert": "chinese-hubert-base", "wav2vec2": "wav2vec2-base-960h"}


def default_models_dir() -> str:
    """--models-dir's default: $PLAYMATE_MODELS_DIR, else ./models."""
    return os.environ.get("PLAYMATE_MODELS_DIR") or os.path.abspath("models")


def missing_files(group: ModelGroup, models_dir: str) -> list[RemoteFile]:
    """The group's files absent from its folder (an encoder needs one weight file, in any accepted format)."""
    folder = group.folder(models_dir)
    has_weights = any(os.path.isfile(os.path.join(folder, name)) for name in WEIGHT_FILES)
    return [
        remote for remote in group.files
        if not os.path.isfile(os.path.join(folder, remote.name))
        and not (group.kind == "audio_encoders" and has_weights and remote.name in WEIGHT_FILES)
    ]


def parse_groups(text: str | None) -> list[ModelGroup]:
    """'liveportrait,hubert' -> groups; 'all' -> every group; None or '' -> DEFAULT_GROUPS."""
    if not text:
        return [GROUPS[k] for k in DEFAULT_GROUPS]
    if text.strip().lower() == "all":
        return list(GROUPS.values())
    keys = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in GROUPS]
    if unknown:
        raise ValueError(f"unknown model group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    return [GROUPS[k] for k in dict.fromkeys(keys)]


@dataclass(frozen=True)
class FetchFailure:
    file: RemoteFile
    folder: str
    error: str


def fetch_groups(groups: list[ModelGroup], models_dir: str, *, force: bool = False,
                 on_file: Callable[[ModelGroup, RemoteFile], Callable[[int, int], None] | None] | None = None,
                 ) -> tuple[list[str], list[FetchFailure]]:
    """Download every file of the groups (present ones are verified and kept unless ``force``).

    on_file(group, file) may return a progress callback for that file. Returns (paths, failures):
    one failure does not stop the other files.
    """
    paths, failures = [], []
    for group in groups:
        folder = group.folder(models_dir)
        needed = {f.name for f in missing_files(group, models_dir)}
        for remote in group.files:
            if remote.name not in needed and not os.path.isfile(os.path.join(folder, remote.name)):
                continue  # an encoder whose weights are already there in another accepted format
            progress = on_file(group, remote) if on_file is not None else None
            try:
                paths.append(download_file(remote, folder, progress=progress, force=force))
            except DownloadError as err:
                failures.append(FetchFailure(remote, folder, str(err)))
    return paths, failures
