"""Encode speed and memory of the full-size base encoder (wav2vec2-base architecture, random weights).

Each case runs in a fresh subprocess so its peak RSS is its own. Audio is the test fixtures' English speech
clip of tests/fixtures (3.6 s, repeated to the length).

    python benchmarks/audio_bench.py                 # 10 s, 60 s, 5 min; fp32 and bf16
    python benchmarks/audio_bench.py --cases 10 --dtypes fp32 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEDIA = os.path.join(ROOT, "tests", "fixtures", "media")


def speech(seconds: float) -> dict:
    from playmate_core.audio import load_audio_file

    audio = load_audio_file(os.path.join(MEDIA, "audio", "en_3s_22k_mono.wav"))
    need = int(round(seconds * audio["sample_rate"]))
    wave = audio["waveform"]
    wave = wave.repeat(1, 1, -(-need // wave.shape[-1]))[..., :need]
    return {"waveform": wave, "sample_rate": audio["sample_rate"]}


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples the resident set every 5 ms while active (Linux); .peak in MB."""

    def __init__(self):
        self.peak, self._stop = current_rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, current_rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mb())


def run_case(seconds: float, dtype_name: str, device: str, chunk: float, threads: int) -> dict:
    """One measurement in this process (called in the subprocess)."""
    import torch

    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import audio_weights as AW
    from playmate_core.audio import encode_audio, encoder_from_hf_state_dict

    torch.set_num_threads(threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    config = AW.base_hf_config("wav2vec2")
    encoder = encoder_from_hf_state_dict(AW.hf_state_dict(config, seed=0), config, dtype=dtype).to(device)
    audio = speech(seconds)
    warm = {"waveform": audio["waveform"][..., : audio["sample_rate"]], "sample_rate": audio["sample_rate"]}
    encode_audio(warm, encoder, 25.0)
    rss_before = current_rss_mb()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with PeakRss() as rss:
        start = time.perf_counter()
        features = encode_audio(audio, encoder, 25.0, chunk_seconds=chunk or None)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    return {
        "audio_s": seconds,
        "dtype": dtype_name,
        "device": device,
        "chunk_s": chunk,
        "encode_s": elapsed,
        "rtf": elapsed / seconds,
        "frames": features.num_frames,
        "rss_before_mb": rss_before,
        "peak_rss_mb": rss.peak,
        "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="10,60,300", help="audio lengths in seconds, comma-separated")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk", type=float, default=30.0, help="chunk_seconds (0 = whole clip)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds, dtype_name = args.one.split(":")
        print(json.dumps(run_case(float(seconds), dtype_name, args.device, args.chunk, args.threads)))
        return
    rows = []
    for dtype_name in args.dtypes.split(","):
        for seconds in args.cases.split(","):
            cmd = [sys.executable, __file__, "--one", f"{seconds}:{dtype_name}", "--device", args.device,
                   "--chunk", str(args.chunk), "--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            rows.append(json.loads(out))
            print(f"done {seconds} s {dtype_name}", file=sys.stderr)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nwav2vec2-base architecture (94.4 M params, random weights), {args.device}, {args.threads} threads, "
          f"chunk {args.chunk:g} s, load average {load:.1f}")
    print("| audio | dtype | encode s | real-time factor | RSS before encode MB | peak RSS during encode MB | "
          "encode adds MB | GPU peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        gpu = f"{r['gpu_peak_mb']:.0f}" if r["gpu_peak_mb"] is not None else "-"
        print(f"| {r['audio_s']:g} s | {r['dtype']} | {r['encode_s']:.2f} | {r['rtf']:.3f} | {r['rss_before_mb']:.0f} "
              f"| {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['rss_before_mb']:.0f} | {gpu} |")


if __name__ == "__main__":
    main()
