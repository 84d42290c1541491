"""Driving frames -> PoseSequence (the PLAYMATE_POSE payload the motion sampler consumes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ..face.detector import FaceDetector
from ..motion.conditions import PoseSequence
from .frames import FrameChunk, image_chunks, video_chunks, video_info
from .measure import DRIVING_CROP, concat_measures, measure_chunk
from .relative import fill_missing, relative_pose
from .timeline import fit_length, resample, smooth


@dataclass(frozen=True)
class PoseEstimate:
    """The result and what happened on the way.

    pose: the PoseSequence at the output fps; video_pose [K, 6] the relative pose at the video's
    own frames (smoothed), video_times [K] seconds, found [K] whether a face was detected (the
    others were interpolated), video_fps, policy.
    """

    pose: PoseSequence
    video_pose: torch.Tensor
    video_times: torch.Tensor
    found: torch.Tensor
    video_fps: float
    policy: str

    @property
    def frames_without_face(self) -> int:
        return int((~self.found).sum())

    def summary(self) -> str:
        k, n = int(self.found.shape[0]), int(self.pose.values.shape[0])
        video_seconds = float(self.video_times[-1]) + 1 / self.video_fps
        lines = [f"driving video: {k} frames at {self.video_fps:g} fps ({video_seconds:.2f} s analysed)"]
        missing = self.frames_without_face
        if missing:
            lines.append(f"no face in {missing} frame(s) ({_ranges(~self.found)}): interpolated from their neighbours")
        else:
            lines.append("a face was found in every frame")
        fit = {"loop": "looped", "ping_pong": "played back and forth", "hold_last": "last pose held",
               "trim": "kept at the video's length"}[self.policy]
        lines.append(f"pose: {n} frames at {self.pose.fps:g} fps ({n / self.pose.fps:.2f} s; when shorter: {fit})")
        return "\n".join(lines)


def estimate_pose(chunks: Iterable[FrameChunk], detector: FaceDetector, renderer, fps: float,
                  num_frames: int | None = None, smoothing: float = 0.3, policy: str = "loop",
                  video_fps: float | None = None,
                  progress: Callable[[int], None] | None = None, expression: bool = False) -> PoseEstimate:
    """Pose relative to the driving video's first frame, smoothed, at `fps`, num_frames long (None: the
    video's own duration). video_fps: the frames' rate (for smoothing and the last frame's duration);
    by default estimated from the timestamps. progress(frames_done) is called after each chunk.
    expression: also the face's expression track, relative to the same frame and treated the same way
    (PoseSequence.expression)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    parts, done = [], 0
    for chunk in chunks:
        parts.append(measure_chunk(chunk, detector, renderer, DRIVING_CROP))
        done += chunk.frames.shape[0]
        if progress is not None:
            progress(done)
    measures = concat_measures(parts)
    rate = video_fps or _rate_from_times(measures.times)
    video_pose, _ = relative_pose(measures)
    reference = int(measures.found.nonzero()[0])
    video_pose = smooth(video_pose, smoothing, rate)
    video_pose = video_pose - video_pose[reference]  # relative to the (smoothed) first face again
    values = resample(video_pose, measures.times, fps, 1 / rate)
    values = fit_length(values, num_frames or values.shape[0], policy)
    track = None
    if expression:
        track = smooth(fill_missing(measures.exp, measures.found), smoothing, rate)
        track = track - track[reference]
        track = fit_length(resample(track, measures.times, fps, 1 / rate), num_frames or values.shape[0],
                           policy).float()
    return PoseEstimate(PoseSequence(values.float(), relative=True, fps=float(fps), expression=track), video_pose,
                        measures.times, measures.found, float(rate), policy)


def pose_from_driving(driving, detector: FaceDetector, renderer, fps: float, num_frames: int | None = None,
                      smoothing: float = 0.3, policy: str = "loop", images_fps: float = 25.0,
                      progress: Callable[[int, int], None] | None = None, expression: bool = False) -> PoseEstimate:
    """estimate_pose on a driving video (a path or BytesIO: decoded streamed) or an IMAGE batch [K, H, W, 3]
    at images_fps. With num_frames, only the part of the driving clip the output needs is decoded.
    progress(frames_done, frames_total) as frames are measured."""
    max_seconds = (num_frames + 1) / fps if num_frames else None
    if isinstance(driving, torch.Tensor):
        video_fps, total = float(images_fps), int(driving.shape[0])
        chunks = image_chunks(driving, video_fps, max_seconds=max_seconds)
    else:
        video_fps, total = video_info(driving)
        chunks = video_chunks(driving, max_seconds=max_seconds)
    if max_seconds is not None and total:
        total = min(total, int(max_seconds * video_fps) + 1)
    report = None if progress is None else (lambda done: progress(min(done, total or done), total or done))
    return estimate_pose(chunks, detector, renderer, float(fps), num_frames, float(smoothing), policy,
                         video_fps=video_fps, progress=report, expression=expression)


def _rate_from_times(times: torch.Tensor) -> float:
    if times.shape[0] < 2:
        return 25.0
    step = float((times[1:] - times[:-1]).median())
    return 1 / step if step > 0 else 25.0


def _ranges(mask: torch.Tensor) -> str:
    """'3-5, 9' for the indices where mask is True (at most six ranges listed)."""
    idx = mask.nonzero().flatten().tolist()
    spans, start = [], None
    for i, j in zip(idx, idx[1:] + [None]):
        start = i if start is None else start
        if j != i + 1:
            spans.append(f"{start}" if start == i else f"{start}-{i}")
            start = None
    listed = ", ".join(spans[:6])
    return "frames " + listed + (", ..." if len(spans) > 6 else "")
