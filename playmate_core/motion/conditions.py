"""Optional sampler conditions: emotion over time (PLAYMATE_EMOTION) and head pose (PLAYMATE_POSE)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .emotion_ranges import apply_ranges, check_ranges_within, reference_rows

# The emotion tokens of the motion models, in index order. The last one is the "no emotion" (null)
# token used for classifier-free guidance; "neutral" is a real emotion (MEAD's Neutral class).
EMOTION_LABELS = ("neutral", "angry", "disgusted", "contempt", "fear", "happy", "sad", "surprised", "null")
NUM_EMOTION_TOKENS = len(EMOTION_LABELS)
NULL_EMOTION = EMOTION_LABELS.index("null")


def emotion_one_hot(label: str) -> torch.Tensor:
    """[9] weights of one label (case-insensitive)."""
    key = label.strip().lower()
    if key not in EMOTION_LABELS:
        raise ValueError(f"unknown emotion label {label!r}; expected one of {', '.join(EMOTION_LABELS)}")
    weights = torch.zeros(NUM_EMOTION_TOKENS)
    weights[EMOTION_LABELS.index(key)] = 1.0
    return weights


def frames_to_length(values: torch.Tensor, num_frames: int) -> torch.Tensor:
    """[M, C] -> [num_frames, C]: one row is broadcast, longer inputs are trimmed, shorter ones hold
    their last row (the documented rule for per-frame conditions whose length differs from the audio)."""
    if values.shape[0] == 1 or values.shape[0] >= num_frames:
        return values.expand(num_frames, -1) if values.shape[0] == 1 else values[:num_frames]
    hold = values[-1:].expand(num_frames - values.shape[0], -1)
    return torch.cat([values, hold], dim=0)


@dataclass(frozen=True)
class EmotionCondition:
    """Emotion over time: soft weights over the 9 emotion tokens (:data:`EMOTION_LABELS`).

    weights:  [N, 9] float, one row per video frame (rows sum to 1), or [1, 9] for the whole clip.
              A row mixes token embeddings linearly, so a blend of two labels or a schedule of labels
              over time ranges is just a different weight matrix. The last column is the null token.
    guidance: emotion guidance scale w_e carried by the condition; None = the sampler's emotion_cfg.
    ranges:   scheduled time ranges in seconds (:class:`~.emotion_ranges.EmotionRange`) that override the weights
              for the frames inside them; resolved per frame once the fps is known.
    references: [R, 63] expressions of reference photos (:mod:`~.expression_reference`), None = none. They
              need no trained controller: ref1 applies outside the ranges, ranges name refK; the guidance scale
              is then also the strength of their expression offset.
    lip_weight: share of the reference offset on the lip keypoints (0 = lips follow only the audio).

    Rows beyond the motion's length are dropped; a shorter weight matrix holds its last row.
    """

    weights: torch.Tensor
    guidance: float | None = None
    ranges: tuple = ()
    references: torch.Tensor | None = None
    lip_weight: float = 0.0

    def __post_init__(self):
        w = self.weights
        if w.ndim != 2 or w.shape[1] != NUM_EMOTION_TOKENS or w.shape[0] < 1:
            raise ValueError(f"emotion weights must be [N, {NUM_EMOTION_TOKENS}] with N >= 1, got {tuple(w.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise ValueError("emotion weights must be finite and non-negative")
        if not torch.allclose(w.sum(dim=1), torch.ones(w.shape[0], dtype=w.dtype), atol=1e-3):
            raise ValueError("each row of emotion weights must sum to 1 (a convex mix of the emotion tokens)")
        refs = self.references
        if refs is not None and (refs.ndim != 2 or refs.shape[0] < 1 or refs.shape[1] != 63):
            raise ValueError(f"reference expressions must be [R, 63] with R >= 1, got {tuple(refs.shape)}")
        if not 0.0 <= self.lip_weight <= 1.0:
            raise ValueError(f"lip_weight must be within 0 .. 1, got {self.lip_weight:g}")

    @property
    def needs_controller(self) -> bool:
        """True unless reference photos carry the emotion and every label (base and ranges) is neutral."""
        if self.references is None:
            return True
        neutral = emotion_one_hot("neutral")
        labels = [self.weights] + [r.weights[None] for r in self.ranges if r.weights is not None]
        return any(not torch.allclose(w.float(), neutral.expand_as(w)) for w in labels)

    def reference_offset(self, source_exp: torch.Tensor, num_frames: int, fps: float,
                         strength: float) -> torch.Tensor | None:
        """Expression offsets [B, num_frames, 63] of the reference photos for sources with expressions
        source_exp [B, 63] (see :func:`~.expression_reference.expression_offset`); None without references."""
        if self.references is None:
            return None
        from .expression_reference import expression_offset, ramp_weights

        rows = ramp_weights(reference_rows(self.references.shape[0], self.ranges, num_frames, fps), fps)
        return expression_offset(rows, self.references, source_exp, strength, self.lip_weight)

    @classmethod
    def from_label(cls, label: str, guidance: float | None = None) -> "EmotionCondition":
        return cls(emotion_one_hot(label)[None], guidance)

    @classmethod
    def blend(cls, first: str, second: str, amount: float, guidance: float | None = None) -> "EmotionCondition":
        """(1 - amount) * first + amount * second, for the whole clip."""
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"blend amount must be within [0, 1], got {amount}")
        weights = (1.0 - amount) * emotion_one_hot(first) + amount * emotion_one_hot(second)
        return cls(weights[None], guidance)

    def per_frame(self, num_frames: int, fps: float | None = None) -> torch.Tensor:
        """[num_frames, 9] float32 weights; frame i is at time i / fps for the scheduled ranges."""
        weights = frames_to_length(self.weights.float(), num_frames)
        if not self.ranges:
            return weights
        if fps is None:
            raise ValueError("an emotion schedule needs the frame rate to be resolved per frame")
        return apply_ranges(weights, self.ranges, fps)

    def check_duration(self, duration_s: float) -> None:
        """Raise when a scheduled range starts at or after the end of audio lasting duration_s seconds."""
        check_ranges_within(self.ranges, duration_s)


@dataclass(frozen=True)
class PoseSequence:
    """Head pose per video frame, to replace the generated pose.

    values:   [N, 6] float: pitch, yaw, roll in degrees, then tx, ty, tz (LivePortrait units).
    relative: True when the values are offsets from the driving video's first frame; the sampler then
              adds them to the source portrait's pose. False = absolute pose used as is.
    fps:      frames per second of the rows (must equal the audio features' fps).

    expression: [N, 63] or None: the driving face's expression relative to its first frame; the sampler adds
              it (lip keypoints excluded, they stay on the audio) as an expression offset.

    The generated scale is kept; angles and translation are replaced. Rows beyond the motion's length
    are dropped, a shorter sequence holds its last row.
    """

    values: torch.Tensor
    relative: bool = True
    fps: float = 25.0
    expression: torch.Tensor | None = None

    def __post_init__(self):
        v = self.values
        if v.ndim != 2 or v.shape[1] != 6 or v.shape[0] < 1:
            raise ValueError("pose values must be [N, 6] (pitch, yaw, roll, "
                             f"tx, ty, tz) with N >= 1, got {tuple(v.shape)}")
        if not torch.isfinite(v).all():
            raise ValueError("pose values must be finite")
        e = self.expression
        if e is not None and (e.shape != (v.shape[0], 63) or not torch.isfinite(e).all()):
            raise ValueError(f"pose expression must be finite [N, 63] with N = {v.shape[0]} rows, got {tuple(e.shape)}")

    def per_frame(self, num_frames: int) -> torch.Tensor:
        """[num_frames, 6] float32."""
        return frames_to_length(self.values.float(), num_frames)
