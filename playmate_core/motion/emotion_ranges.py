"""Emotion over time ranges: which video frames a scheduled range covers and what it gives them.

Ranges are half-open [start, end) in seconds: a frame at time t = i / fps takes the range with
start <= t < end; frames outside every range keep the condition's base emotion (and reference ref1).
:mod:`.emotion_schedule` parses ranges from text; :class:`~.conditions.EmotionCondition` resolves them per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EmotionRange:
    """One scheduled range: [start_s, end_s) seconds -> weights [9] over the emotion tokens (None: the range
    names no label), references ((0-based photo index, weight), ...) for reference photos.

    line: 1-based line number in the schedule text; text: that line as written (for error messages)."""

    start_s: float
    end_s: float
    weights: torch.Tensor | None
    line: int
    text: str
    references: tuple[tuple[int, float], ...] = ()

    def describe(self) -> str:
        return f"line {self.line} ('{self.text}')"


def check_ranges_within(ranges: tuple[EmotionRange, ...], duration_s: float) -> None:
    """A range that starts at or after the audio's end would never apply: say so."""
    for r in ranges:
        if r.start_s >= duration_s:
            raise ValueError(f"emotion schedule {r.describe()} starts at {r.start_s:g} s but the audio lasts only "
                             f"{duration_s:g} s: shorten the schedule or use longer audio")


def apply_ranges(base: torch.Tensor, ranges: tuple[EmotionRange, ...], fps: float) -> torch.Tensor:
    """base [N, 9] per-frame weights -> a copy where the frames at i / fps inside a range take its weights."""
    out = base.clone()
    times = torch.arange(base.shape[0], dtype=torch.float64) / float(fps)
    for r in ranges:
        if r.weights is not None:
            out[_inside(times, r)] = r.weights.to(out.dtype)
    return out


def reference_rows(num_refs: int, ranges: tuple[EmotionRange, ...], num_frames: int, fps: float) -> torch.Tensor:
    """[N, R] per-frame reference weights before ramping: ref1 outside the ranges, each range's references
    (none for a label-only range) inside it."""
    out = torch.zeros(num_frames, num_refs, dtype=torch.float64)
    out[:, 0] = 1.0
    times = torch.arange(num_frames, dtype=torch.float64) / float(fps)
    for r in ranges:
        row = torch.zeros(num_refs, dtype=torch.float64)
        for index, weight in r.references:
            row[index] += weight
        out[_inside(times, r)] = row
    return out


def _inside(times: torch.Tensor, r: EmotionRange) -> torch.Tensor:
    return (times >= r.start_s) & (times < r.end_s)
