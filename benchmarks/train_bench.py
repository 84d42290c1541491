"""Seconds per training step (stage 1 and stage 2) for the tiny and base configs, at their configured batch sizes.

Synthetic windows of the configs' full length with 768-d audio features (wav2vec2 size); each row times the
optimiser steps after warm-up ones (forward, backward, clipping, AdamW, EMA; no data loading).
Run: python benchmarks/train_bench.py [--device cpu|cuda] [--steps N]
"""

from __future__ import annotations

import argparse
import time

import torch

from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.train.config import load_train_config
from playmate_core.train.losses import motion_loss
from playmate_core.train.windows import WindowBatch


def synthetic_batch(config: PlaymateConfig, batch: int, emotion: bool, device) -> WindowBatch:
    w, p = config.window, config.num_prev
    rows = None
    if emotion:
        rows = torch.zeros(batch, w, 9)
        rows[..., 5] = 1.0
    return WindowBatch(motion=torch.randn(batch, w, 70), prev_motion=torch.randn(batch, p, 70),
                       audio=torch.randn(batch, w, config.audio_dim),
                       prev_audio=torch.randn(batch, p, config.audio_dim),
                       kp_canonical=torch.randn(batch, 21, 3) * 0.1, source_motion=torch.zeros(batch, 70),
                       use_start=torch.zeros(batch, dtype=torch.bool), emotion=rows).to(device)


def seconds_per_step(preset: str, stage: int, device, steps: int) -> tuple[float, int, float]:
    train = load_train_config(preset)
    config = PlaymateConfig.preset(preset, audio_dim=768)
    model = PlaymateMotionModel(config).to(device)
    if stage == 2:
        model.requires_grad_(False)
        model.eval()
        model.emotion_controller.train()
    params = [p for n, p in model.named_parameters() if (n.startswith("emotion")) == (stage == 2)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=1e-4)
    ema = [p.detach().clone() for p in params]
    batch = synthetic_batch(config, train.batch_size, stage == 2, device)
    g = torch.Generator().manual_seed(0)
    on_cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_cuda else torch.autocast("cpu", enabled=False)

    def step():
        with autocast:
            loss = motion_loss(model, batch, train.loss, g, prev_noise_std=0.1, audio_drop_prob=0.1,
                               emotion_drop_prob=0.1)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p, 0.001)

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return (time.perf_counter() - start) / steps, train.batch_size, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| config | stage | batch | s/step | peak GPU GiB |")
    print("|---|---|---|---|---|")
    for preset in ("tiny", "base"):
        for stage in (1, 2):
            seconds, batch, memory = seconds_per_step(preset, stage, device, args.steps)
            print(f"| {preset} | {stage} | {batch} | {seconds:.3f} | {memory:.2f} |", flush=True)


if __name__ == "__main__":
    main()
