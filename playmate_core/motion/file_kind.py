"""Which slot a file in models/playmate belongs to (stage-1 motion model or stage-2 emotion controller),
decided from the safetensors header alone and cached by (path, mtime, size) so listing a folder stays cheap."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from ..checkpoint.io import read_safetensors_metadata
from .checkpoint import EMOTION_FORMAT

STAGE1, STAGE2, UNKNOWN = "stage1", "stage2", "unknown"


def motion_file_stage(path: str) -> str:
    """STAGE2 for a stage-2 emotion file, UNKNOWN for a file whose header cannot be read (listed in both
    slots, so the loader can say what is wrong with it), else STAGE1 (our motion files, JoyVASA's .pt)."""
    try:
        stat = os.stat(path)
    except OSError:
        return UNKNOWN
    return _stage(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _stage(path: str, mtime_ns: int, size: int) -> str:
    if not path.endswith((".safetensors", ".sft")):
        return STAGE1  # pickled releases (JoyVASA's .pt) are stage-1 files; they are never unpickled to list them
    try:
        metadata = read_safetensors_metadata(path)
    except (OSError, ValueError, json.JSONDecodeError):
        return UNKNOWN
    return STAGE2 if metadata.get("format") == EMOTION_FORMAT else STAGE1
