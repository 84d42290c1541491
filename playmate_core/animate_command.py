"""``python -m playmate_core animate``: portrait + speech -> MP4 with the pipeline, from a terminal."""

from __future__ import annotations

import argparse
import os
import sys

from .devices import DEVICES, PRECISIONS
from .model_commands import add_models_dir_argument
from .motion.emotion_schedule import USER_LABELS
from .public_models import default_models_dir
from .terminal import StageBars

EXAMPLE = ("example: python -m playmate_core animate --portrait me.png --audio speech.wav --out me.mp4 "
           "(models: python -m playmate_core download)")


def add_animate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLE
    parser.add_argument("--portrait", required=True, help="portrait photo (png, jpg, webp...) with one visible face")
    parser.add_argument("--audio", required=True, help="speech or singing (wav, flac, mp3, m4a, or a video's sound)")
    parser.add_argument("--out", required=True, help="output .mp4 (written to a hidden temporary file, then renamed)")
    parser.add_argument("--emotion", default=None, metavar="LABEL",
                        help=f"emotion of the whole clip: {', '.join(USER_LABELS)}, or a blend like happy+sad@0.3; "
                             "needs a Playmate motion model with an emotion controller (--motion-model + --emotion-model)")
    parser.add_argument("--emotion-scale", type=float, default=1.5, help="emotion guidance w_e (default 1.5)")
    parser.add_argument("--emotion-schedule", default="", metavar="RANGES",
                        help="labels per time range, ';' or newline separated: \"0 2 neutral; 2 4 happy\" "
                             "(seconds; outside the ranges --emotion applies, else neutral)")
    parser.add_argument("--pose-video", default=None, metavar="VIDEO",
                        help="driving video whose head pose (angles, translation) replaces the generated one; "
                             "looped when shorter than the audio")
    parser.add_argument("--seed", type=int, default=0, help="same seed and inputs give the same video (default 0)")
    parser.add_argument("--steps", type=int, default=25, help="denoising steps per motion window (default 25)")
    parser.add_argument("--audio-cfg", type=float, default=None,
                        help="audio guidance w_a; default: the motion model's published value (JoyVASA 2.8, Playmate 1.5)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="auto: cuda, then mps, then cpu")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: fp16 on CUDA, fp32 elsewhere; bf16 is faster on recent CPUs")
    add_models_dir_argument(parser)
    parser.add_argument("--motion-model", default=None,
                        help="file in <models>/playmate (default: JoyVASA's motion_generator_hubert_chinese.pt)")
    parser.add_argument("--emotion-model", default=None,
                        help="stage-2 emotion controller in <models>/playmate, e.g. playmate_emotion.safetensors")
    parser.add_argument("--audio-encoder", default=None,
                        help="folder in <models>/audio_encoders; default: the public encoder the motion model was "
                             "trained with (JoyVASA: chinese-hubert-base; Playmate models: wav2vec2-base-960h or "
                             "chinese-hubert-base, read from the file)")
    parser.add_argument("--liveportrait", default=None, metavar="PATH",
                        help="a LivePortrait set elsewhere: a folder of the official .pth files or of Kijai's "
                             ".safetensors, or a Playmate renderer file (default: the five files in <models>/liveportrait)")
    parser.add_argument("--face-index", type=int, default=0, help="which face by size when there are several (0 = largest)")
    parser.add_argument("--batch-size", type=int, default=8, help="frames rendered together (lower it when out of memory)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile warp + decode (inductor): each batch size compiles once (a minute or more), "
                             "then renders faster; needs a C++ compiler on CPU, Triton on CUDA")
    parser.add_argument("--crf", type=int, default=18, help="H.264 quality, 0-51, lower is better (default 18)")
    parser.add_argument("--no-paste-back", action="store_true",
                        help="write the 512x512 face crop instead of pasting the face back into the photo")
    parser.add_argument("--no-download", action="store_true",
                        help="do not fetch missing public models (by default they are downloaded into the models "
                             "folder first, as `download` does); list them and stop instead")


def run_animate(args: argparse.Namespace) -> int:
    from .audio import load_audio_file
    from .model_commands import run_download
    from .pipeline import DEFAULT_MOTION_MODEL, MissingModelsError, TalkingHeadPipeline, load_image_file

    for flag, path in (("--portrait", args.portrait), ("--audio", args.audio), ("--pose-video", args.pose_video),
                       ("--liveportrait", args.liveportrait)):
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"{flag} {path} does not exist")
    if not args.out.lower().endswith(".mp4"):
        raise ValueError(f"--out {args.out} must end in .mp4")
    image, sound = load_image_file(args.portrait), load_audio_file(args.audio)  # unreadable inputs fail before loading models
    models_dir = os.path.abspath(args.models_dir or default_models_dir())
    motion_name = args.motion_model or DEFAULT_MOTION_MODEL
    schedule = "\n".join(part.strip() for part in args.emotion_schedule.split(";"))
    wants_emotion = bool(args.emotion or schedule.strip())
    if wants_emotion and motion_name == DEFAULT_MOTION_MODEL:  # the common mistake: say so before loading anything
        raise ValueError(_no_emotion_message(motion_name, "joyvasa"))
    def build() -> TalkingHeadPipeline:
        return TalkingHeadPipeline.from_files(
            models_dir, motion_model=motion_name, emotion_model=args.emotion_model,
            audio_encoder=args.audio_encoder, device=args.device, precision=args.precision, liveportrait=args.liveportrait,
            compile=args.compile)

    try:
        pipe = build()
    except MissingModelsError as err:
        if args.no_download or not err.groups or any(url is None for _, url in err.files):
            raise  # offline by choice, or files nobody publishes (trained models): the message lists them
        print(f"fetching the missing public models ({', '.join(err.groups)}) into {models_dir}", file=sys.stderr)
        if run_download(argparse.Namespace(models_dir=models_dir, only=",".join(err.groups), force=False)) != 0:
            return 2  # run_download listed each failed file, its URL and folder
        pipe = build()
    if wants_emotion and not pipe.motion_model.supports_emotion:
        raise ValueError(_no_emotion_message(motion_name, pipe.motion_model.family))
    bars = StageBars()
    try:
        result = pipe.animate(image, sound, args.out, emotion=args.emotion,
                              emotion_scale=args.emotion_scale, emotion_schedule=schedule, pose_video=args.pose_video,
                              seed=args.seed, steps=args.steps, audio_cfg=args.audio_cfg, face_index=args.face_index,
                              batch_size=args.batch_size, paste_back=not args.no_paste_back, crf=args.crf,
                              progress=bars)
    finally:
        bars.close()
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.seconds.items())
    print(f"wrote {result.path}: {result.num_frames} frames at {result.fps:g} fps ({result.duration_s:.2f} s), "
          f"{result.width}x{result.height}; seconds: {stages}; total {sum(result.seconds.values()):.1f}")
    return 0


def _no_emotion_message(motion_name: str, family: str) -> str:
    return (f"--emotion needs a Playmate motion model with a trained emotion controller, and --motion-model {motion_name} "
            f"({family}) has none: train both stages (`python -m playmate_core train stage1` then `train stage2`) and "
            "pass --motion-model playmate_motion.safetensors --emotion-model playmate_emotion.safetensors")
