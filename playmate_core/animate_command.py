"""``python -m playmate_core animate``: portrait + speech -> MP4 with the pipeline, from a terminal."""

from __future__ import annotations

import argparse
import os
import sys

from .devices import DEVICES, PRECISIONS
from .model_commands import add_models_dir_argument
from .motion.emotion_schedule import USER_LABELS
from .render.application import MOTION_MODES
from .public_models import default_models_dir
from .terminal import StageBars

CROP_FLAGS = {"face": "face", "whole": "whole image", "box": "box"}
EXAMPLE = ("example: python -m playmate_core animate --portrait me.png --audio speech.wav --out me.mp4 "
           "(models: python -m playmate_core download)")


def add_animate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLE
    parser.add_argument("--portrait", required=True, help="portrait photo (png, jpg, webp...) with one "
                                                          "visible face (any subject with --crop whole / box)")
    parser.add_argument("--audio", required=True, help="speech or singing (wav, flac, mp3, m4a, or a video's sound)")
    parser.add_argument("--out", required=True, help="output .mp4 (written to a hidden temporary file, then renamed)")
    parser.add_argument("--emotion", default=None, metavar="LABEL",
                        help=f"emotion of the whole clip: {', '.join(USER_LABELS)}, or a "
                             "blend like happy+sad@0.3; needs a Playmate motion model with "
                             "an emotion controller (--motion-model + --emotion-model)")
    parser.add_argument("--emotion-scale", "--emotion-strength", dest="emotion_scale", type=float, default=1.5,
                        help="the emotion strength (default 1.5): guidance w_e of a trained controller; with "
                             "--emotion-reference the multiplier of the reference's expression (1 = as in the photo)")
    parser.add_argument("--emotion-schedule", default="", metavar="RANGES",
                        help="labels or references per time range, ';' or newline separated: "
                             "\"0 2 neutral; 2 4 happy\" or \"2 4 ref2\" (seconds; outside "
                             "the ranges --emotion applies, else neutral, and ref1)")
    parser.add_argument("--emotion-reference", action="append", default=None, metavar="PATH",
                        help="photo of a face showing the wanted expression (works with JoyVASA: no trained controller "
                             "needed); repeat for ref1, ref2, ... in --emotion-schedule")
    parser.add_argument("--emotion-lip-weight", type=float, default=0.0,
                        help="share of the reference expression on the lips (default 0: lips follow only the speech)")
    parser.add_argument("--pose-video", default=None, metavar="VIDEO",
                        help="driving video whose head pose (angles, translation) replaces the generated one; "
                             "looped when shorter than the audio")
    parser.add_argument("--pose-video-expression", action="store_true",
                        help="with --pose-video: also take the face's expression (all but the lips) from the video")
    parser.add_argument("--seed", type=int, default=0, help="same seed and inputs give the same video (default 0)")
    parser.add_argument("--steps", type=int, default=0,
                        help="denoising steps per motion window; default 0 = the motion model's own (JoyVASA: its 50 "
                             "ancestral steps; Playmate: 25)")
    parser.add_argument("--audio-cfg", type=float, default=None,
                        help="audio guidance w_a; default: the motion model's own (JoyVASA 4.0 as its app sends, "
                             "its CLI uses 2.8; Playmate 1.5)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="auto: cuda, then mps, then cpu")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: fp16 on CUDA, fp32 elsewhere; bf16 only on CPUs with AMX or AVX512-BF16 "
                             "(about 4x slower than fp32 without them)")
    add_models_dir_argument(parser)
    parser.add_argument("--motion-model", default=None,
                        help="file in <models>/playmate (default: JoyVASA's motion_generator_hubert_chinese.pt)")
    parser.add_argument("--emotion-model", default=None,
                        help="stage-2 emotion controller in <models>/playmate, e.g. playmate_emotion.safetensors")
    parser.add_argument("--audio-encoder", default=None,
                        help="Playmate models only: folder in <models>/audio_encoders; default: the public encoder "
                             "the model was trained with (wav2vec2-base-960h or chinese-hubert-base, read from the "
                             "file). JoyVASA always uses the HuBERT embedded in its own file")
    parser.add_argument("--liveportrait", default=None, metavar="PATH",
                        help="a LivePortrait set elsewhere: a folder of the official .pth "
                             "files or of Kijai's .safetensors, or a Playmate renderer "
                             "file (default: the five files in <models>/liveportrait)")
    parser.add_argument("--face-index", type=int, default=0, help="which face by size when there are "
                                                                  "several (0 = largest)")
    parser.add_argument("--crop", choices=tuple(CROP_FLAGS), default="face",
                        help="face: detect a human face and crop around it (default); whole: no detector, the whole "
                             "photo resized to 256x256 (the official animal path); box: no detector, the --box region")
    parser.add_argument("--box", default=None, metavar="X0,Y0,X1,Y1",
                        help="--crop box: the crop box in photo pixels, x1 / y1 exclusive (at least 64 px per side)")
    parser.add_argument("--letterbox", action="store_true",
                        help="--crop whole / box: keep the aspect ratio (centre the region in a square) instead of "
                             "stretching it to the square")
    parser.add_argument("--batch-size", type=int, default=8, help="frames rendered together (lower it "
                                                                  "when out of memory)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile warp + decode (inductor): each batch size compiles once (a minute "
                             "or more), then renders faster; needs a C++ compiler on CPU, Triton on CUDA")
    parser.add_argument("--crf", type=int, default=18, help="H.264 quality, 0-51, lower is better (default 18)")
    parser.add_argument("--no-paste-back", action="store_true",
                        help="write the 512x512 face crop instead of pasting the face back into the photo")
    parser.add_argument("--motion-mode", choices=MOTION_MODES, default="auto",
                        help="how the motion drives the face: app (official JoyVASA Gradio app), "
                             "cli (its inference.py), animal (its animal mode), pack (this "
                             "pack's livelier application); auto = app for JoyVASA, animal for "
                             "an animal LivePortrait set, pack for Playmate models (default auto)")
    parser.add_argument("--no-download", action="store_true",
                        help="do not fetch missing public models (by default they are downloaded into the models "
                             "folder first, as `download` does); list them and stop instead")


def run_animate(args: argparse.Namespace) -> int:
    from .audio import load_audio_file
    from .face.region import check_box
    from .model_commands import run_download
    from .pipeline import DEFAULT_MOTION_MODEL, MissingModelsError, TalkingHeadPipeline, load_image_file

    references = args.emotion_reference or []
    for flag, path in (("--portrait", args.portrait), ("--audio", args.audio), ("--pose-video", args.pose_video),
                       ("--liveportrait", args.liveportrait), *(("--emotion-reference", r) for r in references)):
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"{flag} {path} does not exist")
    if args.pose_video_expression and args.pose_video is None:
        raise ValueError("--pose-video-expression takes the expression from "
                         "the --pose-video video: pass --pose-video too")
    if not args.out.lower().endswith(".mp4"):
        raise ValueError(f"--out {args.out} must end in .mp4")
    box = parse_box(args.box, args.crop)
    # unreadable inputs fail before loading models
    image, sound = load_image_file(args.portrait), load_audio_file(args.audio)
    if box is not None:
        check_box(box, int(image.shape[1]), int(image.shape[2]))
    models_dir = os.path.abspath(args.models_dir or default_models_dir())
    motion_name = args.motion_model or DEFAULT_MOTION_MODEL
    schedule = "\n".join(part.strip() for part in args.emotion_schedule.split(";"))
    wants_emotion = bool(args.emotion or schedule.strip()) and not references  # references need no controller
    if wants_emotion and motion_name == DEFAULT_MOTION_MODEL:  # the common mistake: say so before loading anything
        raise ValueError(_no_emotion_message(motion_name, "joyvasa"))
    def build() -> TalkingHeadPipeline:
        return TalkingHeadPipeline.from_files(
            models_dir, motion_model=motion_name, emotion_model=args.emotion_model,
            audio_encoder=args.audio_encoder, device=args.device, precision=args.precision,
            liveportrait=args.liveportrait,
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
                              emotion_scale=args.emotion_scale, emotion_schedule=schedule,
                              emotion_reference=references, emotion_lip_weight=args.emotion_lip_weight,
                              pose_video=args.pose_video, pose_video_expression=args.pose_video_expression,
                              seed=args.seed, steps=args.steps, audio_cfg=args.audio_cfg, face_index=args.face_index,
                              batch_size=args.batch_size, paste_back=not args.no_paste_back, crf=args.crf,
                              progress=bars, crop_mode=CROP_FLAGS[args.crop], box=box, letterbox=args.letterbox,
                              motion_mode=args.motion_mode)
    finally:
        bars.close()
    print(f"audio features: {pipe.audio_encoder.name}; {result.sampling}", file=sys.stderr)
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.seconds.items())
    print(f"wrote {result.path}: {result.num_frames} frames at {result.fps:g} fps ({result.duration_s:.2f} s), "
          f"{result.width}x{result.height}; seconds: {stages}; total {sum(result.seconds.values()):.1f}")
    return 0


def parse_box(text: str | None, crop: str):
    """--box 'x0,y0,x1,y1' -> a Region (None without --box); only meaningful with --crop box."""
    from .face.region import Region

    if text is None:
        if crop == "box":
            raise ValueError("--crop box needs --box X0,Y0,X1,Y1 (the crop box in photo pixels, x1 / y1 exclusive)")
        return None
    if crop != "box":
        raise ValueError(f"--box is used only with --crop box (got --crop {crop})")
    try:
        x0, y0, x1, y1 = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--box {text!r} must be four whole pixel numbers X0,Y0,X1,Y1, e.g. 100,40,420,360") from None
    return Region(x0, y0, x1, y1)


def _no_emotion_message(motion_name: str, family: str) -> str:
    return ("--emotion needs a Playmate motion model with a trained emotion controller, and --motion-model "
            f"{motion_name} ({family}) has none: train both stages (`python -m playmate_core train stage1` then `train "
            "stage2`) and pass --motion-model playmate_motion.safetensors --emotion-model playmate_emotion.safetensors")
