"""The whole `animate` pipeline, seconds per stage: portrait, audio, pose, motion, render.

Builds a models folder in the public layout with random weights of the chosen size (speed does not depend on the
values): "tiny" (the test networks) or "full" (LivePortrait's official sizes, JoyVASA's released DiT with its embedded
HuBERT of chinese-hubert-base's size), then runs TalkingHeadPipeline.animate on the test-fixture portrait and the first
`--seconds` of the test speech clip, in a fresh process per row. Uses tests/fixtures (media, and the JoyVASA template)
and tests/joyvasa_standin.py. Prints a table.

    python benchmarks/animate_bench.py --config tiny --seconds 1 4
    python benchmarks/animate_bench.py --config full --seconds 0.4 --steps 25
    python benchmarks/animate_bench.py --config full --device cuda --precision fp16 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]


def write_models(root: str, config: str) -> None:
    """<root>/liveportrait and playmate (JoyVASA's two files; the .pt embeds its HuBERT, as released)."""
    from pathlib import Path

    from lp_weights import random_official_states, write_kijai_layout
    from playmate_core.implicit.config import RendererConfig

    import joyvasa_standin
    from motion_weights import write_release

    renderer = RendererConfig.tiny() if config == "tiny" else RendererConfig.official()
    write_kijai_layout(random_official_states(renderer), Path(root, "liveportrait"))
    os.makedirs(os.path.join(root, "playmate"), exist_ok=True)
    write_release(joyvasa_standin, joyvasa_standin.make_state_dict(hubert_layers=1 if config == "tiny" else 12),
                  os.path.join(root, "playmate"))
    shutil.copyfile(os.path.join(FIXTURES, "joyvasa", "motion_template.pkl"),
                    os.path.join(root, "playmate", "motion_template.pkl"))


def speech(path: str, seconds: float) -> None:
    from playmate_core.audio import load_audio_file

    audio = load_audio_file(os.path.join(FIXTURES, "media", "audio", "en_3s_22k_mono.wav"))
    rate, clip = audio["sample_rate"], audio["waveform"][0, 0]
    need = int(round(seconds * rate))
    samples = clip.repeat(-(-need // clip.shape[-1]))[:need].clamp(-1, 1).numpy()  # the clip repeated
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


def run_one(models: str, seconds: float, device: str, precision: str, steps: int, pose: bool) -> dict:
    from playmate_core.pipeline import TalkingHeadPipeline

    with tempfile.TemporaryDirectory() as tmp:
        audio = os.path.join(tmp, "speech.wav")
        speech(audio, seconds)
        pipe = TalkingHeadPipeline.from_files(models, device=device, precision=precision)
        video = os.path.join(FIXTURES, "media", "video", "driving_astronaut_3s_25fps_512.mp4") if pose else None
        result = pipe.animate(os.path.join(FIXTURES, "media", "portraits", "astronaut_512x512.png"), audio,
                              os.path.join(tmp, "out.mp4"), steps=steps, pose_video=video)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"seconds": seconds, "frames": result.num_frames, "stages": result.seconds, "peak_rss_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--steps", type=int, default=0, help="0 = the model's own (JoyVASA: 50)")
    parser.add_argument("--pose", action="store_true", help="also drive the head from the test driving video")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        models, seconds = args.one.rsplit(",", 1)
        print(json.dumps(run_one(models, float(seconds), args.device, args.precision, args.steps, args.pose)))
        return
    load = os.getloadavg()[0]
    print(f"animate, {args.config} networks, {args.device} {args.precision}, {args.steps} steps, load {load:.1f}")
    print("clip s | frames | models s | portrait s | audio s | "
          "pose s | motion s | render s | render s/frame | peak RSS")
    with tempfile.TemporaryDirectory() as models:
        write_models(models, args.config)
        for seconds in args.seconds:
            cmd = [sys.executable, __file__, "--one", f"{models},{seconds}", "--device", args.device, "--precision",
                   args.precision, "--steps", str(args.steps)] + (["--pose"] if args.pose else [])
            row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            s = row["stages"]
            print(f"{row['seconds']:6.1f} | {row['frames']:6d} | {s['models']:8.1f} | {s['portrait']:10.1f} | "
                  f"{s['audio']:7.1f} | {s.get('pose', 0.0):6.1f} | {s['motion']:8.1f} | {s['render']:8.1f} | "
                  f"{s['render'] / row['frames']:14.2f} | {row['peak_rss_gib']:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
