"""The published LivePortrait renderer files (Kijai/LivePortrait_safetensors, fp32).

Byte sizes are those of the published files (shared/fixtures/liveportrait/manifest.json). The animal
set (the repository's ``animal/`` folder, same names) has the human architecture and the same byte
sizes; it is used with the human stitching module, as the official animal configs do, so only its
four base networks are fetched.
"""

from __future__ import annotations

from ..download import RemoteFile

KIJAI_REPO = "https://huggingface.co/Kijai/LivePortrait_safetensors/resolve/main"
ANIMAL_FOLDER = "animal"
KIJAI_SIZES = {
    "appearance_feature_extractor": 3361936,
    "motion_extractor": 112496256,
    "warping_module": 182158564,
    "spade_generator": 221771768,
    "stitching_retargeting_module": 911836,
}
LIVEPORTRAIT_FILES = {
    name: RemoteFile(f"{name}.safetensors", f"{KIJAI_REPO}/{name}.safetensors", size)
    for name, size in KIJAI_SIZES.items()
}
ANIMAL_FILES = {
    name: RemoteFile(f"{name}.safetensors", f"{KIJAI_REPO}/{ANIMAL_FOLDER}/{name}.safetensors", size)
    for name, size in list(KIJAI_SIZES.items())[:4]
}
# what the loader offers and can fetch, by name relative to models/liveportrait -> (network, file, sub-folder)
PUBLIC_CHOICES = {remote.name: (name, remote, "") for name, remote in LIVEPORTRAIT_FILES.items()} | {
    f"{ANIMAL_FOLDER}/{remote.name}": (name, remote, ANIMAL_FOLDER) for name, remote in ANIMAL_FILES.items()
}
