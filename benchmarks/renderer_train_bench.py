"""Renderer fine-tuning: seconds per step (batch 1) for the tiny and the real LivePortrait sizes, and the disk cost
of the kept 512 px frames.

Random weights (real VGG19 widths, perceptual at 256 px); each row times optimiser steps after a warm-up one
(the three renders, VGG19 on four images, backward, AdamW; no data loading). Disk: the test fixtures' 512x512 driving
video's frames JPEG-encoded as `train prepare --renderer-frames` stores them.
Run: PYTHONPATH=. python benchmarks/renderer_train_bench.py [--device cpu|cuda] [--steps N] [--networks M]
    [--sizes tiny,full]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import build_networks
from playmate_core.train.renderer_config import NETWORK_LETTERS, RendererLossConfig, parse_networks
from playmate_core.train.renderer_data import PairBatch, encode_frames
from playmate_core.train.renderer_stage import RendererNetworks, pair_losses
from playmate_core.train.vgg import VGG19Features

DRIVING = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "media", "video",
                       "driving_astronaut_3s_25fps_512.mp4")


def seconds_per_step(config: RendererConfig, networks: list[str], device, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = RendererNetworks(build_networks(config), VGG19Features()).to(device).eval()
    model.requires_grad_(False)
    params = [p for n in networks for p in getattr(model, NETWORK_LETTERS[n]).parameters()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    batch = PairBatch(torch.rand(1, 3, 512, 512), torch.rand(1, 3, 512, 512)).to(device)
    on_cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_cuda else torch.autocast("cpu", enabled=False)
    times = []
    for _ in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            loss = pair_losses(model, batch, RendererLossConfig())["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / steps, sum(p.numel() for p in params) / 1e6


def jpeg_bytes_per_frame() -> float | None:
    if not os.path.isfile(DRIVING):
        return None
    import av

    with av.open(DRIVING) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    stored = encode_frames(torch.from_numpy(np.stack(frames)), list(range(len(frames))))
    return stored["frames_jpeg"].numel() / len(frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--networks", default="M")
    parser.add_argument("--sizes", default="tiny,full")
    args = parser.parse_args()
    device, networks = torch.device(args.device), parse_networks(args.networks)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, networks {','.join(networks)}")
    print("| size | batch | trained parameters (millions) | s/step |\n|---|---|---|---|")
    for size in args.sizes.split(","):
        config = RendererConfig.tiny() if size == "tiny" else RendererConfig.official()
        seconds, millions = seconds_per_step(config, networks, device, args.steps)
        print(f"| {size} | 1 | {millions:.2f} | {seconds:.2f} |")
        sys.stdout.flush()
    per_frame = jpeg_bytes_per_frame()
    if per_frame is not None:
        print(f"512 px JPEG (q95) per kept frame: {per_frame / 1e3:.1f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
