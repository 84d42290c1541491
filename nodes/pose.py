"""Pose From Video: head pose of a driving video (or IMAGE frames), for the motion sampler."""

from __future__ import annotations

import logging

import torch

from playmate_core.audio.features import AudioFeatures
from playmate_core.pose import LENGTH_POLICIES, pose_from_driving
from playmate_core.pose.plot import plot_pose

from . import host
from .portrait import DETECTORS, _detector
from .spec import boolean, choice, link, mappings, node, real

log = logging.getLogger(__name__)


@node(
    display="Pose From Video (Playmate)", category="Playmate", function="estimate",
    required={
        "renderer": link("PLAYMATE_RENDERER", "The LivePortrait networks (Load LivePortrait): "
                                              "its motion extractor measures the head pose."),
        "detector": choice(DETECTORS, "auto", "Face detector for the driving frames (as in Load "
                                              "Portrait). The largest face of each frame is used."),
        "smoothing": real(0.3, 0.0, 1.0, 0.05, "Smooths the pose over time: a centred Gaussian (no "
                                               "lag) of up to 0.5 s at 1.0; 0 = raw per-frame pose."),
        "length_policy": choice(LENGTH_POLICIES, "loop", "When the driving video is shorter than the audio: "
                                                         "loop it, play it back and forth (ping_pong), hold "
                                                         "its last pose (hold_last), or trim (keep the "
                                                         "video's length; the sampler then holds the last "
                                                         "pose). A longer video is cut to the audio."),
        "fps": real(25.0, 1.0, 120.0, 0.5, "Frame rate of the pose when no audio_features "
                                           "are connected (with them, theirs is used)."),
        "images_fps": real(25.0, 1.0, 120.0, 0.5, "Frame rate of the images input (a VIDEO input carries its own)."),
    },
    optional={
        "video": link("VIDEO", "The driving video (Load Video). It is decoded "
                               "frame by frame and downscaled, never loaded whole."),
        "images": link("IMAGE", "Driving frames as an IMAGE batch instead of "
                                "a video (from any loader), at images_fps."),
        "audio_features": link("PLAYMATE_AUDIO_FEATURES", "The encoded audio the motion is generated from: "
                                                          "the pose gets its frame rate and frame count."),
        "expression": boolean(False, "Also take the face's expression from the video (brows, eyes, "
                                     "cheeks; relative to its first frame): lips from the audio, "
                                     "everything else from the video. Off = only the head pose."),
    },
    outputs={"pose": "PLAYMATE_POSE", "pose_curves": "IMAGE", "report": "STRING"},
)
class PlaymatePoseFromVideo:
    """Measure the head pose (pitch, yaw, roll, translation) in every frame of a driving video with the face detector
    and LivePortrait's motion extractor, relative to the first frame, smoothed, resampled to the audio's frame rate
    and length. Connect it to the Motion Sampler's pose input: the head follows the video, expression and lips still
    follow the audio. Frames without a face are interpolated (the report says how many)."""

    def estimate(self, renderer, detector, smoothing, length_policy, fps, images_fps, video=None, images=None,
                 audio_features=None, expression=False):
        if (video is None) == (images is None):
            raise ValueError("connect the driving frames to exactly one input: "
                             "'video' (a VIDEO) or 'images' (an IMAGE batch)")
        num_frames = None
        if audio_features is not None:
            if not isinstance(audio_features, AudioFeatures):
                raise TypeError(f"audio_features must come from Encode Audio, got {type(audio_features).__name__}")
            fps, num_frames = float(audio_features.fps), int(audio_features.num_frames)
        driving = host.video_stream_source(video) if video is not None else _check_images(images)
        with host.models_on_device(renderer):
            result = pose_from_driving(driving, _detector(detector), renderer, float(fps), num_frames,
                                       float(smoothing), length_policy, images_fps=float(images_fps),
                                       progress=host.Progress(), expression=bool(expression))
        report = result.summary() + _unused_rates(audio_features, video)
        log.info("Playmate Pose From Video:\n%s", report)
        return (result.pose, plot_pose(result), report)


def _unused_rates(audio_features, video) -> str:
    """Report lines naming the rate widgets this connection leaves unused (so a changed value is not a mystery)."""
    lines = []
    if audio_features is not None:
        lines.append(f"fps widget not used: the pose takes the audio features' {float(audio_features.fps):g} fps")
    if video is not None:
        lines.append("images_fps widget not used: the video carries its own frame rate")
    return "".join("\n" + line for line in lines)


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[-1] not in (3, 4):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be an IMAGE batch [N, H, W, 3], got {shape}")
    if images.shape[0] == 0:
        raise ValueError("the driving images batch has no frames")
    return images


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymatePoseFromVideo)
