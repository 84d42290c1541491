"""Render nodes: motion -> frames (Render Frames, an IMAGE batch) or straight to an MP4 (Render Video).

Both take the renderer, the source (appearance + keypoints: what rendering needs) and the motion,
then the render options, then the optional portrait (only paste-back needs the photo and the crop
placement) and the optional audio (cut to the rendered frames).
"""

from __future__ import annotations

import torch

from playmate_core.face.portrait import Portrait
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.sequence import MotionSequence
from playmate_core.render import Compositor, RenderOptions, fit_audio, plan_job, render_images, render_video
from playmate_core.render.application import MOTION_MODES

from . import host
from .spec import boolean, choice, integer, link, mappings, node, real, text

SILENCE_RATE = 16000


RENDER_INPUTS = {
    "renderer": link("PLAYMATE_RENDERER", "The LivePortrait networks (Load LivePortrait)."),
    "source": link("PLAYMATE_SOURCE", "The portrait in the implicit space (Extract Keypoints): "
                                      "appearance, keypoints, pose, eye/lip openness."),
    "motion": link("PLAYMATE_MOTION", "Motion per frame (Motion Sampler). Its fps is the video's fps."),
    "batch_size": integer(8, 1, 256, "Frames rendered together. Memory grows with it, not with "
                                     "the clip length; lower it if you run out of memory (on "
                                     "the GPU, out-of-memory chunks are retried in halves)."),
    "stitching": boolean(True, "Keep the face joined to the shoulders and the background "
                               "(LivePortrait's stitching). Leave on unless you render the face alone."),
    "eye_retargeting": boolean(False, "Shift the eye openness of every frame toward eye_open "
                                      "(LivePortrait's eye retargeting). Needs a source from a Load "
                                      "Portrait output with crop_mode 'face' (human face landmarks)."),
    "eye_open": real(0.3, 0.0, 0.8, 0.01, "Target eye-open ratio (lid gap / eye width; about 0.3 "
                                          "is open, 0 closed). Used when eye_retargeting is on."),
    "lip_retargeting": boolean(False, "Shift the lip openness of every frame toward lip_open. With "
                                      "lip_open 0 it closes a mouth that is open in the photo, so speech "
                                      "starts from a closed mouth (LivePortrait's lip normalisation)."),
    "lip_open": real(0.0, 0.0, 0.8, 0.01, "Target lip-open ratio (inner-lip gap / mouth "
                                          "width; 0 closed). Used when lip_retargeting is on."),
    "paste_back": boolean(True, "On: the face is pasted back into the original photo "
                                "(needs the portrait input). Off: the 512x512 face crop."),
    "feather": real(0.1, 0.0, 0.9, 0.01, "Width of the paste-back mask's soft edge, as "
                                         "a fraction of half the crop (0 = hard edge)."),
}
OPTIONAL_INPUTS = {
    "portrait": link("PLAYMATE_PORTRAIT", "The portrait from Load Portrait: the "
                                          "photo and crop placement paste-back needs."),
    "audio": link("AUDIO", "The speech to go with the video; it is cut (or "
                           "padded with silence) to exactly the rendered frames."),
    "motion_mode": choice(MOTION_MODES, "auto", (
        "How the motion drives the face. app: the official JoyVASA Gradio app (EMA-smoothed pose, motion "
        "relative to the photo, stitching, mouth closed first, LivePortrait's paste-back mask). cli: "
        "JoyVASA's inference.py (lip shapes absolute, no stitching, motion x1.10). animal: JoyVASA's "
        "animal mode. pack: this pack's livelier application (uses stitching, retargeting, feather and "
        "the sampler's pose_smoothing). auto: app for JoyVASA, animal for an animal LivePortrait set, "
        "pack otherwise. stitching, eye/lip retargeting and feather apply to pack only.")),
}


def _prepare(source, motion, portrait, batch_size, stitching, eye_retargeting, eye_open, lip_retargeting, lip_open,
             paste_back, feather, motion_mode):
    """Validate the linked inputs and build the options and compositor."""
    if not isinstance(source, SourceFeatures):
        raise TypeError(f"source must come from Extract Keypoints (PLAYMATE_SOURCE), got {type(source).__name__}")
    if not isinstance(motion, MotionSequence):
        raise TypeError(f"motion must come from the Motion Sampler (PLAYMATE_MOTION), got {type(motion).__name__}")
    if paste_back and portrait is None:
        raise ValueError(
            "paste_back is on but no portrait is connected: connect the Load Portrait "
            "output to 'portrait', or turn paste_back off to get the 512x512 crop"
        )
    if portrait is not None and not isinstance(portrait, Portrait):
        raise TypeError(f"portrait must come from Load Portrait (PLAYMATE_PORTRAIT), got {type(portrait).__name__}")
    options = RenderOptions(
        batch_size=int(batch_size),
        stitching=bool(stitching),
        eye_open=float(eye_open) if eye_retargeting else None,
        lip_open=float(lip_open) if lip_retargeting else None,
        motion_mode=str(motion_mode),
    )
    compositor = Compositor(portrait if paste_back else None, float(feather))
    job = plan_job(source, motion)
    return options, compositor, job


@node(
    display="Render Frames (Playmate)", category="Playmate", function="render",
    required=RENDER_INPUTS,
    optional=OPTIONAL_INPUTS,
    outputs={"images": "IMAGE", "audio": "AUDIO", "fps": "FLOAT", "frame_count": "INT"},
)
class PlaymateRenderFrames:
    """Warp and decode the portrait along the motion, in chunks of batch_size frames (interruptible), then paste it
    back into the photo or keep the 512x512 crop. Outputs the frames (even sizes), the audio cut to exactly those
    frames, the fps and the frame count: connect them to Create Video / Save Video. Every frame stays in memory
    (about 3 MB per 512x512 frame); for long clips use Render Video."""

    def render(self, renderer, source, motion, batch_size, stitching, eye_retargeting, eye_open, lip_retargeting,
               lip_open, paste_back, feather, portrait=None, audio=None, motion_mode="auto"):
        options, compositor, job = _prepare(source, motion, portrait, batch_size, stitching, eye_retargeting, eye_open,
                                            lip_retargeting, lip_open, paste_back, feather, motion_mode)
        with host.models_on_device(renderer):
            images = render_images(renderer, source, motion, options, compositor, host.Progress(job.total_frames))
        if audio is None:
            audio = {"waveform": torch.zeros(1, 1, 0), "sample_rate": SILENCE_RATE}
        fitted = fit_audio(audio, job.num_frames, job.fps, repeats=len(job.pairs))
        return (images, fitted, job.fps, job.total_frames)


@node(
    display="Render Video (Playmate)", category="Playmate", function="render", output_node=True,
    required={
        **RENDER_INPUTS,
        "filename_prefix": text("Playmate/talking_head", "Output file name under ComfyUI's output folder; may "
                                                         "contain a subfolder. A counter and .mp4 are appended."),
        "crf": integer(18, 0, 51, "H.264 quality: lower is better and larger (18 "
                                  "is visually lossless, 23 the x264 default)."),
    },
    optional=OPTIONAL_INPUTS,
    hidden={"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
    outputs={"video": "VIDEO", "file_path": "STRING"},
)
class PlaymateRenderVideo:
    """Render chunk by chunk straight into an H.264 MP4 with the audio muxed as AAC, in ComfyUI's output folder.
    Memory does not grow with the clip's length. The file appears only when complete (a cancelled render leaves
    nothing). Outputs the video (for Save Video or other video nodes) and its path."""

    def render(self, renderer, source, motion, batch_size, stitching, eye_retargeting, eye_open, lip_retargeting,
               lip_open, paste_back, feather, filename_prefix, crf, portrait=None, audio=None, prompt=None,
               extra_pnginfo=None, motion_mode="auto"):
        options, compositor, job = _prepare(source, motion, portrait, batch_size, stitching, eye_retargeting, eye_open,
                                            lip_retargeting, lip_open, paste_back, feather, motion_mode)
        compositor.check_rows(source.batch_size)
        height, width = compositor.size()
        path, subfolder, name = host.save_file_path(filename_prefix, "mp4", width, height)
        with host.models_on_device(renderer):
            result = render_video(renderer, source, motion, options, compositor, path, audio=audio, crf=int(crf),
                                  metadata=_workflow_metadata(prompt, extra_pnginfo),
                                  progress=host.Progress(job.total_frames))
        preview = {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}], "animated": (True,)}
        return {"ui": preview, "result": (host.video_from_file(result.path), result.path)}


def _workflow_metadata(prompt, extra_pnginfo) -> dict | None:
    """The prompt and workflow, embedded the way Save Video does (so the MP4 drops back into the UI)."""
    if host.disable_metadata():
        return None
    metadata = dict(extra_pnginfo or {})
    if prompt is not None:
        metadata["prompt"] = prompt
    return metadata or None


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymateRenderFrames, PlaymateRenderVideo)
