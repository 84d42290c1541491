"""The published LivePortrait renderer files (Kijai/LivePortrait_safetensors, fp32).

Byte sizes are those of the published files (shared/fixtures/liveportrait/manifest.json).
"""

from __future__ import annotations

from ..download import RemoteFile

KIJAI_REPO = "https://huggingface.co/Kijai/LivePortrait_safetensors/resolve/main"
KIJAI_SIZES = {
    "appearance_feature_extractor": 3361936,
    "motion_extractor": 112496256,
    "warping_module": 182158564,
    "spade_generator": 221771768,
    "stitching_retargeting_module": 911836,
}
LIVEPORTRAIT_FILES = {
    name: RemoteFile(f"{name}.safetensors", f"{KIJAI_REPO}/{name}.safetensors", size) for name, size in KIJAI_SIZES.items()
}

