"""ComfyUI-Playmate: audio-driven talking portraits on LivePortrait's 3D implicit keypoints.

The host imports this folder as a package. Node classes are classic (V1) nodes, so importing
them needs no ComfyUI module; host services are reached lazily through ``nodes/host.py``.

The pack root is put on ``sys.path`` so the library ``playmate_core`` is one importable
package, the same module object for the nodes, the CLI (``python -m playmate_core``) and tests.
"""

import os
import sys

_PACK_ROOT = os.path.dirname(os.path.abspath(__file__))
if _PACK_ROOT not in sys.path:
    sys.path.insert(0, _PACK_ROOT)

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402

WEB_DIRECTORY = "./web"  # web/playmate.js: greys out Pose From Video rate widgets its links leave unused

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
