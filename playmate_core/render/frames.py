"""Chunked rendering: source portrait(s) + motion sequence -> frames, a few at a time.

Only one chunk of ``batch_size`` frames exists on the device at any moment, so memory is flat in
the number of frames. ``progress(done, total)`` is called before the first chunk and after each
one; raising from it (the host does on Cancel) stops the render between chunks. On an
out-of-memory error a chunk is retried in halves (the host's upscale-node pattern), down to one
frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from ..implicit.motion_vector import MOTION_DIM
from ..implicit.source import SourceFeatures
from ..motion.sequence import MotionSequence
from .application import check_mode_options, expression_offset_rows, official_keypoints, resolve_motion_mode
from .driving import RenderOptions, check_retargeting, driving_keypoints

Progress = Callable[[int, int], None]
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


@dataclass(frozen=True)
class RenderJob:
    """Which motion row drives which source portrait, in output order.

    pairs: (source row, motion row) per rendered clip. Clips are rendered one after another.
    """

    pairs: tuple[tuple[int, int], ...]
    num_frames: int
    fps: float

    @property
    def total_frames(self) -> int:
        return len(self.pairs) * self.num_frames


def plan_job(source: SourceFeatures, motion: MotionSequence) -> RenderJob:
    """Match source portraits with motion rows: equal batches pair up row by row; one portrait
    with several motion rows renders each take; several portraits with one row all follow it."""
    m = motion.motion
    if m.ndim != 3 or m.shape[-1] != MOTION_DIM:
        raise ValueError(f"motion must be [B, N, {MOTION_DIM}] motion vectors, got shape {tuple(m.shape)}")
    if m.shape[1] == 0:
        raise ValueError("motion has no frames: the audio was empty or the sampler produced nothing")
    if not motion.fps > 0:
        raise ValueError(f"motion fps must be positive, got {motion.fps}")
    if not bool(torch.isfinite(m).all()):
        raise ValueError("motion contains NaN or infinite values: the motion sampler "
                         "diverged (try another seed or a lower guidance scale)")
    n_src, n_mot = source.batch_size, int(m.shape[0])
    if n_src == n_mot:
        pairs = tuple((i, i) for i in range(n_src))
    elif n_src == 1:
        pairs = tuple((0, i) for i in range(n_mot))
    elif n_mot == 1:
        pairs = tuple((i, 0) for i in range(n_src))
    else:
        raise ValueError(
            f"the source has {n_src} portraits but the motion has {n_mot} rows: they must be equal, or one of them 1 "
            "(generate the motion from the same source batch)"
        )
    return RenderJob(pairs=pairs, num_frames=int(m.shape[1]), fps=float(motion.fps))


def render_chunks(renderer, source: SourceFeatures, motion: MotionSequence, options: RenderOptions,
                  progress: Progress | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (source row, frames [n, 3, 512, 512] float32 in [0, 1] on the renderer's device).

    The official motion modes compute a whole clip's driving keypoints first (they anchor at frame 0 and
    smooth causally; 63 numbers per frame), then render them chunk by chunk."""
    job = plan_job(source, motion)
    mode = resolve_motion_mode(options.motion_mode, motion, renderer)
    check_mode_options(mode, options.eye_open, options.lip_open)
    if mode == "pack":
        check_retargeting(source, options)
    total, done = job.total_frames, 0
    if progress is not None:
        progress(0, total)
    device = renderer.device
    for src_row, mot_row in job.pairs:
        appearance = source.appearance[src_row:src_row + 1].to(device)
        clip = None
        if mode != "pack":
            with torch.inference_mode():
                clip = official_keypoints(renderer, source, src_row, motion, mot_row, mode)
        offset = expression_offset_rows(motion, mot_row, job.num_frames) if clip is None else None
        for start in range(0, job.num_frames, options.batch_size):
            stop = min(start + options.batch_size, job.num_frames)
            with torch.inference_mode():
                if clip is None:
                    x_s, x_d = driving_keypoints(renderer, source, src_row, motion.motion[mot_row, start:stop], options,
                                                 None if offset is None else offset[start:stop])
                else:
                    x_s, x_d = clip[0].expand(stop - start, -1, -1), clip[1][start:stop]
            for frames in _render_with_backoff(renderer, appearance, x_s, x_d):
                yield src_row, frames
            done += stop - start
            if progress is not None:
                progress(done, total)


def _render_with_backoff(renderer, appearance, x_s, x_d) -> Iterator[torch.Tensor]:
    frames = None
    try:
        with torch.inference_mode():
            frames = renderer.render(appearance.expand(x_d.shape[0], *appearance.shape[1:]), x_s, x_d)
    except OUT_OF_MEMORY:
        if x_d.shape[0] == 1:
            raise
    if frames is not None:
        yield frames
        return
    _release_cache(renderer.device)  # outside the except block, so the failed chunk's tensors are freed
    half = x_d.shape[0] // 2
    yield from _render_with_backoff(renderer, appearance, x_s[:half], x_d[:half])
    yield from _render_with_backoff(renderer, appearance, x_s[half:], x_d[half:])


def _release_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
