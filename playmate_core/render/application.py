"""Motion application modes: how a generated motion sequence becomes the driving keypoints of a clip.

`app`, `cli` and `animal` follow the official JoyVASA pipeline's three modes (Gradio app, inference.py
human, inference.py animal) on the sampler's de-normalised output (MotionSequence.generated):

1. EMA pose smoothing on the absolute generated pose [scale, t, pitch, yaw, roll]: s_0 = x_0,
   s_i = a x_i + (1 - a) s_(i-1), a = 0.01 (the weight of the new frame); the expression is not smoothed.
   A driving pose (Pose From Video) then replaces angles and t (it is not smoothed again).
2. Relative to generated frame 0: R_i = R_d,i R_d,0^T R_s, delta_i = delta_s + (delta_d,i - delta_d,0)
   (app / cli: keypoints 6, 12, 14, 17, 19, 20 take delta_d,i as is), s_i = s_s s_d,i / s_d,0 (animal:
   s_s), t_i = t_s + (t_d,i - t_d,0) with tz = 0; x_i = s_i (x_c,s R_i + delta_i) + t_i.
3. app and animal: x_i = x_s + (x_i - x_0) m, m = sqrt(vol hull x_s) / sqrt(vol hull x_0).
4. The expression offset hook (MotionSequence.expression_offset [B or 1, N, 63], if any): x_i += s_i offset_i.
5. app: stitching(x_s, x_i), then the lip normalisation delta (source lip ratio >= 0.03) is added.
6. x_i = x_s + (x_i - x_s) * multiplier (app 1.0, cli and animal 1.10), last.

`pack` is the pack's own application (MotionSequence.motion as the sampler made it), with the Render
node's stitching and eye / lip retargeting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..implicit.keypoints import keypoints_from_motion, rotation_matrix
from ..implicit.motion_vector import EXP, NUM_KP, POSE
from ..implicit.source import SourceFeatures
from ..motion.postprocess import JOYVASA_LIP_KEYPOINTS, ema_smooth
from ..motion.sequence import MotionSequence
from .hull import hull_motion_multiplier

log = logging.getLogger(__name__)

MOTION_MODES = ("auto", "app", "cli", "animal", "pack")
LIP_NORMALIZE_THRESHOLD = 0.03  # source lip-open ratio (compared in float32) from which the app closes the mouth


@dataclass(frozen=True)
class ModeSettings:
    """One official JoyVASA way of applying motion (see the module docstring for the steps)."""

    ema_alpha: float  # weight of the new frame in the pose EMA
    absolute_lip: bool  # keypoints 6, 12, 14, 17, 19, 20 take the generated expression as is
    source_scale: bool  # the scale is the source's (the generated scale is not used)
    relative: bool  # re-anchor the keypoints at x_s with the convex-hull multiplier
    stitching: bool
    lip_normalize: bool
    multiplier: float  # driving multiplier, applied last
    paste: str  # paste-back style: "template" (LivePortrait's mask) or "feather" (the pack's)


OFFICIAL_MODES = {
    "app": ModeSettings(0.01, True, False, True, True, True, 1.0, "template"),
    "cli": ModeSettings(0.01, True, False, False, False, False, 1.10, "template"),
    "animal": ModeSettings(0.01, False, True, True, False, False, 1.10, "template"),
}


def resolve_motion_mode(requested: str, motion: MotionSequence, renderer=None) -> str:
    """The mode a render uses. auto: `animal` for an animal LivePortrait set, `app` for JoyVASA motion,
    `pack` otherwise (Playmate motion, hand-made motion)."""
    if requested not in MOTION_MODES:
        raise ValueError(f"motion_mode must be one of {MOTION_MODES}, got {requested!r}")
    has_generated = getattr(motion, "generated", None) is not None
    if requested == "auto":
        if not has_generated:
            return "pack"
        if getattr(renderer, "species", "human") == "animal":
            return "animal"
        return "app" if getattr(motion, "family", "") == "joyvasa" else "pack"
    if requested != "pack" and not has_generated:
        raise ValueError(
            f"motion_mode '{requested}' needs the generated motion the Motion Sampler keeps; this motion has none "
            "(it was not made by the Motion Sampler, or by an older version): set motion_mode to pack or auto"
        )
    return requested


def check_mode_options(mode: str, eye_open, lip_open) -> None:
    """Retargeting is part of the pack's application only; the official modes set stitching themselves."""
    if mode == "pack":
        return
    for part, target in (("eye", eye_open), ("lip", lip_open)):
        if target is not None:
            raise ValueError(
                f"{part}_retargeting is not part of the official JoyVASA {mode} mode: turn {part}_retargeting off, "
                "or set motion_mode to pack"
            )


def expression_offset_rows(motion: MotionSequence, row: int, num_frames: int) -> torch.Tensor | None:
    """The emotion path's expression offset for one motion row, [N, 21, 3], or None (MotionSequence checks its
    shape)."""
    offset = motion.expression_offset
    if offset is None:
        return None
    return offset[row if offset.shape[0] > 1 else 0].float().reshape(num_frames, NUM_KP, 3)


def source_keypoints(source: SourceFeatures, row: int, device) -> torch.Tensor:
    """x_s [1, 21, 3] float32 of one source portrait."""
    kp = source.kp_canonical[row:row + 1].to(device, torch.float32)
    return keypoints_from_motion(kp, source.motion[row:row + 1].to(device, torch.float32))


def _rotations(pose: torch.Tensor) -> torch.Tensor:
    """[N, 7] (scale, t, pitch, yaw, roll) -> [N, 3, 3]."""
    return rotation_matrix(pose[:, 4], pose[:, 5], pose[:, 6])


def posed_keypoints(source: SourceFeatures, row: int, generated: torch.Tensor, settings: ModeSettings,
                    driving_pose: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 1-2: generated motion [N, 70] -> (posed keypoints [N, 21, 3], driving scale [N, 1]), on
    generated's device. driving_pose [N, 6] (pitch, yaw, roll, tx, ty, tz) replaces the smoothed pose."""
    device = generated.device
    pose = ema_smooth(generated[:, POSE].float(), settings.ema_alpha)
    if driving_pose is not None:
        driving_pose = driving_pose.to(device, torch.float32)
        pose = torch.cat([pose[:, :1], driving_pose[:, 3:], driving_pose[:, :3]], dim=1)
    exp = generated[:, EXP].float().reshape(-1, NUM_KP, 3)
    src = source.motion[row].to(device, torch.float32)
    src_pose, src_exp = src[POSE], src[EXP].reshape(1, NUM_KP, 3)
    rot_d = _rotations(pose)
    rotation = rot_d @ rot_d[:1].transpose(1, 2) @ _rotations(src_pose[None])
    delta = src_exp + (exp - exp[:1])
    if settings.absolute_lip:
        lips = list(JOYVASA_LIP_KEYPOINTS)
        delta[:, lips] = exp[:, lips]
    if settings.source_scale:
        scale = src_pose[None, :1].expand(pose.shape[0], 1)
    else:
        scale = src_pose[:1] * (pose[:, :1] / pose[:1, :1])
    t = src_pose[None, 1:4] + (pose[:, 1:4] - pose[:1, 1:4])
    t[:, 2] = 0
    kp = source.kp_canonical[row:row + 1].to(device, torch.float32)
    x = scale[:, :, None] * (kp @ rotation + delta) + t[:, None, :]
    return x, scale


def official_keypoints(renderer, source: SourceFeatures, row: int, motion: MotionSequence, motion_row: int,
                       mode: str, stages: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Driving keypoints of one clip in an official mode: (x_s [1, 21, 3], x_d [N, 21, 3]) float32 on
    the renderer's device. stages, when a dict, receives every intermediate (for tests and plots)."""
    settings = OFFICIAL_MODES[mode]
    device = renderer.device
    generated = motion.generated[motion_row].to(device)
    driving = None if motion.driving_pose is None else motion.driving_pose[motion_row]
    x_s = source_keypoints(source, row, device)
    x, scale = posed_keypoints(source, row, generated, settings, driving)
    stages = {} if stages is None else stages
    stages["posed"] = x
    if settings.relative:
        stages["multiplier"] = hull_motion_multiplier(x_s[0], x[0])
        x = (x - x[:1]) * stages["multiplier"] + x_s
        stages["relative"] = x
    offset = expression_offset_rows(motion, motion_row, x.shape[0])
    if offset is not None:
        x = x + scale[:, :, None] * offset.to(device)
        stages["offset"] = x
    xs = x_s.expand(x.shape[0], -1, -1)
    if settings.stitching:
        x = renderer.stitch(xs, x)
        stages["stitched"] = x
    lip_ratio = source.lip_ratio
    if settings.lip_normalize and lip_ratio is None:
        log.info("Playmate: lip normalisation skipped: the source has no lip-open ratio (no face landmarks), "
                 "as the official pipeline does without landmarks")
    if settings.lip_normalize and lip_ratio is not None and bool(lip_ratio[row, 0].float() >= LIP_NORMALIZE_THRESHOLD):
        ratio = torch.cat([lip_ratio[row:row + 1, :1].to(device, torch.float32), torch.zeros(1, 1, device=device)], 1)
        stages["lip_delta"] = renderer.lip_delta(x_s, ratio)
        x = x + stages["lip_delta"]
        stages["lip"] = x
    x = xs + (x - xs) * settings.multiplier
    stages["final"] = x
    return x_s, x
