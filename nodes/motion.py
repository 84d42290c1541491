"""Motion nodes: load a motion model, sample motion from audio, plot it."""

from __future__ import annotations

import logging

import playmate_core.motion.checkpoint as motion_checkpoint
from playmate_core.motion.file_kind import STAGE1, STAGE2, UNKNOWN, motion_file_stage
from playmate_core.motion.conditions import EmotionCondition, PoseSequence
from playmate_core.motion.generation import MAX_SEED, generate_motion, model_label, resolve_sampling
from playmate_core.motion.models.joyvasa import POSITIONAL_ENCODINGS
from playmate_core.motion.plot import plot_motion
from playmate_core.motion.samplers import SAMPLERS
from playmate_core.public_models import (
    ENCODER_BY_FAMILY, JOYVASA_PUBLIC_NAME, JOYVASA_URL, PLAYMATE_EMOTION_NAME, PLAYMATE_STAGE1_NAME,
)

from . import host
from .audio import NoEmbeddedEncoder
from .loaders import PRECISIONS, resolve_precision
from .model_cache import ModelCache, file_identity
from .spec import choice, integer, link, mappings, node, real

log = logging.getLogger(__name__)
_models = ModelCache()

CATEGORY = "Playmate/motion"


TRAIN_HINT = ("Playmate publishes no weights: train them with this pack (`python -m playmate_core "
              f"train stage1` writes {PLAYMATE_STAGE1_NAME}, `train stage2` writes "
              f"{PLAYMATE_EMOTION_NAME}; see the README's training guide) and put them in that folder.")


def _motion_files(stage: str, *public_names: str, extensions=None) -> list[str]:
    """The files in models/playmate of one stage (from their headers; unreadable files too, so the loader can say
    what is wrong) plus the public names (so shared workflows validate before the file is there; loading then says
    where to get it). Trainer sidecars (<stem>.state.pt) are not models."""
    found = []
    for name in host.list_model_files("playmate", extensions):
        path = host.resolve_model_path("playmate", name)
        if not name.endswith(".state.pt") and (path is None or motion_file_stage(path) in (stage, UNKNOWN)):
            found.append(name)
    return sorted(set(found) | set(public_names))


def _stage1_files() -> list[str]:
    return _motion_files(STAGE1, JOYVASA_PUBLIC_NAME, PLAYMATE_STAGE1_NAME)


def _emotion_choices() -> list[str]:
    return ["none", *_motion_files(STAGE2, PLAYMATE_EMOTION_NAME, extensions=(".safetensors",))]


@node(
    display="Load Motion Model (Playmate)", category=CATEGORY, function="load",
    required={
        "model_name": choice(_stage1_files, JOYVASA_PUBLIC_NAME, "Motion-model file in models/playmate."),
        "device": choice(host.device_choices, "auto", "Where the model runs; auto = the host's compute device "
                                                      "(it loads the model there when needed and may offload "
                                                      "it). The list shows the devices this machine has."),
        "precision": choice(PRECISIONS, "auto", "auto: fp16 on CUDA, fp32 elsewhere. bf16 pays off only "
                                                "on CPUs with AMX or AVX512-BF16 (slower than fp32 "
                                                "without them). The motion statistics always stay fp32."),
        "joyvasa_positional_encoding": choice(POSITIONAL_ENCODINGS, "released",
            "JoyVASA only: 'released' reproduces the published weights' behaviour (a constant "
            "positional offset, as they were trained); 'fixed' is JoyVASA's later per-position encoding."),
        "emotion_model": choice(_emotion_choices, "none",
            "Optional stage-2 emotion controller (e.g. playmate_emotion.safetensors from "
            "`train stage2`) trained on the model_name file; none = no emotion control."),
    },
    outputs={"motion_model": "PLAYMATE_MOTION_MODEL", "audio_encoder": "PLAYMATE_AUDIO_ENCODER"},
)
class PlaymateLoadMotionModel:
    """Loads a stage-1 motion model from models/playmate: a Playmate .safetensors (trained with this pack) or
    JoyVASA's released motion_generator_hubert_chinese.pt (with motion_template.pkl beside it) or its converted
    .safetensors. The file's contents say which family it is. emotion_model adds a stage-2 emotion controller trained
    on that Playmate file (needed by the Emotion node). audio_encoder: JoyVASA's own fine-tuned HuBERT, embedded in
    its file, for Encode Audio (Playmate models carry none: use Load Audio Encoder)."""
    def load(self, model_name, device, precision, joyvasa_positional_encoding, emotion_model="none"):
        path = host.resolve_model_path("playmate", model_name)
        if path is None:
            raise FileNotFoundError(
                f"motion model '{model_name}' is not in {host.default_model_folder('playmate')}. JoyVASA's "
                f"public generator: download {JOYVASA_URL}/motion_generator/{JOYVASA_PUBLIC_NAME} and "
                f"{JOYVASA_URL}/motion_template/motion_template.pkl into that folder. {TRAIN_HINT}"
            )
        emotion_path = None
        if emotion_model != "none":
            emotion_path = host.resolve_model_path("playmate", emotion_model)
            if emotion_path is None:
                raise FileNotFoundError(f"emotion model '{emotion_model}' is not in "
                                        f"{host.default_model_folder('playmate')}. {TRAIN_HINT}")
        target = host.torch_device(device)
        dtype = resolve_precision(precision, target)
        files = [path] if emotion_path is None else [path, emotion_path]
        key = (file_identity(files), str(target), str(dtype), joyvasa_positional_encoding)
        model, encoder = _models.get_or_load(key,
                                             lambda: _load_managed(path, target, dtype, joyvasa_positional_encoding,
                                                                        emotion_path))
        return (model, encoder if encoder is not None else _no_embedded_encoder(model))


def _load_managed(path, target, dtype, positional_encoding, emotion_path):
    """The motion model and its embedded encoder (if any), each handed to the host's model management."""
    model, encoder = motion_checkpoint.load_motion_files(path, host.loading_device(target), dtype, positional_encoding,
                                                         emotion_path=emotion_path)
    host.manage_model(model, target)
    if encoder is not None:
        host.manage_model(encoder, target)
    return model, encoder


def _no_embedded_encoder(model) -> NoEmbeddedEncoder:
    if model.family == "joyvasa":
        return NoEmbeddedEncoder(
            f"{model_label(model)} carries no embedded HuBERT (converted by an older "
            f"version of the pack): convert the released {JOYVASA_PUBLIC_NAME} again "
            "(`python -m playmate_core convert-joyvasa`), or load the released file itself")
    stock = ENCODER_BY_FAMILY.get(model.audio_encoder.split("-")[0], model.audio_encoder)
    return NoEmbeddedEncoder(
        f"{model_label(model)} carries no audio encoder (only JoyVASA files do): connect Load Audio Encoder "
        f"(Playmate) with the encoder it was trained with ({stock}) to Encode Audio's encoder input instead")


@node(
    display="Motion Sampler (Playmate)", category=CATEGORY, function="sample",
    required={
        "model": link("PLAYMATE_MOTION_MODEL", "From Load Motion Model."),
        "source": link("PLAYMATE_SOURCE", "The portrait's keypoints and motion (Extract Keypoints)."),
        "audio_features": link("PLAYMATE_AUDIO_FEATURES", "Per-frame audio features (Encode Audio) from the "
                                                          "encoder the model was trained with, at its fps."),
        "steps": integer(0, 0, 1000, "Denoising steps per window; 0 = the model's own (JoyVASA: 50 ancestral "
                                     "steps as released; Playmate: 25 DDIM steps), shown in the log."),
        "audio_cfg": real(-1.0, -1.0, 10.0, 0.05, "Audio guidance w_a: 0 ignores the audio, 1 plain "
                                                  "conditional, above 1 follows the audio more strongly; "
                                                  "-1 = the model's own (JoyVASA: 4.0 as its app sends, "
                                                  "its CLI uses 2.8; Playmate: 1.5), shown in the log."),
        "emotion_cfg": real(1.5, 0.0, 10.0, 0.05, "Default emotion strength for an emotion input without "
                                                  "a strength of its own. The Emotion node always brings "
                                                  "its own (emotion_scale), which overrides this value; "
                                                  "without an emotion input it has no effect."),
        "seed": integer(0, 0, MAX_SEED, "Same seed and inputs give the same motion.", control_after_generate=True),
        "pose_smoothing": real(0.2, 0.0, 1.0, 0.05, "Smooths the generated head pose (not the lips) for the "
                                                    "render's pack motion mode: a centred Gaussian of up to 0.5 "
                                                    "s at 1.0; 0 = off. The official JoyVASA modes (app, cli, "
                                                    "animal: the default for JoyVASA) use its own EMA instead."),
    },
    optional={
        "emotion": link("PLAYMATE_EMOTION", "Emotion over time (Emotion node): labels need a Playmate model "
                                            "trained with emotion control; reference photos work with every model."),
        "pose": link("PLAYMATE_POSE", "Head pose per frame, e.g. from a driving video: replaces the "
                                      "generated angles and translation; lips still follow the audio."),
        "sampler": choice(SAMPLERS, "auto", "auto = the model's own (Playmate: ddim, JoyVASA: ddpm, i.e. "
                                            "its released ancestral sampler). ddim is deterministic "
                                            "given the start noise; ddpm adds noise every step."),
    },
    outputs={"motion": "PLAYMATE_MOTION"},
)
class PlaymateMotionSampler:
    """Generates head and face motion (70 values per frame: expression, scale, translation, angles) that follows the
    audio, for as many frames as the audio features hold, in windows with a short cross-fade."""
    def sample(self, model, source, audio_features, steps, audio_cfg, emotion_cfg, seed, pose_smoothing,
               emotion: EmotionCondition | None = None, pose: PoseSequence | None = None, sampler="auto"):
        if emotion is not None and emotion.guidance is not None and float(emotion_cfg) != float(emotion.guidance):
            log.info("Playmate Motion Sampler: emotion_cfg %g is overridden by the Emotion node's emotion_scale %g",
                     float(emotion_cfg), float(emotion.guidance))
        steps, audio_cfg, settings = resolve_sampling(model, int(steps), float(audio_cfg))
        log.info("Playmate Motion Sampler: %s", settings)
        with host.models_on_device(model):
            motion = generate_motion(model, source, audio_features, steps=steps, audio_cfg=audio_cfg,
                                     emotion_cfg=float(emotion_cfg), seed=int(seed), emotion=emotion, pose=pose,
                                     pose_smoothing=float(pose_smoothing), sampler=sampler, progress=host.Progress())
        return (motion,)


@node(
    display="Plot Motion (Playmate)", category=CATEGORY, function="plot",
    required={
        "motion": link("PLAYMATE_MOTION", "Motion to draw."),
        "width": integer(1024, 320, 4096, "Image width in pixels.", step=8),
        "height": integer(768, 240, 4096, "Image height in pixels.", step=8),
        "batch_index": integer(0, 0, 4095, "Which sequence of a batch to draw."),
    },
    outputs={"image": "IMAGE"},
)
class PlaymatePlotMotion:
    """Draws the motion's curves over time (mouth openness, head angles, translation and scale) as an image, with an
    emotion's reference expression offset included."""
    def plot(self, motion, width, height, batch_index):
        if batch_index >= motion.motion.shape[0]:
            raise ValueError(f"batch_index {batch_index} is out of range: the "
                             f"motion holds {motion.motion.shape[0]} sequence(s)")
        return (plot_motion(motion.with_offset()[batch_index], motion.fps, int(width), int(height)),)


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(
    PlaymateLoadMotionModel, PlaymateMotionSampler, PlaymatePlotMotion
)
