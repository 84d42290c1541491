"""Stage 1 (the motion diffusion transformer, from scratch) and stage 2 (the emotion controller on a frozen
stage-1 model) as training jobs for the shared loop."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..audio.features import AudioFeatures
from ..checkpoint.io import read_safetensors
from ..implicit.source import SourceFeatures
from ..motion.checkpoint import (
    is_emotion_key, load_motion_model, save_emotion_controller, save_motion_model, stage1_sha256,
)
from ..motion.conditions import EmotionCondition
from ..motion.generation import generate_motion
from ..motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from ..motion.plot import plot_motion
from .config import TrainConfig
from .losses import motion_loss
from .trainer import Trainer, TrainingJob
from .windows import WindowSampler

SAMPLE_STEPS = 10  # DDIM steps of the periodic sample plots
SAMPLE_PANEL = (640, 420)


def encoder_family(name: str) -> str:
    """'hubert' / 'wav2vec2' from an AudioFeatures.encoder name such as 'wav2vec2-base-960h'; else the name."""
    lowered = name.lower()
    return next((family for family in ("hubert", "wav2vec2") if family in lowered), lowered)


def check_data_matches(dataset, *, audio_dim: int, audio_encoder: str, fps: float, what: str) -> None:
    """Clear errors when a data set's audio features or frame rate differ from what the model takes."""
    if int(dataset.audio_dim) != int(audio_dim):
        raise ValueError(f"the data set's audio features have {dataset.audio_dim} values per frame "
                         f"({dataset.audio_encoder}) but {what} expects {audio_dim}: prepare the data with the "
                         "model's audio encoder, or change the config")
    if audio_encoder and audio_encoder.lower() not in str(dataset.audio_encoder).lower():
        raise ValueError(f"the data set's audio features come from '{dataset.audio_encoder}' but {what} uses "
                         f"{audio_encoder} features: prepare the data with a {audio_encoder} encoder")
    if abs(float(dataset.fps) - float(fps)) > 1e-6:
        raise ValueError(f"the data set is at {dataset.fps:g} fps but {what} works at {fps:g} fps")


def build_stage1_model(config: TrainConfig, dataset) -> PlaymateMotionModel:
    """A fresh Playmate model of the config's preset, with the data set's audio size, encoder, fps and statistics
    (a config that names them must agree with the data set)."""
    overrides = dict(config.model)
    preset = overrides.pop("preset")
    check_data_matches(dataset, audio_dim=overrides.get("audio_dim", dataset.audio_dim),
                       audio_encoder=overrides.get("audio_encoder", ""), fps=overrides.get("fps", dataset.fps),
                       what="the training config")
    values = {"audio_dim": int(dataset.audio_dim), "audio_encoder": encoder_family(dataset.audio_encoder),
              "fps": float(dataset.fps), **overrides}
    torch.manual_seed(config.seed)
    return PlaymateMotionModel(PlaymateConfig.preset(preset, **values), dataset.normalizer())


def _caption(image: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (image.width, image.height + 20), (255, 255, 255))
    out.paste(image, (0, 20))
    ImageDraw.Draw(out).text((8, 4), text, fill=(20, 20, 20), font=ImageFont.load_default())
    return out


def sample_figure(model, dataset, index: int, emotion: EmotionCondition | None) -> torch.Tensor:
    """Motion generated for a data-set clip's audio (up to 3 windows) beside the clip's real motion: [H, W, 3]."""
    clip = dataset.load(index)
    n = min(clip.motion.shape[0], 3 * model.window)
    source_motion = torch.cat([clip.motion[0, :63], clip.pose_mean]).float()[None]
    source = SourceFeatures(torch.zeros(1, 1), clip.kp_canonical[:1].float(), source_motion)
    feats = AudioFeatures(clip.audio[None, :n].float(), dataset.fps, n, n / dataset.fps, str(dataset.audio_encoder))
    generated = generate_motion(model, source, feats, steps=SAMPLE_STEPS, seed=0, emotion=emotion).motion[0]
    label = f", emotion {clip.emotion}" if emotion is not None else ""
    panels = [_caption(Image.fromarray((plot_motion(m, dataset.fps, *SAMPLE_PANEL)[0].numpy() * 255).astype("uint8")),
                       f"{title} ({clip.key}{label})")
              for m, title in ((generated, "generated"), (clip.motion[:n].float(), "data set"))]
    figure = Image.new("RGB", (2 * SAMPLE_PANEL[0], panels[0].height), (255, 255, 255))
    for i, panel in enumerate(panels):
        figure.paste(panel, (i * SAMPLE_PANEL[0], 0))
    return torch.from_numpy(np.asarray(figure, dtype="float32") / 255.0)


def _loss_fn(model_config: PlaymateConfig, weights, emotion_drop_prob: float):
    return lambda model, batch, generator: motion_loss(
        model, batch, weights, generator, prev_noise_std=model_config.prev_noise_std,
        audio_drop_prob=model_config.audio_drop_prob, emotion_drop_prob=emotion_drop_prob)


def _window_length(batch) -> dict:
    return {"window": int(batch.motion.shape[1])}


def stage1_job(config: TrainConfig, dataset, out_path: str) -> TrainingJob:
    model = build_stage1_model(config, dataset)
    trainable = {k: p for k, p in model.named_parameters() if not is_emotion_key(k)}  # the controller is stage 2's
    sampler = WindowSampler(dataset, model.normalizer, window=model.window, num_prev=model.num_prev,
                            start_prob=model.config.start_prob)
    return TrainingJob(
        name="stage1", model=model, trainable=trainable, config=config, stage=config.stage1, out_path=out_path,
        batches=partial(sampler.sample, config.batch_size), loss=_loss_fn(model.config, config.loss, 0.0),
        save=lambda m, path, meta: save_motion_model(m, path, **meta),
        sample=lambda m: sample_figure(m, dataset, 0, None), train_mode=lambda m: m.train(),
        describe=_window_length,
        metadata={"stage": "1", "data_set": os.path.abspath(dataset.root), "clips": str(len(sampler.indices)),
                  "excluded_short_clips": str(sampler.excluded)},
    )


def stage2_job(config: TrainConfig, stage1_path: str, dataset, out_path: str) -> tuple[TrainingJob, dict]:
    """The job, and the snapshot of the frozen stage-1 weights that check_stage1_untouched compares against."""
    model = load_motion_model(stage1_path)
    name = os.path.basename(stage1_path)
    if not isinstance(model, PlaymateMotionModel) or not model.config.emotion_blocks:
        raise ValueError(f"stage 2 trains the emotion controller of a Playmate stage-1 model, but {name} is a "
                         f"{model.family} model without one: give a file written by `train stage1`")
    check_data_matches(dataset, audio_dim=model.audio_dim, audio_encoder=model.audio_encoder, fps=model.fps,
                       what=f"the stage-1 model {name}")
    stage1_hash = stage1_sha256(read_safetensors(stage1_path)[0])
    model.config = replace(model.config, emotion_trained=False)  # while training, "no emotion" stays the stage-1 path
    model.supports_emotion = False
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    trainable = {k: p for k, p in model.named_parameters() if is_emotion_key(k)}
    for parameter in trainable.values():
        parameter.requires_grad_(True)
    frozen = {k: v.detach().clone() for k, v in model.state_dict().items() if not is_emotion_key(k)}
    sampler = WindowSampler(dataset, model.normalizer, window=model.window, num_prev=model.num_prev,
                            start_prob=model.config.start_prob, with_emotion=True)
    labelled = next(i for i in sampler.indices if dataset.clips[i].get("emotion"))

    def train_mode(m):
        m.eval()  # the frozen body runs without dropout
        m.emotion_controller.train()

    def sample(m):
        m.config, m.supports_emotion = replace(m.config, emotion_trained=True), True
        try:
            return sample_figure(m, dataset, labelled, EmotionCondition.from_label(dataset.clips[labelled]["emotion"]))
        finally:
            m.config, m.supports_emotion = replace(m.config, emotion_trained=False), False

    job = TrainingJob(
        name="stage2", model=model, trainable=trainable, config=config, stage=config.stage2, out_path=out_path,
        batches=partial(sampler.sample, config.batch_size),
        loss=_loss_fn(model.config, config.loss, model.config.emotion_drop_prob),
        save=lambda m, path, meta: save_emotion_controller(m, path, stage1_hash, name, **meta),
        sample=sample, train_mode=train_mode,
        describe=_window_length,
        metadata={"stage": "2", "data_set": os.path.abspath(dataset.root), "clips": str(len(sampler.indices)),
                  "labelled_clips": str(sum(1 for i in sampler.indices if dataset.clips[i].get("emotion")))},
    )
    return job, frozen


def check_stage1_untouched(model: PlaymateMotionModel, frozen: dict[str, torch.Tensor]) -> None:
    """Stage 2's guarantee: only the emotion tokens/controller train; every stage-1 tensor is bit-identical."""
    training = sorted(k for k, p in model.named_parameters() if p.requires_grad and not is_emotion_key(k))
    if training:
        raise RuntimeError(f"stage 2 left stage-1 parameters trainable: {training[:5]}")
    state = model.state_dict()
    changed = sorted(k for k, v in frozen.items() if not torch.equal(state[k].cpu(), v.cpu()))
    if changed:
        raise RuntimeError(f"stage 2 changed frozen stage-1 weights: {changed[:5]} ({len(changed)} tensors)")


def run_stage1(config: TrainConfig, dataset, out_path: str, *, device="cpu", resume=False, log=print,
               accumulate: int = 1, stop_at: int | None = None) -> dict:
    job = stage1_job(config, dataset, out_path)
    log(f"stage 1: {job.model.describe()}; {job.metadata['clips']} clips ({job.metadata['excluded_short_clips']} too "
        f"short); {config.stage1.steps} steps of batch {config.batch_size} on {device}")
    return Trainer(job, device, log, accumulate).run(resume, stop_at)


def run_stage2(config: TrainConfig, stage1_path: str, dataset, out_path: str, *, device="cpu", resume=False,
               log=print, accumulate: int = 1, stop_at: int | None = None) -> dict:
    job, frozen = stage2_job(config, stage1_path, dataset, out_path)
    log(f"stage 2 on {os.path.basename(stage1_path)}: {sum(p.numel() for p in job.trainable.values()) / 1e6:.2f} M "
        f"trainable parameters; {job.metadata['labelled_clips']} of {job.metadata['clips']} clips labelled "
        f"(unlabelled ones train the null token); {config.stage2.steps} steps of batch {config.batch_size}")
    record = Trainer(job, device, log, accumulate).run(resume, stop_at)
    check_stage1_untouched(job.model, frozen)
    return record
