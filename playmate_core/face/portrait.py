"""The PLAYMATE_PORTRAIT payload: photos in, aligned 256x256 face crops out, and the way back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .crop import CropConfig, crop_matrix, crop_to_image, network_crops
from .detector import FaceDetector
from .geometry import apply, rescale_square
from .landmarks import LandmarkLayout, eye_ratio, lip_ratio
from .paste import paste
from .region import CROP_MODES, Region, box_from_mask, check_box, crop_regions, masks_for

MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 4096
MIN_FACE_SIDE = 32


@dataclass(frozen=True)
class Portrait:
    """One portrait per photo, cropped the LivePortrait way (all tensors on the CPU).

    images:        [B, H, W, 3] the photos as given (RGB, float 0..1; never modified)
    crops:         [B, 3, 256, 256] aligned crops for the networks (RGB, float 0..1)
    image_to_crop: [B, 3, 3] float64, photo pixels -> pixels of the config.size (512) crop
    landmarks:     [B, N, 3] the chosen face's landmarks in photo pixels (x, y, depth)
    landmarks_crop:[B, N, 2] the same in pixels of the 256 crops
    boxes:         [B, 4] detector box (x0, y0, x1, y1) in photo pixels; scores [B]
    face_counts:   faces found in each photo
    eye_ratio:     [B, 2] eye openness (image-left eye, image-right eye); lip_ratio [B, 1]
    crop_mode:     "face" (all of the above), or "whole image" / "box" (no detector: landmarks,
                   landmarks_crop, scores, layout, eye_ratio and lip_ratio are None, face_counts
                   empty, boxes the cropped region, x1 / y1 exclusive)
    """

    images: torch.Tensor
    crops: torch.Tensor
    image_to_crop: torch.Tensor
    landmarks: torch.Tensor | None
    landmarks_crop: torch.Tensor | None
    boxes: torch.Tensor
    scores: torch.Tensor | None
    face_counts: tuple[int, ...]
    eye_ratio: torch.Tensor | None
    lip_ratio: torch.Tensor | None
    layout: LandmarkLayout | None
    config: CropConfig
    crop_mode: str = "face"

    @property
    def batch_size(self) -> int:
        return int(self.crops.shape[0])

    def crop_to_image(self, size: int) -> torch.Tensor:
        """[B, 3, 3] from the pixels of a size x size render (512 or 256) to photo pixels."""
        return crop_to_image(self.image_to_crop, self.config, size)


def as_rgb_images(images: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Validate a ComfyUI IMAGE and return it as [B, H, W, 3] float32 in [0, 1].

    A single [H, W, C] image gets a batch axis; RGBA drops its alpha; grayscale (1 channel) is
    repeated to RGB; uint8 is divided by 255. Sizes outside 64..4096 px per side are refused.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be an IMAGE tensor [B, H, W, 3], got {type(images).__name__}")
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4:
        raise ValueError(f"{name} must be an IMAGE tensor [B, H, W, C], got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch")
    channels = images.shape[-1]
    if channels == 4:
        images = images[..., :3]
    elif channels == 1:
        images = images.expand(-1, -1, -1, 3)
    elif channels != 3:
        raise ValueError(f"{name} must have 1 (gray), 3 (RGB) or 4 (RGBA) "
                         f"channels last, got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        images = images.float() / 255
    elif not images.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1] (or uint8), got {images.dtype}")
    height, width = images.shape[1:3]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ValueError(f"{name} is {width}x{height} px; a portrait needs at least {MIN_IMAGE_SIDE} px per side")
    if max(height, width) > MAX_IMAGE_SIDE:
        raise ValueError(
            f"{name} is {width}x{height} px; the largest supported side is {MAX_IMAGE_SIDE} px: "
            "downscale it first (e.g. with the core 'Upscale Image' node)"
        )
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return images.float()


def _searched(found) -> str:
    """' (short_range found 1, full_range found 2)' when the detector says what each model found."""
    if not found.found_by:
        return ""
    return " (" + ", ".join(f"{model} found {count}" for model, count in found.found_by) + ")"


def _find_more(found) -> str:
    """How to find a face the detector missed: the full-range model, unless it already ran."""
    if "full_range" in dict(found.found_by):
        return "Faces below ~7% of the image side are not found: crop the photo closer to the face you want"
    return ("A face below ~13% of the image side needs detector full_range (it finds faces down to ~7%); "
            "smaller ones need a closer crop of the photo")


def load_portraits(images: torch.Tensor, detector: FaceDetector, face_index: int = 0,
                   config: CropConfig = CropConfig(), min_face_side: int = MIN_FACE_SIDE,
                   progress: Callable[[int, int], None] | None = None, chunk_size: int = 16) -> Portrait:
    """Detect, pick and crop one face per photo.

    images [B, H, W, 3]; face_index 0 picks the largest face, i the (i+1)-th largest. Raises
    ValueError naming the photo when it has no face, too few faces or too small a face.
    progress(done, total) is called after each chunk of photos (it may raise to cancel).
    """
    images = as_rgb_images(images)
    if face_index < 0:
        raise ValueError(f"face_index must be >= 0 (0 = largest face), got {face_index}")
    faces = []
    for start in range(0, images.shape[0], chunk_size):
        faces += detector.detect(images[start:start + chunk_size], min_faces=face_index + 1)
        if progress is not None:
            progress(len(faces), images.shape[0])
    batch = images.shape[0]
    where = (lambda b: "the image") if batch == 1 else (lambda b: f"image {b} of the batch")
    chosen, boxes, scores = [], [], []
    for b, found in enumerate(faces):
        if found.count == 0:
            raise ValueError(f"no face found in {where(b)}{_searched(found)}: use a photo with a visible, roughly "
                             "frontal face")
        if face_index >= found.count:
            raise ValueError(
                f"face_index {face_index} asks for face {face_index + 1} by size, but {where(b)} has only "
                f"{found.count} face(s){_searched(found)}; 0 is the largest. {_find_more(found)}"
            )
        box = found.boxes[face_index]
        side = float(min(box[2] - box[0], box[3] - box[1]))
        if side < min_face_side:
            raise ValueError(
                f"the face in {where(b)} is only {side:.0f} px wide; at least {min_face_side} px are needed: "
                "use a larger or closer photo"
            )
        chosen.append(found.landmarks[face_index])
        boxes.append(box)
        scores.append(found.scores[face_index])
    landmarks = torch.stack(chosen).float()
    layout = detector.layout
    image_to_crop = crop_matrix(landmarks, layout, config)
    crops = network_crops(images.permute(0, 3, 1, 2), image_to_crop, config)
    to_network = rescale_square(image_to_crop, config.size, config.network_size)
    return Portrait(
        images=images,
        crops=crops.cpu(),
        image_to_crop=image_to_crop.cpu(),
        landmarks=landmarks,
        landmarks_crop=apply(to_network, landmarks[..., :2].double()).float(),
        boxes=torch.stack(boxes),
        scores=torch.stack(scores),
        face_counts=tuple(f.count for f in faces),
        eye_ratio=eye_ratio(landmarks, layout),
        lip_ratio=lip_ratio(landmarks, layout),
        layout=layout,
        config=config,
    )


def load_region_portraits(images: torch.Tensor, crop_mode: str, box: Region | None = None, mask=None,
                          letterbox: bool = False, config: CropConfig = CropConfig()) -> Portrait:
    """Crop without a face detector (face.region): crop_mode "whole image", or "box" with a pixel box or a
    MASK ([H, W] or [B, H, W]) whose bounding box is the crop. Raises ValueError naming the bad input."""
    images = as_rgb_images(images)
    batch, height, width = images.shape[:3]
    if crop_mode == "whole image":
        regions = [Region(0, 0, width, height)] * batch
    elif crop_mode == "box":
        if mask is not None:
            masks = masks_for(mask, batch, height, width)
            regions = [check_box(box_from_mask(m, b), height, width, "the mask's bounding box")
                       for b, m in enumerate(masks)]
        elif box is None:
            raise ValueError("crop_mode 'box' needs a box (box_x0, box_y0, box_x1, box_y1 in pixels) or a mask")
        else:
            regions = [check_box(box, height, width)] * batch
    else:
        raise ValueError(f"crop_mode must be one of {', '.join(CROP_MODES[1:])} here (not {crop_mode!r})")
    image_to_crop, crops = crop_regions(images, regions, letterbox, config)
    return Portrait(
        images=images, crops=crops, image_to_crop=image_to_crop, landmarks=None, landmarks_crop=None,
        boxes=torch.tensor([[r.x0, r.y0, r.x1, r.y1] for r in regions], dtype=torch.float32), scores=None,
        face_counts=(), eye_ratio=None, lip_ratio=None, layout=None, config=config, crop_mode=crop_mode,
    )


def paste_back(rendered: torch.Tensor, portrait: Portrait, index: int = 0,
               feather: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste renders of one portrait's crop into its photo.

    rendered [N, 3, S, S] (S = 512 from the decoder, or 256) -> (frames [N, H, W, 3], mask [H, W]),
    on rendered's device. Photo pixels where the mask is 0 are exactly the original.
    """
    if rendered.dim() != 4 or rendered.shape[1] != 3 or rendered.shape[2] != rendered.shape[3]:
        raise ValueError(f"rendered must be [N, 3, S, S], got shape {tuple(rendered.shape)}")
    if not 0 <= index < portrait.batch_size:
        raise ValueError(f"portrait index {index} is out of range for {portrait.batch_size} portrait(s)")
    matrix = portrait.crop_to_image(rendered.shape[-1])[index]
    return paste(rendered, portrait.images[index], matrix, feather)
