"""Training windows drawn from a MotionDataset: random clips, random windows, identity and emotion conditions.

Each batch: an anchor clip is drawn uniformly; the batch's window length is w = min(W, its frame count), and
the other rows come uniformly from the clips at least w frames long. So short clips (MEAD's are 3-5 s) are used,
as shorter windows, which also teaches the short last window of a long generation. A row uses the learned
first-window history (use_start) with probability start_prob, or when its clip has no room for the P prefix
frames; such rows take the clip's first w frames, the others a random window after P frames of history.
The identity condition (the "source") is a random frame of a random clip of the same identity: its canonical
keypoints and expression, with the identity's mean pose (at inference the portrait's pose is the centre of the
generated pose). In stage 2 that clip is one labelled neutral or unlabelled when the identity has one, so the
emotion is learnt from the label and not read off an already emotional source expression.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, fields

import torch

from ..motion.conditions import EMOTION_LABELS, NULL_EMOTION, NUM_EMOTION_TOKENS
from ..motion.models.base import WindowConditions
from ..motion.normalization import AdaptiveNormalizer


@dataclass
class WindowBatch:
    """motion [B, w, 70] normalised target; prev_motion [B, P, 70] normalised; audio [B, w, D]; prev_audio
    [B, P, D]; kp_canonical [B, 21, 3]; source_motion [B, 70] absolute; use_start [B] bool;
    emotion [B, w, 9] or None."""

    motion: torch.Tensor
    prev_motion: torch.Tensor
    audio: torch.Tensor
    prev_audio: torch.Tensor
    kp_canonical: torch.Tensor
    source_motion: torch.Tensor
    use_start: torch.Tensor
    emotion: torch.Tensor | None = None

    def to(self, device) -> "WindowBatch":
        return WindowBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                              for f in fields(self)})

    def conditions(self) -> WindowConditions:
        """drop_audio is all False here: diffusion_forward draws the guidance dropout."""
        b = self.motion.shape[0]
        return WindowConditions(audio=self.audio, drop_audio=torch.zeros(b, dtype=torch.bool, device=self.audio.device),
                                prev_motion=self.prev_motion, prev_audio=self.prev_audio,
                                kp_canonical=self.kp_canonical, source_motion=self.source_motion,
                                emotion=self.emotion, use_start=self.use_start)


def emotion_index(label: str | None, where: str) -> int:
    """Token index of a data set's emotion label (case-insensitive); None = the null token."""
    if label is None:
        return NULL_EMOTION
    key = label.strip().lower()
    if key not in EMOTION_LABELS or key == "null":
        valid = ", ".join(name for name in EMOTION_LABELS if name != "null")
        raise ValueError(f"{where}: emotion label {label!r} is not one of {valid}; relabel the clip "
                         "(or set it to null)")
    return EMOTION_LABELS.index(key)


class WindowSampler:
    """Draws WindowBatch-es from a data set (anything with .clips, .load(i) -> Clip, as MotionDataset).

    with_emotion: stage 2; clips without a label train the null token (they are "emotion unknown", exactly what
    the null token means at inference), labelled clips their label's token.
    """

    def __init__(self, dataset, normalizer: AdaptiveNormalizer, *, window: int, num_prev: int, start_prob: float,
                 with_emotion: bool = False, min_frames: int | None = None):
        self.dataset, self.normalizer = dataset, normalizer
        self.window, self.num_prev, self.start_prob = int(window), int(num_prev), float(start_prob)
        self.min_frames = int(min_frames if min_frames is not None else max(2, window // 8))
        lengths = [(int(c["num_frames"]), i) for i, c in enumerate(dataset.clips)
                   if int(c["num_frames"]) >= self.min_frames]
        if not lengths:
            raise ValueError(f"no clip in the data set has at least {self.min_frames} frames: nothing to train on")
        lengths.sort()
        self.lengths = [n for n, _ in lengths]
        self.indices = [i for _, i in lengths]
        self.excluded = len(dataset.clips) - len(lengths)
        self.with_emotion = with_emotion
        self.labels = [emotion_index(c.get("emotion"), f"clip {c['key']} ({c.get('source', '')})")
                       for c in dataset.clips]
        if with_emotion and all(self.labels[i] == NULL_EMOTION for i in self.indices):
            raise ValueError("stage 2 needs emotion labels, but no clip of this data set has one: prepare it with "
                             "labels (e.g. MEAD's emotion folders)")
        calm = (NULL_EMOTION, EMOTION_LABELS.index("neutral"))
        by_identity: dict[str, list[int]] = {}
        for i, c in enumerate(dataset.clips):
            by_identity.setdefault(c["identity"], []).append(i)
        self.source_clips = {}
        for identity, clips in by_identity.items():
            neutral = [i for i in clips if self.labels[i] in calm]
            self.source_clips[identity] = neutral if with_emotion and neutral else clips

    def _draw(self, high: int, generator: torch.Generator) -> int:
        return int(torch.randint(high, (1,), generator=generator))

    def sample(self, batch_size: int, generator: torch.Generator) -> WindowBatch:
        anchor = self._draw(len(self.indices), generator)
        w = min(self.window, self.lengths[anchor])
        first = bisect.bisect_left(self.lengths, w)
        rows = [anchor] + [first + self._draw(len(self.indices) - first, generator) for _ in range(batch_size - 1)]
        starts = torch.rand(batch_size, generator=generator) < self.start_prob
        parts = [self._row(self.indices[r], w, bool(s), generator) for r, s in zip(rows, starts)]
        batch = {name: torch.stack([p[name] for p in parts]) for name in parts[0]}
        return WindowBatch(**batch)

    def _row(self, index: int, w: int, start: bool, generator: torch.Generator) -> dict:
        clip = self.dataset.load(index)
        n, p = clip.motion.shape[0], self.num_prev
        start = start or n < p + w
        s = 0 if start else p + self._draw(n - p - w + 1, generator)
        candidates = self.source_clips[clip.identity]
        other = self.dataset.load(candidates[self._draw(len(candidates), generator)])
        frame = self._draw(other.motion.shape[0], generator)
        pose_mean = clip.pose_mean.float()
        source = torch.cat([other.motion[frame, :63].float(), pose_mean])
        coded = self.normalizer.normalize_with_center(clip.motion.float()[None], pose_mean[None])[0]
        audio = clip.audio.float()
        if start:
            prev_motion, prev_audio = torch.zeros(p, 70), torch.zeros(p, audio.shape[1])
        else:
            prev_motion, prev_audio = coded[s - p:s], audio[s - p:s]
        row = {"motion": coded[s:s + w], "prev_motion": prev_motion, "audio": audio[s:s + w], "prev_audio": prev_audio,
               "kp_canonical": other.kp_canonical[frame].float(), "source_motion": source,
               "use_start": torch.tensor(start)}
        if self.with_emotion:
            row["emotion"] = torch.zeros(w, NUM_EMOTION_TOKENS)
            row["emotion"][:, self.labels[index]] = 1.0
        return row
