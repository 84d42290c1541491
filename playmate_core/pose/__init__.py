"""Head pose from a driving video: decoded streamed, face crop per frame, LivePortrait's motion
extractor, relative to the first frame, smoothed, resampled to the output frame rate and length.

Entry points: `pose_from_driving` (a video or IMAGE frames -> PoseEstimate with the PoseSequence), built
from `video_chunks` / `image_chunks` (frames) and `estimate_pose`; `plot_pose`.
"""

from .estimate import PoseEstimate, estimate_pose, pose_from_driving
from .frames import FrameChunk, image_chunks, video_chunks, video_info
from .timeline import LENGTH_POLICIES

__all__ = ["FrameChunk", "LENGTH_POLICIES", "PoseEstimate", "estimate_pose", "image_chunks", "pose_from_driving",
           "video_chunks", "video_info"]
