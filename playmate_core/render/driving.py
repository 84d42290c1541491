"""Motion vectors -> the driving keypoints the warping network follows.

The pack's own application (motion mode `pack`; the official JoyVASA modes are in application.py).
Per frame: x_d = keypoints_from_motion(x_c, m) (DESIGN 1.1), then the optional eye / lip
retargeting offsets, then stitching: ``x_d' = stitch(x_s, x_d + eye_delta + lip_delta)``, the
order of LivePortrait's pipeline and of the golden fixture's end-to-end frame.

Retargeting targets are LivePortrait's openness ratios (lid distance / eye-corner distance; inner-lip
distance / mouth-corner distance): the MLPs turn the source's ratio c_s and a target c_d into a
keypoint offset, which is added to every frame. An eye target above the source's ratio opens the
eyes by that much throughout; lip target 0 closes a source mouth that is open in the photo
(LivePortrait's lip normalisation), so the audio-driven lips start from a closed mouth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..implicit.keypoints import keypoints_from_motion
from ..implicit.motion_vector import SCALE
from ..implicit.source import SourceFeatures
from .application import MOTION_MODES


@dataclass(frozen=True)
class RenderOptions:
    """How motion becomes frames.

    batch_size:  frames warped and decoded together (memory grows with it, not with the clip length)
    stitching:   keep the face joined to the shoulders (LivePortrait's stitching MLP); on by default (pack
                 mode; the official modes set it themselves)
    eye_open:    target eye-open ratio for every frame (about 0.3 is an open eye), None = no eye retargeting
    lip_open:    target lip-open ratio for every frame (0 = closed), None = no lip retargeting
    motion_mode: how the motion is applied, one of application.MOTION_MODES (auto, app, cli, animal, pack)
    """

    batch_size: int = 8
    stitching: bool = True
    eye_open: float | None = None
    lip_open: float | None = None
    motion_mode: str = "auto"

    def __post_init__(self):
        if self.motion_mode not in MOTION_MODES:
            raise ValueError(f"motion_mode must be one of {MOTION_MODES}, got {self.motion_mode!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        for name in ("eye_open", "lip_open"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is an openness ratio between 0 and 1 (about 0.3 is open), got {value}")


def check_retargeting(source: SourceFeatures, options: RenderOptions) -> None:
    """Retargeting needs the source's openness ratios, which are measured from landmarks."""
    needs = [("eye", options.eye_open, source.eye_ratio), ("lip", options.lip_open, source.lip_ratio)]
    for part, target, ratio in needs:
        if target is not None and ratio is None:
            raise ValueError(
                f"{part}_retargeting needs the source portrait's {part} openness, measured from human face landmarks, "
                "and this source has none (Load Portrait's crop_mode 'whole image' or 'box', e.g. an animal, finds no "
                f"landmarks): turn {part}_retargeting off, or use crop_mode 'face' on a human portrait"
            )


def driving_keypoints(renderer, source: SourceFeatures, row: int, motion: torch.Tensor,
                      options: RenderOptions,
                      expression_offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints for frames of one source portrait in the pack's own application (`pack` mode).

    row: the source portrait (batch index); motion [n, 70] -> (x_s [n, 21, 3], x_d [n, 21, 3]),
    float32 on the renderer's device. expression_offset [n, 21, 3] (the emotion path's hook) is added
    to the expression, before retargeting and stitching.
    """
    device = renderer.device
    n = motion.shape[0]
    kp_canonical = source.kp_canonical[row:row + 1].to(device, torch.float32)
    x_s = keypoints_from_motion(kp_canonical, source.motion[row:row + 1].to(device, torch.float32)).expand(n, -1, -1)
    x_d = keypoints_from_motion(kp_canonical.expand(n, -1, -1), motion.to(device, torch.float32))
    if expression_offset is not None:
        x_d = x_d + motion[:, SCALE].to(device, torch.float32)[:, :, None] * expression_offset.to(device, torch.float32)
    if options.eye_open is not None:
        c_s = source.eye_ratio[row:row + 1].to(device, torch.float32).expand(n, -1)
        x_d = x_d + renderer.eye_delta(x_s, torch.cat([c_s, _target(options.eye_open, n, device)], dim=1))
    if options.lip_open is not None:
        c_s = source.lip_ratio[row:row + 1].to(device, torch.float32).expand(n, -1)
        x_d = x_d + renderer.lip_delta(x_s, torch.cat([c_s, _target(options.lip_open, n, device)], dim=1))
    if options.stitching:
        x_d = renderer.stitch(x_s, x_d)
    return x_s, x_d


def _target(value: float, n: int, device: torch.device) -> torch.Tensor:
    return torch.full((n, 1), float(value), dtype=torch.float32, device=device)
