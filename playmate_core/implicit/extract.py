"""A portrait batch -> its PLAYMATE_SOURCE: the networks' source features plus the landmark eye/lip ratios
(None for crops made without face landmarks: Load Portrait's "whole image" and "box" modes)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import torch

from .source import SourceFeatures

if TYPE_CHECKING:
    from ..face.portrait import Portrait

SOURCE_CHUNK = 8


def extract_portrait_source(renderer, portrait: "Portrait", chunk_size: int = SOURCE_CHUNK,
                            progress: Callable[[int, int], None] | None = None) -> SourceFeatures:
    """Appearance volume, canonical keypoints and source motion of every crop (``chunk_size`` crops per
    forward pass), with the portrait's eye / lip ratios. progress(done, total) is called before the
    first chunk and after each one (it may raise to cancel)."""
    total = portrait.batch_size
    parts = []
    for start in range(0, total, chunk_size):
        if progress is not None:
            progress(start, total)
        parts.append(renderer.extract_source(portrait.crops[start:start + chunk_size]))
    if progress is not None:
        progress(total, total)
    device = parts[0].motion.device
    return dataclasses.replace(
        parts[0],
        appearance=torch.cat([p.appearance for p in parts]),
        kp_canonical=torch.cat([p.kp_canonical for p in parts]),
        motion=torch.cat([p.motion for p in parts]),
        eye_ratio=_on(portrait.eye_ratio, device),
        lip_ratio=_on(portrait.lip_ratio, device),
    )


def _on(ratio: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if ratio is None else ratio.to(device, torch.float32)
