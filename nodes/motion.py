"""Motion nodes: load a motion model, sample motion from audio, plot it."""

from __future__ import annotations

import playmate_core.motion.checkpoint as motion_checkpoint
from playmate_core.motion.conditions import EmotionCondition, PoseSequence
from playmate_core.motion.generation import MAX_SEED, generate_motion
from playmate_core.motion.models.joyvasa import POSITIONAL_ENCODINGS
from playmate_core.motion.plot import plot_motion
from playmate_core.motion.samplers import SAMPLERS
from playmate_core.public_models import JOYVASA_PUBLIC_NAME, JOYVASA_URL, PLAYMATE_EMOTION_NAME, PLAYMATE_STAGE1_NAME

from . import host
from .loaders import PRECISIONS, resolve_precision
from .model_cache import ModelCache, file_identity

_models = ModelCache()

CATEGORY = "Playmate/motion"


TRAIN_HINT = ("Playmate publishes no weights: train them with this pack (`python -m playmate_core train stage1` writes "
              f"{PLAYMATE_STAGE1_NAME}, `train stage2` writes {PLAYMATE_EMOTION_NAME}; see the README's training guide) "
              "and put them in that folder.")


def _motion_files(*public_names: str, extensions=None) -> list[str]:
    """The files in models/playmate plus the public names (so shared workflows validate before the file is there;
    loading then says where to get it). Trainer sidecars (<stem>.state.pt) are not models."""
    found = [f for f in host.list_model_files("playmate", extensions) if not f.endswith(".state.pt")]
    return sorted(set(found) | set(public_names))


class PlaymateLoadMotionModel:
    DESCRIPTION = ("Loads a stage-1 motion model from models/playmate: a Playmate .safetensors (trained with this pack) "
                   "or JoyVASA's released motion_generator_hubert_chinese.pt (with motion_template.pkl beside it) or its "
                   "converted .safetensors. The file's contents say which family it is. emotion_model adds a stage-2 "
                   "emotion controller trained on that Playmate file (needed by the Emotion node).")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = ("PLAYMATE_MOTION_MODEL",)
    RETURN_NAMES = ("motion_model",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model_name": (_motion_files(JOYVASA_PUBLIC_NAME, PLAYMATE_STAGE1_NAME),
                           {"default": JOYVASA_PUBLIC_NAME, "tooltip": "Motion-model file in models/playmate."}),
            "device": (host.device_choices(), {"default": "auto", "tooltip": "Where the model runs; auto = the host's compute device (it loads the model there when needed and may offload it). The list shows the devices this machine has."}),
            "precision": (PRECISIONS, {"default": "auto", "tooltip": "auto: fp16 on CUDA, fp32 elsewhere. bf16 is faster on recent CPUs. The motion statistics always stay fp32."}),
            "joyvasa_positional_encoding": (list(POSITIONAL_ENCODINGS), {"default": "released", "tooltip": "JoyVASA only: 'released' reproduces the published weights' behaviour (a constant positional offset, as they were trained); 'fixed' is JoyVASA's later per-position encoding."}),
            "emotion_model": (["none", *_motion_files(PLAYMATE_EMOTION_NAME, extensions=(".safetensors",))], {"default": "none", "tooltip": "Optional stage-2 emotion controller (e.g. playmate_emotion.safetensors from `train stage2`) trained on the model_name file; none = no emotion control."}),
        }}

    def load(self, model_name, device, precision, joyvasa_positional_encoding, emotion_model="none"):
        path = host.resolve_model_path("playmate", model_name)
        if path is None:
            raise FileNotFoundError(
                f"motion model '{model_name}' is not in {host.default_model_folder('playmate')}. JoyVASA's public "
                f"generator: download {JOYVASA_URL}/motion_generator/{JOYVASA_PUBLIC_NAME} and "
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
        model = _models.get_or_load(key, lambda: host.manage_model(motion_checkpoint.load_motion_model(
            path, host.loading_device(target), dtype, joyvasa_positional_encoding, emotion_path=emotion_path), target))
        return (model,)


class PlaymateMotionSampler:
    DESCRIPTION = ("Generates head and face motion (70 values per frame: expression, scale, translation, angles) that "
                   "follows the audio, for as many frames as the audio features hold, in windows with a short cross-fade.")
    CATEGORY = CATEGORY
    FUNCTION = "sample"
    RETURN_TYPES = ("PLAYMATE_MOTION",)
    RETURN_NAMES = ("motion",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("PLAYMATE_MOTION_MODEL", {"tooltip": "From Load Motion Model."}),
                "source": ("PLAYMATE_SOURCE", {"tooltip": "The portrait's keypoints and motion (Extract Keypoints)."}),
                "audio_features": ("PLAYMATE_AUDIO_FEATURES", {"tooltip": "Per-frame audio features (Encode Audio) from the encoder the model was trained with, at its fps."}),
                "steps": ("INT", {"default": 25, "min": 1, "max": 1000, "tooltip": "Denoising steps per window. Playmate: DDIM, 25 is plenty. JoyVASA was released with 50 ancestral steps ('ddpm')."}),
                "audio_cfg": ("FLOAT", {"default": 1.5, "min": 0.0, "max": 10.0, "step": 0.05, "tooltip": "Audio guidance w_a: 0 ignores the audio, 1 plain conditional, above 1 follows the audio more strongly. JoyVASA's release uses 2.8."}),
                "emotion_cfg": ("FLOAT", {"default": 1.5, "min": 0.0, "max": 10.0, "step": 0.05, "tooltip": "Emotion guidance w_e, used with an emotion input that carries no scale of its own."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True, "tooltip": "Same seed and inputs give the same motion."}),
                "pose_smoothing": ("FLOAT", {"default": 0.2, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": "Smooths the generated head pose (not the lips): a centred Gaussian of up to 0.5 s at 1.0; 0 = off."}),
            },
            "optional": {
                "emotion": ("PLAYMATE_EMOTION", {"tooltip": "Emotion over time (needs a Playmate model trained with emotion control)."}),
                "pose": ("PLAYMATE_POSE", {"tooltip": "Head pose per frame, e.g. from a driving video: replaces the generated angles and translation; lips still follow the audio."}),
                "sampler": (list(SAMPLERS), {"default": "auto", "tooltip": "auto = the model's own (Playmate: ddim, JoyVASA: ddpm, i.e. its released ancestral sampler). ddim is deterministic given the start noise; ddpm adds noise every step."}),
            },
        }

    def sample(self, model, source, audio_features, steps, audio_cfg, emotion_cfg, seed, pose_smoothing,
               emotion: EmotionCondition | None = None, pose: PoseSequence | None = None, sampler="auto"):
        with host.models_on_device(model):
            motion = generate_motion(model, source, audio_features, steps=int(steps), audio_cfg=float(audio_cfg),
                                     emotion_cfg=float(emotion_cfg), seed=int(seed), emotion=emotion, pose=pose,
                                     pose_smoothing=float(pose_smoothing), sampler=sampler, progress=host.Progress())
        return (motion,)


class PlaymatePlotMotion:
    DESCRIPTION = "Draws the motion's curves over time (mouth openness, head angles, translation and scale) as an image."
    CATEGORY = CATEGORY
    FUNCTION = "plot"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": ("PLAYMATE_MOTION", {"tooltip": "Motion to draw."}),
            "width": ("INT", {"default": 1024, "min": 320, "max": 4096, "step": 8, "tooltip": "Image width in pixels."}),
            "height": ("INT", {"default": 768, "min": 240, "max": 4096, "step": 8, "tooltip": "Image height in pixels."}),
            "batch_index": ("INT", {"default": 0, "min": 0, "max": 4095, "tooltip": "Which sequence of a batch to draw."}),
        }}

    def plot(self, motion, width, height, batch_index):
        if batch_index >= motion.motion.shape[0]:
            raise ValueError(f"batch_index {batch_index} is out of range: the motion holds {motion.motion.shape[0]} sequence(s)")
        return (plot_motion(motion.motion[batch_index], motion.fps, int(width), int(height)),)


NODE_CLASS_MAPPINGS = {
    "PlaymateLoadMotionModel": PlaymateLoadMotionModel,
    "PlaymateMotionSampler": PlaymateMotionSampler,
    "PlaymatePlotMotion": PlaymatePlotMotion,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlaymateLoadMotionModel": "Load Motion Model (Playmate)",
    "PlaymateMotionSampler": "Motion Sampler (Playmate)",
    "PlaymatePlotMotion": "Plot Motion (Playmate)",
}
