"""Per driving frame: find the face, crop it the LivePortrait way, run the motion extractor.

The crop levels the eye line and follows the face, so the motion extractor sees an upright,
centred face (as in training); what the crop took away (the in-plane rotation, the shift and the
zoom) is recorded with the frame as the crop matrix and added back in `relative_pose`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..face.crop import CropConfig, crop_matrix, network_crops
from ..face.detector import FaceDetector
from ..implicit.motion_vector import ANGLES, EXP, SCALE, T
from .frames import FrameChunk

# LivePortrait's crop for driving videos (scale_crop_driving_video, vy_ratio_crop_driving_video)
DRIVING_CROP = CropConfig(scale=2.2, offset_x=0.0, offset_y=-0.1, rotate=True)


@dataclass(frozen=True)
class FrameMeasures:
    """What was measured on each frame (rows of frames without a face are NaN, `found` False).

    times [N] seconds; found [N] bool; angles [N, 3] pitch, yaw, roll (degrees, in the crop);
    t [N, 3] and scale [N, 1] (in the crop's normalised units); image_to_crop [N, 3, 3] float64,
    frame pixels -> pixels of the `crop_size` crop; exp [N, 63] the expression (None when not measured).
    """

    times: torch.Tensor
    found: torch.Tensor
    angles: torch.Tensor
    t: torch.Tensor
    scale: torch.Tensor
    image_to_crop: torch.Tensor
    crop_size: int
    exp: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return int(self.times.shape[0])


def measure_chunk(chunk: FrameChunk, detector: FaceDetector, renderer,
                  config: CropConfig = DRIVING_CROP) -> FrameMeasures:
    """Detect the largest face in every frame of the chunk and extract its head pose."""
    n = chunk.frames.shape[0]
    images = chunk.frames.float().div_(255)
    faces = detector.detect(images)
    found = torch.tensor([f.count > 0 for f in faces])
    angles = torch.full((n, 3), float("nan"))
    t = torch.full((n, 3), float("nan"))
    scale = torch.full((n, 1), float("nan"))
    exp = torch.full((n, 63), float("nan"))
    matrices = torch.full((n, 3, 3), float("nan"), dtype=torch.float64)
    index = found.nonzero().flatten()
    if index.numel():
        landmarks = torch.stack([faces[int(i)].landmarks[0] for i in index]).float()
        to_crop = crop_matrix(landmarks, detector.layout, config)
        crops = network_crops(images[index].permute(0, 3, 1, 2), to_crop, config)
        _, motion = renderer.extract_motion(crops)
        motion = motion.cpu()
        angles[index], t[index], scale[index] = motion[:, ANGLES], motion[:, T], motion[:, SCALE]
        exp[index] = motion[:, EXP]
        matrices[index] = to_crop.cpu()
    return FrameMeasures(chunk.times, found, angles, t, scale, matrices, config.size, exp)


def concat_measures(parts: list[FrameMeasures]) -> FrameMeasures:
    if not parts:
        raise ValueError("the driving video has no frames")
    return FrameMeasures(
        times=torch.cat([p.times for p in parts]),
        found=torch.cat([p.found for p in parts]),
        angles=torch.cat([p.angles for p in parts]),
        t=torch.cat([p.t for p in parts]),
        scale=torch.cat([p.scale for p in parts]),
        image_to_crop=torch.cat([p.image_to_crop for p in parts]),
        crop_size=parts[0].crop_size,
        exp=None if any(p.exp is None for p in parts) else torch.cat([p.exp for p in parts]),
    )
