"""The test portraits (tests/fixtures/media/portraits) as ComfyUI IMAGE tensors, and one cached face detector per
model. ASTRONAUT_2048 is made here the way the original 2048 px file was made: the astronaut upscaled 4x with
Pillow's LANCZOS filter (pixel-identical to that file; no new detail, so it is not stored)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from conftest import fixture_path
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
    """[1, H, W, 3] float32 in [0, 1] (a missing fixture fails the test)."""
    if name == ASTRONAUT_2048:
        image = Image.open(fixture_path("media", "portraits", ASTRONAUT)).convert("RGB")
        image = image.resize((2048, 2048), Image.LANCZOS)
    else:
        image = Image.open(fixture_path("media", "portraits", name)).convert("RGB")
    array = np.asarray(image, dtype=np.float32)
    return torch.from_numpy(array / 255.0)[None]


@functools.lru_cache(maxsize=None)
def detector(model: str = "auto") -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector(model)


def two_people(second_face_side: int = 400) -> torch.Tensor:
    """Hopper (face ~19% of the 1040 px side) beside a smaller astronaut (face ~7%): [1, 720, 1040, 3]."""
    astronaut, hopper = photo(ASTRONAUT), photo(HOPPER)
    canvas = torch.full((1, 3, 720, 1040), 0.5)
    canvas[..., :600, :512] = hopper.permute(0, 3, 1, 2)
    small = torch.nn.functional.interpolate(astronaut.permute(0, 3, 1, 2), size=(second_face_side,) * 2, mode="area")
    canvas[..., 300:300 + second_face_side, 560:560 + second_face_side] = small
    return canvas.permute(0, 2, 3, 1)
