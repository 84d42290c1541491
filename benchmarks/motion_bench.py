"""Motion sampling speed: real-time factor (sampling seconds / audio seconds) and peak RSS.

Models with random weights (speed does not depend on the values): Playmate `base` and JoyVASA's
architecture (its motion generator only; the embedded HuBERT runs in the audio encoder, not here).
Each case runs in a fresh process so its peak RSS is its own.

    python benchmarks/motion_bench.py                       # the default table (CPU, fp32)
    python benchmarks/motion_bench.py --precision bf16 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CASES = [  # (model, emotion guidance, sampler, steps)
    ("playmate-base", False, "ddim", 25),
    ("playmate-base", True, "ddim", 25),
    ("joyvasa", False, "ddim", 25),
    ("joyvasa", False, "ddpm", 50),
]


def build(name: str, emotion: bool):
    import torch

    from playmate_core.motion.models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
    from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
    from playmate_core.motion.normalization import TemplateNormalizer

    torch.manual_seed(0)
    if name == "playmate-base":
        model = PlaymateMotionModel(PlaymateConfig.preset("base", emotion_trained=emotion))
        if emotion:
            torch.nn.init.normal_(model.emotion_tokens, std=0.1)
        return model, "wav2vec2-base"
    stats = TemplateNormalizer(torch.zeros(63), torch.full((63,), 0.02), torch.zeros(7), torch.ones(7))
    return JoyVASAMotionModel(JoyVASAConfig(), stats), "hubert-base"


def run_case(args) -> dict:
    import torch

    from playmate_core.audio.features import AudioFeatures
    from playmate_core.implicit.source import SourceFeatures
    from playmate_core.motion.checkpoint import to_precision
    from playmate_core.motion.conditions import EmotionCondition
    from playmate_core.motion.generation import generate_motion

    torch.set_num_threads(args.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
    model, encoder = build(args.case_model, args.case_emotion)
    model = to_precision(model.eval(), torch.device(args.device), dtype)
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    emotion = EmotionCondition.from_label("happy") if args.case_emotion else None

    def features(seconds):
        n = int(round(seconds * 25))
        return AudioFeatures(torch.randn(1, n, model.audio_dim), 25.0, n, seconds, encoder)

    def once(seconds):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        generate_motion(model, source, features(seconds), steps=args.case_steps, audio_cfg=1.5, emotion_cfg=1.5,
                        emotion=emotion, sampler=args.case_sampler, seed=0)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once(1.0)  # warm-up: one short window
    elapsed = once(args.seconds)
    return {"seconds": elapsed, "rtf": elapsed / args.seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--durations", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--models", nargs="+", default=["playmate-base", "joyvasa"], help="which models to run")
    parser.add_argument("--case-model", help=argparse.SUPPRESS)
    parser.add_argument("--case-emotion", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--case-sampler", help=argparse.SUPPRESS)
    parser.add_argument("--case-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case_model:
        print(json.dumps(run_case(args)))
        return 0
    print(f"motion sampling, {args.device} {args.precision}, "
          f"{args.threads} threads; RTF = sampling time / audio duration")
    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes share these cores)")
    print("| model | params (M) | guidance | sampler, steps | audio (s) | time (s) | RTF | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for model, emotion, sampler, steps in CASES:
        if model not in args.models:
            continue
        for seconds in args.durations:
            cmd = [sys.executable, __file__, "--device", args.device, "--precision", args.precision,
                   "--threads", str(args.threads), "--case-model", model, "--case-emotion", str(int(emotion)),
                   "--case-sampler", sampler, "--case-steps", str(steps), "--seconds", str(seconds)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            guidance = "audio + emotion (3 passes)" if emotion else "audio (2 passes)"
            print(f"| {model} | {r['params_m']:.1f} | {guidance} | {sampler}, {steps} | "
                  f"{seconds:g} | {r['seconds']:.2f} | {r['rtf']:.3f} | {r['peak_rss_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
