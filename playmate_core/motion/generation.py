"""Motion for any number of frames: windows with previous-motion conditioning and a short cross-fade.

Window k covers frames [s_k, s_k + W); it is conditioned on the P frames before s_k (already generated,
in the model's normalised space) and their audio. The next window starts W - overlap frames later and
the overlapping frames are cross-faded linearly. The last window is simply shorter (no padding).
Working memory does not grow with the length: one window is denoised at a time and only the [B, N, 70]
result is kept. All noise comes from one CPU generator seeded with ``seed``, so results are the same
on every device for a given seed.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..audio.features import AudioFeatures
from ..implicit.motion_vector import EXP
from ..implicit.source import SourceFeatures
from .conditions import NULL_EMOTION, NUM_EMOTION_TOKENS, EmotionCondition, PoseSequence, frames_to_length
from .expression_reference import lip_mask
from .models.base import MotionModel, WindowConditions
from .models.joyvasa import JoyVASAMotionModel
from .postprocess import absolute_driving_pose, apply_driving_pose, smooth_pose
from .samplers import SAMPLERS, combine_guidance, sampler_for
from .schedulers import uniform_timesteps
from .sequence import MotionSequence

MAX_SEED = 2**64 - 1
JOYVASA_FEATURES = JoyVASAMotionModel.audio_encoder  # the label of its embedded HuBERT's features


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of every window covering num_frames frames."""
    starts, s = [0], 0
    while s + window < num_frames:
        s += window - overlap
        starts.append(s)
    return starts


def resolve_sampling(model: MotionModel, steps: int, audio_cfg: float) -> tuple[int, float, str]:
    """steps 0 and audio_cfg < 0 mean "the model's own" (``default_steps`` / ``default_audio_cfg``: JoyVASA 50
    ancestral steps and w_a 4.0 as its app sends; Playmate 25 DDIM steps, 1.5) -> (steps, audio_cfg, a log line)."""
    own_steps, own_cfg = int(steps) == 0, float(audio_cfg) < 0
    steps = model.default_steps if own_steps else int(steps)
    audio_cfg = model.default_audio_cfg if own_cfg else float(audio_cfg)
    own = " (the model's own)"
    line = (f"{model_label(model)}: {steps} steps{own if own_steps else ''}, "
            f"audio_cfg {audio_cfg:g}{own if own_cfg else ''}")
    return steps, audio_cfg, line


def model_label(model: MotionModel) -> str:
    """How messages name a motion model: its file and family, e.g. 'motion_generator_hubert_chinese.pt (joyvasa)'."""
    if model.file_name:
        return f"motion model '{model.file_name}' ({model.family})"
    return f"this {model.family} motion model"


def _encoder_mismatch(model: MotionModel, audio: AudioFeatures) -> str | None:
    """Why these features cannot drive this model (None when they can)."""
    if model.audio_encoder == JOYVASA_FEATURES:
        if audio.encoder == model.audio_encoder:
            return None
        return (f"{model_label(model)} is driven by the HuBERT embedded in its own checkpoint, but these "
                f"audio features come from '{audio.origin}': connect Load Motion Model's audio_encoder "
                "output to Encode Audio's encoder input (Load Audio Encoder is for Playmate models)")
    if audio.encoder == JOYVASA_FEATURES:
        return (f"the audio features come from '{audio.origin}', which drives JoyVASA only, but {model_label(model)} "
                f"was trained on {model.audio_encoder or 'other'} features: connect Load Audio Encoder with the "
                "encoder it was trained with to Encode Audio's encoder input")
    if model.audio_encoder and model.audio_encoder not in audio.encoder.lower():
        return (f"the audio features come from '{audio.origin}' but {model_label(model)} was trained on "
                f"{model.audio_encoder} features: encode the audio with a {model.audio_encoder} encoder in Load Audio "
                "Encoder")
    return None


def _check_inputs(model: MotionModel, source: SourceFeatures, audio: AudioFeatures, steps: int, seed: int,
                  sampler: str):
    if audio.num_frames < 1 or audio.features.shape[1] < 1:
        raise ValueError("the audio features have zero frames: the audio clip is empty or shorter than one video frame")
    if abs(float(audio.fps) - float(model.fps)) > 1e-6:
        raise ValueError(f"the audio features are at {audio.fps:g} fps but {model_label(model)} works at "
                         f"{model.fps:g} fps: encode the audio at {model.fps:g} fps")
    mismatch = _encoder_mismatch(model, audio)
    if mismatch:
        raise ValueError(mismatch)
    if audio.features.shape[-1] != model.audio_dim:
        raise ValueError(f"the audio features from '{audio.origin}' have "
                         f"{audio.features.shape[-1]} values per frame but {model_label(model)} "
                         f"expects {model.audio_dim}: choose the audio encoder it was trained with")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be within 0 .. 2**64 - 1, got {seed}")
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")
    b_src, b_aud = source.motion.shape[0], audio.features.shape[0]
    if b_src != b_aud and 1 not in (b_src, b_aud):
        raise ValueError(f"{b_src} source portraits and {b_aud} audio clips: "
                         "give one of them, or the same number of both")


def generate_motion(
    model: MotionModel,
    source: SourceFeatures,
    audio: AudioFeatures,
    *,
    steps: int = 25,
    audio_cfg: float = 1.5,
    emotion_cfg: float = 1.5,
    seed: int = 0,
    emotion: EmotionCondition | None = None,
    pose: PoseSequence | None = None,
    pose_smoothing: float = 0.0,
    sampler: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> MotionSequence:
    """Sample motion for the N frames of the audio features (N = audio.num_frames).

    The result keeps the de-normalised generated motion as it is (``generated``: the render's app / cli /
    animal modes smooth and anchor it as the official JoyVASA pipeline does) and the pack's own
    application (``motion``, the render's pack mode): JoyVASA's output anchored to frame 0, the pose
    smoothed (pose_smoothing in [0, 1]: Gaussian of up to 0.5 s), then a driving pose, when given,
    replaces angles and translation (``driving_pose`` keeps it for the other modes) and its expression
    track, when it has one, is added on every non-lip coordinate. An emotion with reference photos adds their
    expression offset (``expression_offset``, strength = the emotion's guidance scale; every motion mode
    applies it); its labels drive a trained emotion controller when the model has one.
    """
    _check_inputs(model, source, audio, steps, seed, sampler)
    if emotion is not None and not model.supports_emotion and emotion.needs_controller:
        if emotion.references is None:
            raise ValueError(f"this {model.family} motion model has no trained emotion control: disconnect the emotion "
                             "input, connect reference photos to the Emotion node's reference input (no training "
                             "needed), or load a Playmate model trained with stage 2")
        raise ValueError(f"this {model.family} motion model has no trained emotion control, so emotion labels other "
                         "than neutral cannot apply: set the emotion label (and the schedule's labels) to neutral and "
                         "let the reference photos (ref1, ref2, ...) carry the emotion, or load a Playmate model "
                         "trained with stage 2")
    if emotion is not None:
        emotion.check_duration(float(audio.duration_s))
    strength = emotion_cfg if emotion is None or emotion.guidance is None else float(emotion.guidance)
    controlled = emotion if model.supports_emotion else None
    if pose is not None and abs(float(pose.fps) - float(model.fps)) > 1e-6:
        raise ValueError(f"the pose sequence is at {pose.fps:g} fps but the motion is at {model.fps:g} fps")
    n = int(audio.num_frames)
    feats = audio.features[:, :n].float()
    if feats.shape[1] < n:
        raise ValueError(f"the audio features hold {feats.shape[1]} rows but say num_frames = {n}")
    b = max(source.motion.shape[0], feats.shape[0])
    device = model.device
    src_motion = source.motion.float().to(device).expand(b, -1)
    kp = source.kp_canonical.float().to(device).expand(b, -1, -1)
    generator = torch.Generator().manual_seed(int(seed))
    coded = sample_normalized_motion(
        model, kp, src_motion, feats.expand(b, -1, -1), steps=steps, audio_cfg=audio_cfg, emotion_cfg=emotion_cfg,
        emotion=controlled, sampler=sampler, progress=progress,
        noise_fn=lambda shape: torch.randn(shape, generator=generator),
    )
    with torch.inference_mode():
        generated = model.normalizer.denormalize(coded, src_motion)
        motion = smooth_pose(model.finalize_motion(generated, src_motion), pose_smoothing, model.fps)
        driving = None
        if pose is not None:
            driving = absolute_driving_pose(pose.per_frame(n), src_motion, pose.relative)
            motion = apply_driving_pose(motion, driving)
    offset = None if emotion is None else emotion.reference_offset(src_motion[:, EXP].cpu(), n, model.fps, strength)
    if pose is not None and pose.expression is not None:
        video = (frames_to_length(pose.expression.float(), n) * lip_mask(0.0))[None].expand(b, -1, -1)
        offset = video if offset is None else offset + video
    return MotionSequence(motion.cpu(), float(model.fps), generated=generated.cpu(), family=model.family,
                          driving_pose=None if driving is None else driving.cpu(), expression_offset=offset)


def sample_normalized_motion(
    model: MotionModel,
    kp_canonical: torch.Tensor,
    source_motion: torch.Tensor,
    features: torch.Tensor,
    *,
    steps: int,
    audio_cfg: float,
    emotion_cfg: float = 0.0,
    emotion: EmotionCondition | None = None,
    sampler: str = "auto",
    noise_fn: Callable[[tuple], torch.Tensor],
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """The window loop in the model's normalised space: kp [B, 21, 3], source motion [B, 70] and audio
    features [B, N, Da] on any device -> [B, N, 70] float32 on the model's device.

    noise_fn(shape) returns standard Gaussian noise (CPU or device); it is called for each window's start
    noise, then for each step that needs fresh noise, in order (so another implementation's random
    stream can be replayed exactly).
    """
    sampler = model.default_sampler if sampler == "auto" else sampler
    device, dtype = model.device, model.dtype
    b, n = features.shape[0], features.shape[1]
    w_e = emotion_cfg if emotion is None or emotion.guidance is None else float(emotion.guidance)
    groups = 3 if emotion is not None else 2
    emotion_rows = None
    if emotion is not None:
        null = torch.zeros(NUM_EMOTION_TOKENS)
        null[NULL_EMOTION] = 1.0
        emotion_rows = (null.expand(n, -1), emotion.per_frame(n, model.fps))

    def draw(frames: int) -> torch.Tensor:
        return noise_fn((b, frames, 70)).to(device, torch.float32)

    W, P, O = model.window, model.num_prev, model.overlap  # noqa: E741 (window, prefix, overlap)
    starts = window_starts(n, W, O)
    timesteps = uniform_timesteps(model.schedule.num_steps, steps)
    sample = sampler_for(sampler, timesteps)
    total, done = len(starts) * len(timesteps), 0
    coded = torch.zeros(b, n, 70, device=device)
    first_noise = None
    drop = torch.tensor([True] + [False] * (groups - 1), device=device).repeat_interleave(b)
    kp = kp_canonical.to(device).float().repeat(groups, 1, 1)
    src = source_motion.to(device).float().repeat(groups, 1)
    with torch.inference_mode():
        for k, s in enumerate(starts):
            w = min(W, n - s)
            prev_motion = prev_audio = None
            if s > 0:
                prev_motion = coded[:, s - P:s].to(dtype).repeat(groups, 1, 1)
                prev_audio = features[:, s - P:s].to(device, dtype).repeat(groups, 1, 1)
            emo = None
            if emotion_rows is not None:
                null_rows, rows = (r[s:s + w].to(device, dtype) for r in emotion_rows)
                emo = torch.cat([null_rows.expand(2 * b, -1, -1), rows.expand(b, -1, -1)])
            cond = WindowConditions(audio=features[:, s:s + w].to(device, dtype).repeat(groups, 1, 1), drop_audio=drop,
                                    prev_motion=prev_motion, prev_audio=prev_audio, kp_canonical=kp,
                                    source_motion=src, emotion=emo)
            state = model.encode_conditions(cond)

            def denoise(x, t, state=state):
                steps_t = torch.full((groups * b,), t, device=device, dtype=torch.long)
                out = model.denoise(x.repeat(groups, 1, 1), steps_t, state).float()  # x stays float32 (see the models)
                return combine_guidance(out.view(groups, b, *x.shape[1:]), audio_cfg, w_e)

            if model.reuse_window_noise:
                first_noise = draw(W) if first_noise is None else first_noise
                x_start = first_noise[:, :w]
            else:
                x_start = draw(w)

            def step_done(i, _total, offset=done):
                if progress is not None:
                    progress(offset + i, total)

            x0 = sample(denoise, x_start, timesteps, model.schedule, model.prediction, noise=lambda i, w=w: draw(w),
                        callback=step_done, clip=model.clip_sample)
            done += len(timesteps)
            blend = min(O, w) if k > 0 else 0
            if blend:
                fade = torch.arange(1, blend + 1, device=device, dtype=torch.float32).div(blend + 1).view(1, -1, 1)
                x0[:, :blend] = (1 - fade) * coded[:, s:s + blend] + fade * x0[:, :blend]
            coded[:, s:s + w] = x0
    return coded
