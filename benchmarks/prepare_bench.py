"""Data-preparation throughput: frames per second of video prepared, and disk use per hour of video.

The video is the test fixtures' 512x512 25 fps driving clip muxed with their speech (or a copy of it
repeated); networks have random weights: "tiny" (RendererConfig.tiny + a 2-layer wav2vec2) and
"full" (RendererConfig.official + the wav2vec2-base architecture, i.e. the real cost).

    python benchmarks/prepare_bench.py                       # tiny on 3 s, full on 1 s (25 frames), CPU
    python benchmarks/prepare_bench.py --cases full --seconds 10 --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def make_video(folder: Path, seconds: float) -> None:
    from train_media import DRIVING, SPEECH, decoded_frames, write_video
    from conftest import fixture_path
    from playmate_core.audio import load_audio_file

    frames = decoded_frames(fixture_path(*DRIVING), 512)
    count = round(seconds * 25)
    looped = [frames[k % len(frames)] for k in range(count)]
    speech = load_audio_file(os.fspath(fixture_path(*SPEECH)))
    repeats = -(-count // 75)
    speech = {"waveform": speech["waveform"].repeat(1, 1, repeats), "sample_rate": speech["sample_rate"]}
    write_video(folder / "clip.mp4", looped, audio=speech, audio_seconds=seconds)


def networks(case: str, device: str):
    import torch

    import audio_weights as AW
    from playmate_core.audio import encoder_from_hf_state_dict
    from playmate_core.implicit.config import RendererConfig
    from playmate_core.implicit.renderer import LivePortraitRenderer, build_networks

    torch.manual_seed(0)
    cfg = RendererConfig.tiny() if case == "tiny" else RendererConfig.official()
    renderer = LivePortraitRenderer(build_networks(cfg), cfg).to(device)
    config = AW.tiny_hf_config("wav2vec2") if case == "tiny" else AW.base_hf_config("wav2vec2")
    encoder = encoder_from_hf_state_dict(AW.hf_state_dict(config, seed=0), config).to(device)
    return renderer, encoder


def run_case(case: str, seconds: float, device: str) -> dict:
    from playmate_core.face.detector import MediaPipeFaceDetector
    from playmate_core.train.prepare import prepare_dataset

    renderer, encoder = networks(case, device)
    detector = MediaPipeFaceDetector("auto", device)
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        make_video(videos, seconds)
        started = time.perf_counter()
        report = prepare_dataset(str(videos), os.path.join(tmp, "set"), renderer, encoder, detector=detector,
                                 min_seconds=min(2.0, seconds))
        elapsed = time.perf_counter() - started
    if report["kept_count"] != 1:
        raise RuntimeError(f"the benchmark clip was skipped: {report['skipped']}")
    return {"case": case, "device": device, "frames": report["frames"], "seconds": elapsed,
            "fps": report["frames"] / elapsed, "mb_per_hour": report["disk_bytes"] / report["seconds"] * 3600 / 1e6,
            "audio_dim": encoder.dim}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["tiny", "full"], choices=["tiny", "full"])
    parser.add_argument("--seconds", type=float, default=None, help="video length (default: tiny 3 s, full 1 s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = [run_case(case, args.seconds or (3.0 if case == "tiny" else 1.0), args.device) for case in args.cases]
    print(f"{'case':<6} {'device':<8} {'frames':>6} {'wall s':>8} {'frames/s':>9} {'audio D':>8} {'MB/hour':>8}")
    for r in rows:
        print(f"{r['case']:<6} {r['device']:<8} {r['frames']:>6} {r['seconds']:>8.2f} {r['fps']:>9.2f} "
              f"{r['audio_dim']:>8} {r['mb_per_hour']:>8.0f}")


if __name__ == "__main__":
    main()
