"""The two ways out of the renderer: an IMAGE batch in memory, or an MP4 streamed to disk.

render_images keeps every frame (N x H x W x 3 float32: about 3 MB per 512x512 frame, 75 MB per
second at 25 fps), filled in place so there is never a second copy. render_video keeps one chunk:
its memory does not depend on the clip's length.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..implicit.source import SourceFeatures
from ..motion.sequence import MotionSequence
from .compose import Compositor
from .driving import RenderOptions
from .application import resolve_motion_mode
from .frames import Progress, plan_job, render_chunks
from .soundtrack import fit_audio
from .video import VideoWriter, check_writable


def resolve_mode(renderer, motion: MotionSequence, options: RenderOptions,
                 compositor: Compositor) -> tuple[RenderOptions, Compositor]:
    """Options with the motion mode resolved (auto -> app / animal / pack) and the compositor of that mode."""
    mode = resolve_motion_mode(options.motion_mode, motion, renderer)
    return replace(options, motion_mode=mode), compositor.for_mode(mode)


def render_images(renderer, source: SourceFeatures, motion: MotionSequence, options: RenderOptions,
                  compositor: Compositor, progress: Progress | None = None) -> torch.Tensor:
    """All frames as one IMAGE [clips * N, H, W, 3] float32 on the CPU (clips in plan_job order)."""
    job = plan_job(source, motion)
    options, compositor = resolve_mode(renderer, motion, options, compositor)
    compositor.check_rows(source.batch_size)
    height, width = compositor.size()
    images = torch.empty(job.total_frames, height, width, 3)
    filled = 0
    for row, renders in render_chunks(renderer, source, motion, options, progress):
        frames = compositor(row, renders)
        images[filled:filled + frames.shape[0]] = frames
        filled += frames.shape[0]
    return images


@dataclass(frozen=True)
class VideoFile:
    """A finished MP4: where it is and what it holds."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    has_audio: bool


def render_video(renderer, source: SourceFeatures, motion: MotionSequence, options: RenderOptions,
                 compositor: Compositor, path: str, audio: dict | None = None, crf: int = 18,
                 metadata: dict | None = None, progress: Progress | None = None) -> VideoFile:
    """Render chunk by chunk straight into an H.264 MP4 at `path`, with the audio (cut or padded to
    the frames) muxed as AAC. Nothing appears at `path` unless the whole clip was written."""
    job = plan_job(source, motion)
    options, compositor = resolve_mode(renderer, motion, options, compositor)
    compositor.check_rows(source.batch_size)
    height, width = compositor.size()
    check_writable(path)
    fitted = fit_audio(audio, job.num_frames, job.fps, repeats=len(job.pairs)) if audio is not None else None
    with VideoWriter(path, job.fps, width, height, audio=fitted, crf=crf, metadata=metadata) as writer:
        for row, renders in render_chunks(renderer, source, motion, options, progress):
            writer.write(compositor(row, renders))
    return VideoFile(path=writer.path, num_frames=writer.frames_written, fps=job.fps, width=width, height=height,
                     has_audio=fitted is not None)
