"""From per-frame measures to head pose relative to the first frame, in one fixed frame of reference.

Each frame was cropped on its own (levelled, centred, zoomed); the crop of the first frame with a
face is the reference. The map from frame t's crop to the reference crop is a similarity T_t
(rotation phi_t, zoom k_t, shift d_t) in LivePortrait's normalised keypoint coordinates, so the
keypoints x = s (x_c R + exp) + t seen in crop t are, in the reference crop,
k_t Rot(phi_t) x + d_t. Hence (exactly, since LivePortrait's rotation is Rz(roll) Ry Rx with the
roll outermost):

    roll  = roll_crop + phi_t            pitch, yaw as measured
    t_xy  = k_t Rot(phi_t) t_crop + d_t  scale = k_t s_crop

Angles follow LivePortrait's convention: y points down, so a positive roll turns the head
clockwise on screen. Relative values are differences from the reference frame; tz is left at 0
(LivePortrait never uses it).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .measure import FrameMeasures

# LivePortrait's keypoints address the 64x64 feature grid corner to corner (x = -1 at the centre of
# the first cell, +1 at the last), and the decoder renders each cell as crop_size / 64 pixels.
FEATURE_GRID = 64


def crop_normaliser(size: int) -> torch.Tensor:
    """[3, 3] crop pixels -> normalised keypoint coordinates (float64)."""
    half = size / 2 * (FEATURE_GRID - 1) / FEATURE_GRID
    centre = (size - 1) / 2
    return torch.tensor([[1 / half, 0, -centre / half], [0, 1 / half, -centre / half], [0, 0, 1]], dtype=torch.float64)


def fill_missing(values: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """[N, C] with rows where found is False replaced by linear interpolation between the nearest
    frames with a face (held at the ends)."""
    if bool(found.all()):
        return values
    index = np.arange(values.shape[0], dtype=np.float64)
    known = found.nonzero().flatten().numpy()
    data = values.double().numpy()
    columns = [np.interp(index, index[known], data[known, c]) for c in range(values.shape[1])]
    return torch.from_numpy(np.stack(columns, axis=1)).to(values.dtype)


def relative_pose(measures: FrameMeasures) -> tuple[torch.Tensor, torch.Tensor]:
    """(pose [N, 6] pitch, yaw, roll degrees, tx, ty, tz relative to the first frame with a face,
    scale [N] relative zoom of the face) with missing frames interpolated."""
    found = measures.found
    if not bool(found.any()):
        raise ValueError(
            "no face was found in any frame of the driving video: use a video with a visible, roughly frontal face"
        )
    ref = int(found.nonzero()[0])
    norm = crop_normaliser(measures.crop_size)
    safe = torch.where(found[:, None, None], measures.image_to_crop, torch.eye(3, dtype=torch.float64))
    to_reference = norm @ safe[ref] @ torch.linalg.inv(safe) @ torch.linalg.inv(norm)  # crop t -> reference crop
    linear = to_reference[:, :2, :2]
    zoom = linear.det().abs().sqrt()
    phi = torch.atan2(linear[:, 1, 0], linear[:, 0, 0]) * (180 / math.pi)
    t_xy = (linear @ measures.t[:, :2, None].double()).squeeze(-1) + to_reference[:, :2, 2]
    angles = measures.angles.double().clone()
    angles[:, 2] = angles[:, 2] + phi
    absolute = torch.cat([angles, t_xy, torch.zeros_like(t_xy[:, :1])], dim=1)
    scale = zoom * measures.scale[:, 0].double()
    absolute = fill_missing(absolute, found)
    scale = fill_missing(scale[:, None], found)[:, 0]
    pose = absolute - absolute[ref]
    return pose.float(), (scale / scale[ref]).float()
