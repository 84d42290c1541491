"""Emotion without training: the expression of reference photos, as an offset added to generated motion.

Each reference photo is cropped like a portrait (face pipeline, LivePortrait's source crop) and read by
LivePortrait's motion extractor; its 63 expression values e_ref are kept. Per frame i the offset is

    offset_i = strength * sum_r w_i,r (e_ref,r - e_src) * lip_mask

with w_i [R] the reference weights of the emotion schedule (ramped at range edges) and e_src the source
portrait's own expression, the neutral baseline: at strength 1 the face takes the reference's expression
(the speech movement still adds on top), at 0.5 it is half way from its own, and a reference identical to
the source adds nothing. lip_mask is lip_weight on JoyVASA's lip keypoints (0 = lips follow only the
audio) and 1 elsewhere. The renderer adds the offset to the driving keypoints as x_d += s_d * offset.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..face.crop import CropConfig
from ..face.portrait import as_rgb_images, load_portraits
from ..implicit.motion_vector import EXP, EXP_DIM, NUM_KP
from .postprocess import JOYVASA_LIP_KEYPOINTS

# Length of the raised-cosine ramp centred on every schedule edge, in seconds.
REFERENCE_RAMP_SECONDS = 0.4

# Keypoint groups for reports, from LivePortrait's expression-editing controls (brows 1, 2; eyes / gaze
# 11, 13, 15, 16) and JoyVASA's lip set; the rest move with the cheeks, nose and jaw.
KEYPOINT_GROUPS = {
    "brows": (1, 2),
    "eyes": (11, 13, 15, 16),
    "lips": JOYVASA_LIP_KEYPOINTS,
    "other": tuple(k for k in range(NUM_KP) if k not in (1, 2, 11, 13, 15, 16, *JOYVASA_LIP_KEYPOINTS)),
}


def reference_expressions(renderer, images: torch.Tensor | Sequence[torch.Tensor], detector,
                          input_name: str = "reference") -> torch.Tensor:
    """Reference photos -> their expressions [R, 63] (float32, CPU), one per photo (the largest face).

    images: an IMAGE batch [R, H, W, C] or a list of images of any sizes (RGBA / gray accepted). Raises
    ValueError naming input_name and the photo (refK) when a photo has no usable face."""
    photos = list(images.unbind(0)) if isinstance(images, torch.Tensor) and images.dim() == 4 else list(images)
    if not photos:
        raise ValueError(f"{input_name} holds no images")
    crops = []
    for k, photo in enumerate(photos):
        where = f"{input_name} image {k + 1} of {len(photos)} (ref{k + 1})"
        try:
            portrait = load_portraits(as_rgb_images(photo, "the photo"), detector, 0, CropConfig())
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        crops.append(portrait.crops)
    _, motion = renderer.extract_motion(torch.cat(crops).to(renderer.device))
    return motion[:, EXP].float().cpu()


def ramp_weights(weights: torch.Tensor, fps: float, ramp_s: float = REFERENCE_RAMP_SECONDS) -> torch.Tensor:
    """[N, R] per-frame weights -> the same with every step turned into a raised-cosine ramp of ramp_s
    seconds centred on it (edges of the clip replicated, so the first and last frames keep their value).
    Frames farther than half a ramp from any step keep their value exactly."""
    taps = int(round(ramp_s * fps))
    if taps < 2 or weights.shape[0] < 2:
        return weights
    taps += 1 - taps % 2  # odd: symmetric around each frame
    kernel = torch.hann_window(taps + 2, periodic=False, dtype=torch.float64)[1:-1]
    kernel = kernel / kernel.sum()
    radius = taps // 2
    x = F.pad(weights.double().t()[:, None], (radius, radius), mode="replicate")  # [R, 1, N + 2 radius]
    ramped = F.conv1d(x, kernel.view(1, 1, -1))[:, 0].t()
    window = x[:, 0].unfold(1, taps, 1)  # [R, N, taps]
    steady = (window.amax(-1) == window.amin(-1)).t()
    return torch.where(steady, weights.double(), ramped).to(weights.dtype)


def lip_mask(lip_weight: float) -> torch.Tensor:
    """[63] multipliers: lip_weight on the lip keypoints' three coordinates, 1 elsewhere."""
    if not 0.0 <= lip_weight <= 1.0:
        raise ValueError(f"lip_weight must be within 0 .. 1, got {lip_weight:g}")
    mask = torch.ones(NUM_KP, 3)
    mask[list(JOYVASA_LIP_KEYPOINTS)] = float(lip_weight)
    return mask.reshape(EXP_DIM)


def expression_offset(weights: torch.Tensor, references: torch.Tensor, source_exp: torch.Tensor,
                      strength: float, lip_weight: float) -> torch.Tensor:
    """weights [N, R] (ramped), references [R, 63], source expressions [B, 63] -> offsets [B, N, 63]:
    strength * (w @ e_ref - sum(w) e_src) * lip_mask, all in float32."""
    w, refs, src = weights.float(), references.float().to(weights.device), source_exp.float().to(weights.device)
    mixed = (w @ refs)[None] - w.sum(dim=1)[None, :, None] * src[:, None]
    return float(strength) * mixed * lip_mask(lip_weight).to(w.device)


def group_magnitudes(offset: torch.Tensor) -> dict[str, float]:
    """offset [..., 63] -> the mean absolute value per keypoint group (KEYPOINT_GROUPS), over everything."""
    per_kp = offset.reshape(-1, NUM_KP, 3).abs()
    return {name: float(per_kp[:, list(kps)].mean()) for name, kps in KEYPOINT_GROUPS.items()}
