"""Rendering: motion -> driving keypoints -> stitching / retargeting -> warp -> decode, in chunks,
then the crop or a paste-back into the photo, as an IMAGE batch or a streamed MP4 with audio.

Entry points: `RenderOptions`, `Compositor`, `render_images`, `render_video`, `VideoWriter`,
`fit_audio`.
"""

from .compose import Compositor, even_size
from .driving import RenderOptions, driving_keypoints
from .frames import RenderJob, plan_job, render_chunks
from .outputs import VideoFile, render_images, render_video
from .soundtrack import fit_audio, samples_for_frames
from .video import VideoWriter

__all__ = [
    "Compositor",
    "RenderJob",
    "RenderOptions",
    "VideoFile",
    "VideoWriter",
    "driving_keypoints",
    "even_size",
    "fit_audio",
    "plan_job",
    "render_chunks",
    "render_images",
    "render_video",
    "samples_for_frames",
]
