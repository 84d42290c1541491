"""Portrait nodes: find and crop the face (Load Portrait), lift it into the implicit space (Extract Keypoints)."""

from __future__ import annotations

import torch

from playmate_core.face.crop import CropConfig
from playmate_core.face.detector import MediaPipeFaceDetector
from playmate_core.face.paste import photo_mask
from playmate_core.face.portrait import Portrait, load_portraits, load_region_portraits
from playmate_core.face.region import CROP_MODES, MIN_BOX_SIDE, Region
from playmate_core.implicit.extract import extract_portrait_source

from . import host
from .spec import boolean, choice, integer, link, mappings, node, real

DETECTORS = list(MediaPipeFaceDetector.MODELS)
MASK_FEATHER = 0.1
_detectors: dict[tuple[str, str], MediaPipeFaceDetector] = {}


def _detector(model: str) -> MediaPipeFaceDetector:
    device = host.torch_device("auto")
    key = (model, str(device))
    if key not in _detectors:
        _detectors[key] = MediaPipeFaceDetector(model, device)
    return _detectors[key]


@node(
    display="Load Portrait (Playmate)", category="Playmate", function="load",
    required={
        "image": link("IMAGE", "The portrait photo(s). A batch gives a batch of portraits (one face each). "
                               "RGBA drops its alpha; grayscale becomes RGB. Sides from 64 to 4096 px."),
        "face_index": integer(0, 0, 63, "Which face when there are several, by size: "
                                        "0 = the largest, 1 = the second largest, ..."),
        "crop_scale": real(2.3, 1.5, 4.0, 0.05, "Crop side / face size (LivePortrait: 2.3). Larger "
                                                "shows more hair and shoulders with a smaller face."),
        "offset_x": real(0.0, -0.5, 0.5, 0.005, "Moves the crop window along the eye line, in crop "
                                                "sides (> 0: to the right in an upright photo)."),
        "offset_y": real(-0.125, -0.5, 0.5, 0.005, "Moves the crop window along the face axis, in crop "
                                                   "sides (< 0: up, more forehead; LivePortrait: -0.125)."),
        "rotate": boolean(True, "Level the eye line in the crop (LivePortrait's "
                                "default). Off keeps the photo's orientation."),
        "detector": choice(DETECTORS, "auto", "auto: the short-range face detector, then the full-range one "
                                              "too where it finds fewer faces than face_index asks for or "
                                              "small faces (the one that finds more wins). short_range finds "
                                              "faces down to ~13% of the image side, full_range down to ~7%."),
    },
    optional={
        "crop_mode": choice(CROP_MODES, "face", "face: detect a human face and crop around it (the settings "
                                                "above). whole image: no detector, the whole photo resized to the "
                                                "network's 256x256 (the official animal path). box: no detector, "
                                                "the box below (or the mask's bounding box) resized to 256x256. "
                                                "Without face landmarks, eye/lip retargeting is unavailable."),
        "letterbox": boolean(False, "whole image / box: keep the aspect ratio by centring the region "
                                    "in a square of its longer side (black where the square leaves "
                                    "the photo). Off: the region is stretched to the square, as the "
                                    "official animal path does (paste-back undoes the stretch)."),
        "box_x0": integer(0, 0, 4096, "box mode: left edge of the crop box, in "
                                      "photo pixels (the first column inside)."),
        "box_y0": integer(0, 0, 4096, "box mode: top edge of the crop box, in photo pixels (the first row inside)."),
        "box_x1": integer(0, 0, 4096, "box mode: right edge, in photo pixels (exclusive: the box covers "
                                      f"columns box_x0 to box_x1 - 1). At least {MIN_BOX_SIDE} px wide."),
        "box_y1": integer(0, 0, 4096, "box mode: bottom edge, in photo pixels "
                                      f"(exclusive). At least {MIN_BOX_SIDE} px high."),
        "mask": link("MASK", "box mode: the crop is the bounding box of the mask's pixels >= 0.5 "
                             "(replaces the box numbers). One mask for every image, or one per image."),
    },
    outputs={"portrait": "PLAYMATE_PORTRAIT", "crop": "IMAGE", "face_mask": "MASK"},
)
class PlaymateLoadPortrait:
    """Detect the face (offline BlazeFace + FaceMesh, bundled Apache-2.0 weights), crop it to 256x256 the
    LivePortrait way and remember how to paste renders back. Outputs the crop the networks see and the feathered
    paste-back mask in photo space. For animals (no human face to detect) set crop_mode to 'whole image' or 'box'."""

    def load(self, image, face_index, crop_scale, offset_x, offset_y, rotate, detector, crop_mode="face",
             letterbox=False, box_x0=0, box_y0=0, box_x1=0, box_y1=0, mask=None):
        if crop_mode == "face":
            if mask is not None:
                raise ValueError("a mask is connected but crop_mode is 'face': set crop_mode to "
                                 "'box' to crop the mask's bounding box, or disconnect the mask")
            config = CropConfig(scale=float(crop_scale), offset_x=float(offset_x), offset_y=float(offset_y),
                                rotate=bool(rotate))
            total = int(image.shape[0]) if isinstance(image, torch.Tensor) and image.dim() == 4 else 1
            portrait = load_portraits(image, _detector(detector), int(face_index), config,
                                      progress=host.Progress(total))
        else:
            config = CropConfig()
            box = Region(int(box_x0), int(box_y0), int(box_x1), int(box_y1))
            portrait = load_region_portraits(image, crop_mode, box, mask, bool(letterbox), config)
        height, width = portrait.images.shape[1:3]
        to_image = portrait.crop_to_image(config.size)
        mask = torch.stack([photo_mask(m, config.size, height, width, MASK_FEATHER) for m in to_image])
        crop = portrait.crops.permute(0, 2, 3, 1).contiguous()
        return (portrait, crop, mask.cpu())


@node(
    display="Extract Keypoints (Playmate)", category="Playmate", function="extract",
    required={
        "renderer": link("PLAYMATE_RENDERER", "The LivePortrait networks (Load LivePortrait)."),
        "portrait": link("PLAYMATE_PORTRAIT", "The cropped portrait(s) from Load Portrait."),
    },
    outputs={"source": "PLAYMATE_SOURCE"},
)
class PlaymateExtractKeypoints:
    """Lift the portrait into LivePortrait's 3D implicit space: appearance volume, canonical keypoints, the 70-d
    source motion (expression, scale, translation, head pose) and the eye/lip openness ratios."""

    def extract(self, renderer, portrait):
        if not isinstance(portrait, Portrait):
            raise TypeError(f"portrait must come from Load Portrait (PLAYMATE_PORTRAIT), got {type(portrait).__name__}")
        with host.models_on_device(renderer):
            source = extract_portrait_source(renderer, portrait, progress=host.Progress(portrait.batch_size))
        return (source,)


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymateLoadPortrait, PlaymateExtractKeypoints)
