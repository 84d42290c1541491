"""The shared test portraits as ComfyUI IMAGE tensors, and one cached face detector per model."""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from conftest import shared_path
from playmate_core.face.detector import MediaPipeFaceDetector

ASTRONAUT = "astronaut_512x512.png"
HOPPER = "grace_hopper_512x600.png"
ROCKET = "noface_rocket_640x427.png"
ASTRONAUT_2048 = "astronaut_2048x2048_upscaled.png"

# Hand-annotated on the photos (pixels): image-left eye centre, image-right eye centre, mouth centre.
ANNOTATED = {
    ASTRONAUT: ((205, 102), (247, 103), (226, 144)),
    HOPPER: ((220, 190), (305, 187), (266, 276)),
}


def photo(name: str) -> torch.Tensor:
    """[1, H, W, 3] float32 in [0, 1] (skips the test when ../shared is absent)."""
    array = np.asarray(Image.open(shared_path("media", "portraits", name)).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array / 255.0)[None]


@functools.lru_cache(maxsize=None)
def detector(model: str = "auto") -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector(model)
