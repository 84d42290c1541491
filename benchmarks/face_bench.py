"""Face pipeline speed: detection + landmarks, aligned crop, paste-back (prints a table).

    python benchmarks/face_bench.py [--device cpu|cuda] [--threads 2] [--repeats 5]

Uses the test portraits (tests/fixtures/media/portraits; the 2048 px one is the astronaut upscaled 4x). Times are
medians of --repeats runs after one warm-up run, wall clock, per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from playmate_core.face.config import BlazeFaceConfig, FaceMeshConfig  # noqa: E402
from playmate_core.face.detector import MediaPipeFaceDetector  # noqa: E402
from playmate_core.face.portrait import load_portraits, paste_back  # noqa: E402
from playmate_core.face.weights import load_network  # noqa: E402

PORTRAITS = os.path.join(ROOT, "tests", "fixtures", "media", "portraits")


def median_ms(fn, repeats: int, device: torch.device) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def photo(name: str) -> torch.Tensor:
    if name == "astronaut_2048x2048_upscaled.png":  # made as the tests make it (tests/portrait_photos.py)
        image = Image.open(os.path.join(PORTRAITS, "astronaut_512x512.png")).convert("RGB")
        image = image.resize((2048, 2048), Image.LANCZOS)
    else:
        image = Image.open(os.path.join(PORTRAITS, name)).convert("RGB")
    array = np.asarray(image, dtype=np.float32) / 255
    return torch.from_numpy(array)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    with torch.inference_mode():
        for config in (BlazeFaceConfig.short_range(), BlazeFaceConfig.full_range(), FaceMeshConfig()):
            net = load_network(config, device)
            for batch in (1, 8):
                x = torch.rand(batch, 3, config.input_size, config.input_size, device=device)
                name = getattr(config, "variant", "facemesh")
                rows.append((f"network {name} {config.input_size}px", batch,
                             median_ms(lambda: net(x), args.repeats, device)))
    for name in ("astronaut_512x512.png", "astronaut_2048x2048_upscaled.png"):
        image = photo(name)
        side = image.shape[2]
        for model in ("short_range", "auto", "full_range"):
            detector = MediaPipeFaceDetector(model, device)
            rows.append((f"detect + mesh ({model}) {side}px", 1,
                         median_ms(lambda: detector.detect(image), args.repeats, device)))
        detector = MediaPipeFaceDetector("auto", device)
        batch = image.expand(8, -1, -1, -1)
        rows.append((f"detect + mesh (auto) {side}px", 8,
                     median_ms(lambda: detector.detect(batch), args.repeats, device)))
        portrait = load_portraits(image, detector)
        rows.append((f"load_portraits (detect + crop) {side}px", 1,
                     median_ms(lambda: load_portraits(image, detector), args.repeats, device)))
        frames = torch.rand(16, 3, 512, 512, device=device)
        rows.append((f"paste_back 16 frames of 512 into {side}px", 16,
                     median_ms(lambda: paste_back(frames, portrait, 0), args.repeats, device)))
    print(f"device {device}, {args.threads} threads, torch {torch.__version__}")
    print(f"| {'step':48s} | batch | ms per call | ms per item |")
    print(f"|{'-' * 50}|-------|-------------|-------------|")
    for step, batch, ms in rows:
        print(f"| {step:48s} | {batch:5d} | {ms:11.1f} | {ms / batch:11.1f} |")


if __name__ == "__main__":
    main()
