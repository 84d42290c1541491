"""One portrait and a speech clip -> a talking-head MP4, from Python, with the same library calls the nodes make.

    pipe = TalkingHeadPipeline.from_files("models")            # JoyVASA (with its own HuBERT) + LivePortrait
    result = pipe.animate("portrait.png", "speech.wav", "out.mp4", seed=0)
    print(result.path, result.num_frames, result.seconds)

The graph it runs is the node graph: Load Portrait -> Extract Keypoints; Encode Audio; (Emotion);
(Pose From Video); Motion Sampler; Render Video, each step a method here so parts can be reused.
The models folder has ComfyUI's layout (see ``public_models``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch

from .audio import encode_audio, load_audio_encoder, load_audio_file
from .audio.checkpoint import is_complete_folder
from .audio.features import AudioFeatures
from .devices import resolve_device, resolve_precision
from .face.crop import CropConfig
from .face.detector import MediaPipeFaceDetector
from .face.portrait import Portrait, load_portraits, load_region_portraits
from .face.region import Region
from .implicit.checkpoints import NETWORKS, RendererFiles, find_renderer_files
from .implicit.extract import extract_portrait_source
from .implicit.renderer import load_renderer
from .implicit.source import SourceFeatures
from .motion.checkpoint import load_motion_files
from .motion.conditions import EmotionCondition, PoseSequence
from .motion.emotion_schedule import check_reference_indices, label_weights, parse_schedule
from .motion.expression_reference import reference_expressions
from .motion.generation import generate_motion, model_label, resolve_sampling
from .motion.sequence import MotionSequence
from .pose import PoseEstimate, pose_from_driving
from .public_models import ENCODER_BY_FAMILY, ENCODER_GROUPS, GROUPS, JOYVASA_PUBLIC_NAME, missing_files
from .render import Compositor, RenderOptions, render_video

LOG = logging.getLogger("playmate")

DEFAULT_MOTION_MODEL = JOYVASA_PUBLIC_NAME
ENCODE_CHUNK_SECONDS = 30.0
StageProgress = Callable[[str, int, int], None]


class MissingModelsError(FileNotFoundError):
    """Model files absent from the models folder; ``files`` = [(path, download URL or None)]."""

    def __init__(self, models_dir: str, files: list[tuple[str, str | None]], groups: list[str]):
        self.models_dir, self.files, self.groups = models_dir, files, groups
        lines = [f"missing model files in {models_dir}:"]
        lines += [f"  - {path}" + (f"  ({url})" if url else "") for path, url in files]
        if groups:
            lines.append(f"run `python -m playmate_core download --models-dir {models_dir} --only {','.join(groups)}` "
                         "to fetch the public ones")
        if any(url is None for _, url in files):
            lines.append("files without a URL are not published: train them (`python -m playmate_core train`) or "
                         "choose other file names")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ModelPaths:
    """Where each model of a pipeline comes from (absolute paths)."""

    renderer: RendererFiles
    audio_encoder: str | None  # None: the encoder embedded in the motion-model file (JoyVASA)
    motion_model: str
    emotion_model: str | None = None

    @classmethod
    def locate(cls, models_dir: str, motion_model: str = DEFAULT_MOTION_MODEL, emotion_model: str | None = None,
               audio_encoder: str | None = None, liveportrait: str | None = None) -> "ModelPaths":
        """Paths in a models folder; raises MissingModelsError listing every absent file at once.
        audio_encoder None: JoyVASA's embedded HuBERT for JoyVASA files, else the public encoder of the Playmate
        model's encoder family (read from its header). liveportrait: a LivePortrait
        set anywhere, in any accepted layout (a folder or one of its files); None: <models>/liveportrait."""
        missing: list[tuple[str, str | None]] = []
        groups: list[str] = []
        playmate = os.path.join(models_dir, "playmate")
        motion = os.path.join(playmate, motion_model)
        if audio_encoder and is_joyvasa_file(motion):  # before anything is fetched for it
            raise ValueError(f"audio_encoder {audio_encoder!r}: JoyVASA ({motion_model}) is driven by the HuBERT "
                             "embedded in its own file and takes no other encoder; leave audio_encoder unset "
                             "(animate: drop --audio-encoder)")
        audio_encoder = audio_encoder or default_encoder_for(motion)

        def need(group_key: str, folder: str, names=None):
            group = GROUPS[group_key]
            absent = [f for f in missing_files(group, models_dir) if names is None or f.name in names]
            if absent:
                groups.append(group_key)
                missing.extend((os.path.join(folder, f.name), f.url) for f in absent)

        if liveportrait is not None:
            renderer = find_renderer_files(liveportrait)
        else:
            lp = GROUPS["liveportrait"]
            renderer = RendererFiles({n: os.path.join(lp.folder(models_dir), f"{n}.safetensors") for n in NETWORKS},
                                     "kijai")
            need("liveportrait", lp.folder(models_dir))
        encoder = os.path.join(models_dir, "audio_encoders", audio_encoder) if audio_encoder else None
        if audio_encoder in ENCODER_GROUPS:
            if not is_complete_folder(encoder):
                need(ENCODER_GROUPS[audio_encoder].key, encoder)
        elif encoder is not None and not os.path.exists(encoder):
            missing.append((encoder, None))
        if motion_model == JOYVASA_PUBLIC_NAME:
            need("joyvasa", playmate)
        elif not os.path.isfile(motion):
            missing.append((motion, None))
        emotion = os.path.join(playmate, emotion_model) if emotion_model else None
        if emotion is not None and not os.path.isfile(emotion):
            missing.append((emotion, None))
        if missing:
            raise MissingModelsError(models_dir, missing, groups)
        return cls(renderer, encoder, motion, emotion)


def _header_config(motion_path: str) -> dict:
    """A motion .safetensors' metadata (empty when unreadable: the loader says why)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(motion_path, framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return {}


def is_joyvasa_file(motion_path: str) -> bool:
    """JoyVASA's released .pt (the only pickled motion format) or a converted JoyVASA .safetensors."""
    if motion_path.endswith(".safetensors"):
        return os.path.isfile(motion_path) and _header_config(motion_path).get("family") == "joyvasa"
    return motion_path.endswith((".pt", ".pth", ".bin", ".ckpt"))


def default_encoder_for(motion_path: str) -> str | None:
    """The public encoder of the family a Playmate motion-model file was trained on (read from its header only);
    None for JoyVASA files (they carry their own HuBERT) and for files that cannot be read (the loader says why)."""
    if not (motion_path.endswith(".safetensors") and os.path.isfile(motion_path)):
        return None
    try:
        config = json.loads(_header_config(motion_path).get("config", "{}"))
    except ValueError:
        return None
    return ENCODER_BY_FAMILY.get(str(config.get("audio_encoder", "")).split("-")[0])


@dataclass(frozen=True)
class AnimationResult:
    """A finished video and how it was made. seconds: wall time per stage (models, portrait, audio, pose,
    motion, render)."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    seconds: dict[str, float]
    motion: MotionSequence
    pose_report: str | None = None
    sampling: str = ""  # the sampler settings used, e.g. "... 50 steps (the model's own), audio_cfg 4 (...)"


@dataclass
class TalkingHeadPipeline:
    """Loaded models and the steps of the node graph. Build it with :meth:`from_files`."""

    renderer: object
    audio_encoder: object
    motion_model: object
    detector: MediaPipeFaceDetector
    load_seconds: float = 0.0
    crop: CropConfig = field(default_factory=CropConfig)

    @classmethod
    def from_files(cls, models_dir: str, *, motion_model: str = DEFAULT_MOTION_MODEL, emotion_model: str | None = None,
                   audio_encoder: str | None = None, device: str = "auto", precision: str = "auto",
                   detector: str = "auto", joyvasa_positional_encoding: str = "released",
                   liveportrait: str | None = None, compile: bool = False) -> "TalkingHeadPipeline":
        """Load every model from a models folder (names are file / folder names inside its subfolders).
        audio_encoder None: the encoder the motion model was trained with (JoyVASA: the HuBERT embedded in its
        file, with the release windowing; Playmate: the public encoder of its family). JoyVASA takes no other.
        compile: torch.compile warp + decode (a warning says why when it cannot, and rendering stays eager)."""
        start = time.perf_counter()
        paths = ModelPaths.locate(models_dir, motion_model, emotion_model, audio_encoder, liveportrait)
        target = resolve_device(device, "--device")
        dtype = resolve_precision(precision, target)
        renderer = load_renderer(paths.renderer, target, dtype)
        if compile:
            reason = renderer.compile()
            if reason is not None:
                LOG.warning("--compile: %s; rendering without compilation", reason)
        model, embedded = load_motion_files(paths.motion_model, target, dtype, joyvasa_positional_encoding,
                                            emotion_path=paths.emotion_model)
        encoder = _choose_encoder(model, embedded, audio_encoder, paths.audio_encoder, target, dtype)
        return cls(renderer, encoder, model, MediaPipeFaceDetector(detector, target),
                   load_seconds=time.perf_counter() - start)

    def load_portrait(self, image, face_index: int = 0, progress: Callable[[int, int], None] | None = None,
                      crop_mode: str = "face", box: Region | None = None, letterbox: bool = False) -> Portrait:
        """Load Portrait: an image file path or an IMAGE [B, H, W, 3] -> the aligned crop(s). crop_mode "face"
        (detector), "whole image" or "box" (no detector; face.region)."""
        images = load_image_file(image) if isinstance(image, (str, os.PathLike)) else image
        if crop_mode != "face":
            return load_region_portraits(images, crop_mode, box, letterbox=letterbox)
        return load_portraits(images, self.detector, int(face_index), self.crop, progress=progress)

    def extract_source(self, portrait: Portrait, progress: Callable[[int, int], None] | None = None) -> SourceFeatures:
        """Extract Keypoints."""
        return extract_portrait_source(self.renderer, portrait, progress=progress)

    def encode_audio(self, audio, progress: Callable[[int, int], None] | None = None) -> AudioFeatures:
        """Encode Audio at the motion model's frame rate: an audio file path or an AUDIO dict."""
        if isinstance(audio, (str, os.PathLike)):
            audio = load_audio_file(os.fspath(audio))
        return encode_audio(audio, self.audio_encoder, float(self.motion_model.fps), -1,
                            chunk_seconds=ENCODE_CHUNK_SECONDS, progress=progress)

    def driving_pose(self, video, features: AudioFeatures, smoothing: float = 0.3, policy: str = "loop",
                     progress: Callable[[int, int], None] | None = None, expression: bool = False) -> PoseEstimate:
        """Pose From Video, fitted to the encoded audio's frames (expression: its non-lip expression track too)."""
        return pose_from_driving(os.fspath(video) if isinstance(video, os.PathLike) else video, self.detector,
                                 self.renderer, float(features.fps), int(features.num_frames), smoothing, policy,
                                 progress=progress, expression=expression)

    def generate(self, source: SourceFeatures, features: AudioFeatures, *, seed: int = 0, steps: int = 0,
                 audio_cfg: float | None = None, emotion: EmotionCondition | None = None, emotion_cfg: float = 1.5,
                 pose: PoseSequence | None = None, pose_smoothing: float = 0.2, sampler: str = "auto",
                 progress: Callable[[int, int], None] | None = None) -> MotionSequence:
        """Motion Sampler. steps 0 / audio_cfg None = the model's own (JoyVASA 50 ancestral steps and w_a 4.0 as its
        app sends; Playmate 25 DDIM steps and 1.5)."""
        steps, w_a, _ = resolve_sampling(self.motion_model, int(steps), -1.0 if audio_cfg is None else audio_cfg)
        return generate_motion(self.motion_model, source, features, steps=steps, audio_cfg=w_a,
                               emotion_cfg=float(emotion_cfg), seed=int(seed), emotion=emotion, pose=pose,
                               pose_smoothing=float(pose_smoothing), sampler=sampler, progress=progress)

    def check_emotion_support(self) -> None:
        if not self.motion_model.supports_emotion:
            raise ValueError(
                "emotion needs a Playmate motion model with a trained emotion controller; this "
                f"{self.motion_model.family} model has none. Train stage 1 and stage 2 (`python -m "
                "playmate_core train stage1` / `stage2`, see the training guide) and load the pair: "
                "motion model playmate_motion.safetensors with emotion model playmate_emotion.safetensors")

    def animate(self, portrait, audio, out_path: str, *, emotion: str | EmotionCondition | None = None,
                emotion_scale: float = 1.5, emotion_schedule: str = "", emotion_reference=None,
                emotion_lip_weight: float = 0.0, pose_video=None, pose_video_expression: bool = False, seed: int = 0,
                steps: int = 0, audio_cfg: float | None = None, face_index: int = 0, batch_size: int = 8,
                paste_back: bool = True, crf: int = 18, progress: StageProgress | None = None,
                crop_mode: str = "face", box: Region | None = None, letterbox: bool = False,
                motion_mode: str = "auto") -> AnimationResult:
        """Portrait (image path or IMAGE) + audio (file path or AUDIO) -> an H.264/AAC MP4 at out_path (written
        to a hidden temporary file and renamed when complete). emotion: a label ('happy', 'happy+sad@0.3') or an
        EmotionCondition; emotion_schedule: '<start_s> <end_s> <label>' lines (the Emotion node's syntax);
        emotion_reference: reference photos (paths or IMAGEs: ref1, ref2, ...) whose expression the face takes,
        with emotion_scale as strength and emotion_lip_weight its share on the lips (works with every model);
        pose_video_expression: the driving video's non-lip expression too; crop_mode / box / letterbox: as
        load_portrait; motion_mode: how the motion is applied (render.application.MOTION_MODES; auto = app for
        JoyVASA)."""
        condition = self._emotion(emotion, emotion_scale, emotion_schedule, emotion_reference, emotion_lip_weight)
        stages = _StageClock(progress)
        stages.seconds["models"] = self.load_seconds
        with stages("portrait") as report:
            crops = self.load_portrait(portrait, face_index, progress=report, crop_mode=crop_mode, box=box,
                                       letterbox=letterbox)
            source = self.extract_source(crops, progress=report)
        with stages("audio") as report:
            sound = load_audio_file(os.fspath(audio)) if isinstance(audio, (str, os.PathLike)) else audio
            features = self.encode_audio(sound, progress=report)
        estimate = None
        if pose_video is not None:
            with stages("pose") as report:
                estimate = self.driving_pose(pose_video, features, progress=report, expression=pose_video_expression)
        steps, audio_cfg, sampling = resolve_sampling(self.motion_model, int(steps),
                                                      -1.0 if audio_cfg is None else audio_cfg)
        with stages("motion") as report:
            motion = self.generate(source, features, seed=seed, steps=steps, audio_cfg=audio_cfg, emotion=condition,
                                   pose=estimate.pose if estimate else None, progress=report)
        with stages("render") as report:
            options = RenderOptions(batch_size=int(batch_size), motion_mode=motion_mode)
            video = render_video(self.renderer, source, motion, options,
                                 Compositor(crops if paste_back else None), out_path, audio=sound, crf=int(crf),
                                 progress=report)
        return AnimationResult(video.path, video.num_frames, video.fps, video.width, video.height,
                               video.num_frames / video.fps, dict(stages.seconds), motion,
                               estimate.summary() if estimate else None, sampling)

    def reference_expressions(self, references) -> torch.Tensor:
        """Reference photos (paths or IMAGEs) -> their expressions [R, 63] (see motion.expression_reference)."""
        photos = [load_image_file(r, "--emotion-reference") if isinstance(r, (str, os.PathLike)) else r
                  for r in references]
        return reference_expressions(self.renderer, photos, self.detector, "--emotion-reference")

    def _emotion(self, emotion, scale: float, schedule: str, references=None,
                 lip_weight: float = 0.0) -> EmotionCondition | None:
        if emotion is None and not schedule.strip() and not references:
            return None
        if isinstance(emotion, EmotionCondition):
            return emotion
        if not references:
            self.check_emotion_support()
        if not scale >= 0:
            raise ValueError(f"emotion_scale must be 0 or more, got {scale:g}")
        expressions = self.reference_expressions(references) if references else None
        ranges = parse_schedule(schedule)
        check_reference_indices(ranges, 0 if expressions is None else int(expressions.shape[0]))
        return EmotionCondition(label_weights(emotion or "neutral")[None], float(scale), ranges, expressions,
                                float(lip_weight))


def _choose_encoder(model, embedded, requested: str | None, path: str | None, device, dtype):
    """The audio encoder that drives ``model``: JoyVASA's embedded one (never another), else the one at path."""
    if model.family == "joyvasa":
        if requested:  # a JoyVASA file under an unusual name: ModelPaths.locate could not tell
            raise ValueError(f"audio_encoder {requested!r}: {model_label(model)} is driven by "
                             "the HuBERT embedded in its own file and takes no other encoder; "
                             "leave audio_encoder unset (animate: drop --audio-encoder)")
        if embedded is None:
            raise ValueError(f"{model_label(model)} carries no embedded HuBERT (converted by an older version of the "
                             f"pack): convert the released {JOYVASA_PUBLIC_NAME} again with `convert-joyvasa`, or use "
                             "the released file")
        return embedded
    if path is None:
        raise ValueError(f"{model_label(model)} does not say which audio encoder it was trained with: choose one "
                         "(animate: --audio-encoder)")
    return load_audio_encoder(path, dtype=dtype, device=device)


class _StageClock:
    """Times each stage and forwards its progress as progress(stage, done, total)."""

    def __init__(self, progress: StageProgress | None):
        self.progress, self.seconds = progress, {}

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        progress = self.progress
        try:
            yield (lambda done, total: progress(stage, done, total)) if progress else (lambda done, total: None)
        finally:
            self.seconds[stage] = time.perf_counter() - start


def load_image_file(path, what: str = "portrait") -> torch.Tensor:
    """An image file -> IMAGE [1, H, W, 3] float32 in [0, 1] (EXIF rotation applied, as phones store photos).
    what: how errors name the file ('portrait', '--emotion-reference')."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        with Image.open(path) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{what} {path} could not be read as an image ({err})") from err
    data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return data.view(1, rgb.height, rgb.width, 3).float() / 255
