"""What a landmark layout means for cropping and retargeting, and the eye / lip openness ratios.

LivePortrait crops from InsightFace's 106 points and computes its retargeting ratios from its own
203-point model (src/utils/retargeting_utils.py): eye ratio = lid distance / eye-corner distance
per eye, lip ratio = inner-lip distance / mouth-corner distance. A detector backend describes its
landmarks with a `LandmarkLayout`, so the crop and the ratios work with any point set.

FaceMesh (mediapipe canonical topology) indices used, "left" meaning the eye on the image's left
(the subject's right), the order LivePortrait's ratio pairs use:
  left eye:  corners 33 (outer), 133 (inner); lids 159 (upper middle), 145 (lower middle)
  right eye: corners 362 (inner), 263 (outer); lids 386 (upper middle), 374 (lower middle)
  mouth:     corners 61, 291 (outer lip corners); inner lips 13 (upper middle), 14 (lower middle)
  crop extent: the jaw line of the face oval (127 ... 152 ... 356, ear to ear through the chin)
  and both eyebrows, i.e. the same extent as InsightFace's 106 points (contour + brows), which
  LivePortrait's crop scale 2.3 and vertical offset -0.125 were tuned on; FaceMesh's forehead
  points are left out on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LandmarkLayout:
    """Semantic indices into a detector's landmark array."""

    name: str
    num_points: int
    crop_points: tuple[int, ...]
    left_eye: tuple[int, int, int, int]  # corner, corner, upper lid, lower lid
    right_eye: tuple[int, int, int, int]
    mouth: tuple[int, int, int, int]  # corner, corner, upper inner lip, lower inner lip


_JAW = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361,
        323, 454, 356)
_BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276)

FACEMESH_LAYOUT = LandmarkLayout(
    name="facemesh468",
    num_points=468,
    crop_points=_JAW + _BROWS,
    left_eye=(33, 133, 159, 145),
    right_eye=(362, 263, 386, 374),
    mouth=(61, 291, 13, 14),
)


def _distance(points: torch.Tensor, a: int, b: int) -> torch.Tensor:
    return (points[:, a, :2] - points[:, b, :2]).norm(dim=-1)


def eye_centers(points: torch.Tensor, layout: LandmarkLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres [B, 2] of the left and right eye (mean of the two corners and two lids)."""
    return points[:, list(layout.left_eye), :2].mean(1), points[:, list(layout.right_eye), :2].mean(1)


def mouth_center(points: torch.Tensor, layout: LandmarkLayout) -> torch.Tensor:
    """Mid-point [B, 2] of the mouth corners."""
    return points[:, list(layout.mouth[:2]), :2].mean(1)


def eye_ratio(points: torch.Tensor, layout: LandmarkLayout, eps: float = 1e-6) -> torch.Tensor:
    """Eye openness [B, 2] (left, right): lid distance / corner distance (0 = closed, ~0.3 open)."""
    ratios = []
    for corner_a, corner_b, upper, lower in (layout.left_eye, layout.right_eye):
        ratios.append(_distance(points, upper, lower) / (_distance(points, corner_a, corner_b) + eps))
    return torch.stack(ratios, dim=1)


def lip_ratio(points: torch.Tensor, layout: LandmarkLayout, eps: float = 1e-6) -> torch.Tensor:
    """Lip openness [B, 1]: inner-lip distance / mouth-corner distance (0 = closed)."""
    corner_a, corner_b, upper, lower = layout.mouth
    return (_distance(points, upper, lower) / (_distance(points, corner_a, corner_b) + eps))[:, None]
