"""Emotion schedules: a label (or a blend of two) per time range in seconds, parsed from text.

One range per line, in any of these forms (``#`` starts a comment, blank lines are ignored):

    0 2.5 happy          start end label
    2.5-4: sad           start-end: label
    4, 6, angry          commas between the fields
    6s 8s happy+sad@0.3  an optional 's' after the numbers; a blend of two labels (30 % sad)
    8 10 ref2            a reference photo of the Emotion node (ref1, ref2, ... in batch order)
    10 12 ref1+neutral@0.5   references blend like labels (here: half of ref1's expression offset)

A term is a label (for a trained emotion controller) or a reference photo refK (its expression offset).
A range that names no label keeps the node's label for the controller; a range that names no reference
adds no reference offset.

Ranges are half-open [start, end): a frame at time t = i / fps takes the range with start <= t < end;
frames outside every range keep the condition's base emotion.
"""

from __future__ import annotations

import re

import torch

from .conditions import EMOTION_LABELS, NULL_EMOTION, EmotionCondition, emotion_one_hot
from .emotion_ranges import EmotionRange

USER_LABELS = tuple(label for i, label in enumerate(EMOTION_LABELS) if i != NULL_EMOTION)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_LINE = re.compile(
    rf"^(?P<start>{_NUMBER})\s*(?:s\b)?(?:\s*(?:-|,|\bto\b)\s*|\s+)(?P<end>{_NUMBER})\s*(?:s\b)?\s*[:,]?\s*(?P<label>\S.*)$"
)
_BLEND = re.compile(rf"^(?P<first>[a-z]+\d*)\s*\+\s*(?P<second>[a-z]+\d*)\s*(?:@\s*(?P<amount>{_NUMBER}))?$")
_REFERENCE = re.compile(r"^ref(?P<index>\d+)$")


def label_weights(label: str) -> torch.Tensor:
    """[9] weights of 'happy' or of a blend 'happy+sad@0.3' (= 0.7 happy + 0.3 sad; no '@' means 0.5)."""
    weights, references = spec_weights(label)
    if references:
        raise ValueError(f"'{label}' names a reference photo: references (ref1, ref2, ...) belong in the emotion "
                         "schedule of an Emotion node with reference images")
    return weights


def spec_weights(label: str) -> tuple[torch.Tensor | None, tuple[tuple[int, float], ...]]:
    """'happy', 'ref1' or a blend of two such terms ('happy+ref1@0.3' = 0.7 happy, 0.3 ref1; no '@' means 0.5)
    -> (token weights [9] of the label terms renormalised to sum 1, None without a label term;
    ((0-based reference index, weight), ...))."""
    key = label.strip().lower()
    blend = _BLEND.match(key)
    if blend is None:
        terms = [(key, 1.0)]
    else:
        amount = 0.5 if blend["amount"] is None else float(blend["amount"])
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"blend amount in '{label}' must be within 0 .. 1, got {amount:g}")
        terms = [(blend["first"], 1.0 - amount), (blend["second"], amount)]
    tokens, references = torch.zeros(len(EMOTION_LABELS)), []
    for term, weight in terms:
        reference = _REFERENCE.match(term)
        if reference is None:
            _check_label(term)
            tokens += weight * emotion_one_hot(term)
        elif int(reference["index"]) < 1:
            raise ValueError(f"'{term}': reference photos are numbered from ref1")
        else:
            references.append((int(reference["index"]) - 1, weight))
    mass = float(tokens.sum())
    return (tokens / mass if mass > 0 else None), tuple(references)


def _check_label(label: str) -> None:
    if label not in USER_LABELS:
        raise ValueError(f"unknown emotion label '{label}'; valid labels: {', '.join(USER_LABELS)} (a blend is "
                         "written first+second@amount, e.g. happy+sad@0.3; reference photos are ref1, ref2, ...)")


def parse_schedule(text: str) -> tuple[EmotionRange, ...]:
    """Schedule text -> ranges sorted by start. Raises ValueError naming the line for a malformed line, an unknown
    label, start < 0, end <= start, or two overlapping ranges (both lines named)."""
    ranges = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"emotion schedule line {number} ('{line}')"
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{where}: expected '<start_s> <end_s> <label>' or '<start>-<end>: <label>', "
                             "e.g. '0 2.5 happy'")
        start, end = float(match["start"]), float(match["end"])
        if start < 0:
            raise ValueError(f"{where}: start {start:g} s is negative; times are seconds from the audio's start")
        if end <= start:
            raise ValueError(f"{where}: end {end:g} s must be after start {start:g} s")
        try:
            weights, references = spec_weights(match["label"])
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        ranges.append(EmotionRange(start, end, weights, number, line, references))
    ranges.sort(key=lambda r: (r.start_s, r.line))
    for before, after in zip(ranges, ranges[1:]):
        if after.start_s < before.end_s:
            raise ValueError(f"emotion schedule ranges overlap: {before.describe()} covers {before.start_s:g}-"
                             f"{before.end_s:g} s and {after.describe()} starts at {after.start_s:g} s")
    return tuple(ranges)


def check_reference_indices(ranges: tuple[EmotionRange, ...], num_refs: int) -> None:
    """A range naming refK needs at least K reference photos: say which line and how many there are."""
    for r in ranges:
        for index, _ in r.references:
            if index >= num_refs:
                held = (f"the Emotion node's reference input holds {num_refs} image(s) (ref1 .. ref{num_refs})"
                        if num_refs else "no reference images are connected to the Emotion node's reference input")
                raise ValueError(f"emotion schedule {r.describe()} names ref{index + 1} but {held}")


def build_emotion(label: str, scale: float | None = None, blend_with: str = "none", blend_amount: float = 0.5,
                  schedule: str = "", references: torch.Tensor | None = None,
                  lip_weight: float = 0.0) -> EmotionCondition:
    """The Emotion node's inputs -> an EmotionCondition: the base label (optionally blended,
    (1 - blend_amount) * label + blend_amount * blend_with) for the whole clip, overridden by the schedule's ranges.
    references [R, 63]: expressions of reference photos (ref1 applies outside the ranges); lip_weight: share of
    their offset on the lip keypoints."""
    _check_label(label.strip().lower())
    if scale is not None and not 0.0 <= scale:
        raise ValueError(f"emotion_scale must be 0 or more, got {scale:g}")
    if blend_with == "none":
        base = EmotionCondition.from_label(label, scale)
    else:
        _check_label(blend_with.strip().lower())
        base = EmotionCondition.blend(label, blend_with, blend_amount, scale)
    ranges = parse_schedule(schedule)
    check_reference_indices(ranges, 0 if references is None else int(references.shape[0]))
    return EmotionCondition(base.weights, scale, ranges, references, float(lip_weight))
