"""The training loop both stages share: AdamW, warm-up + cosine learning rate, gradient clipping, an EMA of the
trained weights (what gets saved as the model), bf16 autocast on CUDA (fp32 on CPU), periodic checkpoints with a
resumable state sidecar, a JSON-lines loss log, a loss-curve PNG and sample plots.

Outputs for ``--out DIR/name.safetensors``: the model (EMA weights) at DIR/name.safetensors,
DIR/name.state.pt (raw weights, optimiser, EMA, step and random states for --resume), DIR/name.log.jsonl,
DIR/name.loss.png and DIR/name.samples/step_XXXXXXX.png.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from PIL import Image

from ..motion.models.base import MotionModel
from .config import OptimizerConfig, StageConfig, TrainConfig
from .report import append_log, draw_loss_curve, read_log, write_log
from .windows import WindowBatch

STATE_VERSION = 1


@dataclass
class TrainingJob:
    """Everything a stage hands to the loop.

    trainable:  {name: parameter} the optimiser updates (requires_grad is set by the stage)
    batches:    generator -> WindowBatch (CPU)
    loss:       (model, batch on device, generator) -> {"loss": tensor with grad, other terms: detached scalars}
    save:       (model holding the EMA weights, path, metadata) -> None
    sample:     model holding the EMA weights -> [H, W, 3] float image in 0..1, or None
    train_mode: puts the model in its training mode (stage 2 keeps the frozen body in eval mode)
    metadata:   provenance written into every checkpoint (strings)
    """

    name: str
    model: MotionModel
    trainable: dict[str, torch.nn.Parameter]
    config: TrainConfig
    stage: StageConfig
    out_path: str
    batches: Callable[[torch.Generator], WindowBatch]
    loss: Callable[[MotionModel, WindowBatch, torch.Generator], dict]
    save: Callable[[MotionModel, str, dict], None]
    sample: Callable[[MotionModel], torch.Tensor | None]
    train_mode: Callable[[MotionModel], None]
    metadata: dict = field(default_factory=dict)


def output_paths(out_path: str) -> dict[str, str]:
    stem = out_path[: -len(".safetensors")] if out_path.endswith(".safetensors") else out_path
    return {"model": out_path, "state": f"{stem}.state.pt", "log": f"{stem}.log.jsonl", "curve": f"{stem}.loss.png",
            "samples": f"{stem}.samples"}


def learning_rate(step: int, stage: StageConfig, opt: OptimizerConfig) -> float:
    """Linear warm-up over warmup_steps, then cosine decay to min_lr_ratio * lr at the last step."""
    if step < opt.warmup_steps:
        return stage.lr * (step + 1) / opt.warmup_steps
    span = max(stage.steps - opt.warmup_steps, 1)
    progress = min((step - opt.warmup_steps) / span, 1.0)
    return stage.lr * (opt.min_lr_ratio + (1 - opt.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def ema_decay(step: int, decay: float) -> float:
    """The EMA decay after `step` updates: ramps up as (1 + step) / (10 + step) so early weights fade fast."""
    return min(decay, (1 + step) / (10 + step))


@contextlib.contextmanager
def holding(trainable: dict[str, torch.nn.Parameter], weights: dict[str, torch.Tensor]):
    """Temporarily copy `weights` into the trainable parameters (e.g. the EMA, to save or sample)."""
    backup = {k: p.detach().clone() for k, p in trainable.items()}
    with torch.no_grad():
        for k, p in trainable.items():
            p.copy_(weights[k])
    try:
        yield
    finally:
        with torch.no_grad():
            for k, p in trainable.items():
                p.copy_(backup[k])


class Trainer:
    def __init__(self, job: TrainingJob, device: torch.device | str = "cpu", log: Callable[[str], None] = print):
        self.job, self.device, self.log = job, torch.device(device), log
        self.paths = output_paths(job.out_path)
        self.params = list(job.trainable.values())
        opt = job.config.optimizer
        self.optimizer = torch.optim.AdamW(self.params, lr=job.stage.lr, betas=tuple(opt.betas),
                                           weight_decay=opt.weight_decay)
        self.ema = {k: p.detach().clone().float() for k, p in job.trainable.items()}
        self.generator = torch.Generator().manual_seed(job.config.seed)
        self.step = 0

    def state_dict(self) -> dict:
        state = {"version": STATE_VERSION, "stage": self.job.name, "config": self.job.config.to_dict(), "step": self.step,
                 "weights": {k: p.detach().cpu() for k, p in self.job.trainable.items()},
                 "ema": {k: v.cpu() for k, v in self.ema.items()}, "optimizer": self.optimizer.state_dict(),
                 "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state(self, path: str) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--resume: no training state at {path}; start without --resume")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("stage") != self.job.name:
            raise ValueError(f"--resume: {path} is a {state.get('stage')} state, not {self.job.name}")
        if state["config"] != self.job.config.to_dict():
            raise ValueError(f"--resume: {path} was written with another training config; resume with the same "
                             "config, or start a new run (other --out)")
        with torch.no_grad():
            for k, p in self.job.trainable.items():
                p.copy_(state["weights"][k])
        self.ema = {k: v.to(self.device).float() for k, v in state["ema"].items()}
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.step = int(state["step"])

    def run(self, resume: bool = False) -> dict:
        """Train up to stage.steps; returns the last logged record."""
        job, cfg = self.job, self.job.config
        job.model.to(self.device)
        self.ema = {k: v.to(self.device) for k, v in self.ema.items()}
        torch.manual_seed(cfg.seed)
        if resume:
            self.load_state(self.paths["state"])
            self.log(f"resumed {job.name} at step {self.step} from {self.paths['state']}")
        records = read_log(self.paths["log"], self.step) if resume else []
        write_log(self.paths["log"], records)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                    else contextlib.nullcontext())
        job.train_mode(job.model)
        sums, count, started = {}, 0, time.perf_counter()
        while self.step < job.stage.steps:
            batch = job.batches(self.generator).to(self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(self.step, job.stage, cfg.optimizer)
            with autocast:
                terms = job.loss(job.model, batch, self.generator)
            if not torch.isfinite(terms["loss"]):
                raise RuntimeError(f"{job.name}: the loss is {float(terms['loss'])} at step {self.step + 1}; lower the "
                                   "learning rate or check the data set for broken clips")
            self.optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.optimizer.grad_clip)
            self.optimizer.step()
            self.step += 1
            self._update_ema()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(grad_norm)
            count += 1
            if self.step % cfg.log_every == 0 or self.step == job.stage.steps:
                record = {"step": self.step, **{k: v / count for k, v in sums.items()},
                          "lr": self.optimizer.param_groups[0]["lr"], "window": int(batch.motion.shape[1]),
                          "seconds_per_step": (time.perf_counter() - started) / count}
                append_log(self.paths["log"], record)
                records.append(record)
                self.log(f"{job.name} step {self.step}/{job.stage.steps} loss {record['loss']:.4f} "
                         f"(eps {record['epsilon']:.4f}) lr {record['lr']:.2e} {record['seconds_per_step']:.3f} s/step")
                sums, count, started = {}, 0, time.perf_counter()
            if self.step % cfg.checkpoint_every == 0 or self.step == job.stage.steps:
                self.checkpoint(records)
            if self.step % cfg.sample_every == 0 or self.step == job.stage.steps:
                self.sample_plot()
        return records[-1] if records else {}

    def _update_ema(self) -> None:
        decay = ema_decay(self.step, self.job.config.ema_decay)
        with torch.no_grad():
            for k, p in self.job.trainable.items():
                self.ema[k].lerp_(p.detach().float(), 1.0 - decay)

    def checkpoint(self, records: list[dict]) -> None:
        """The model with the EMA weights, then the state sidecar (atomically), then the loss curve."""
        metadata = {**self.job.metadata, "trained_steps": str(self.step), "train_config": json.dumps(self.job.config.to_dict())}
        if records:
            metadata["last_loss"] = f"{records[-1]['loss']:.6g}"
        with holding(self.job.trainable, self.ema):
            self.job.save(self.job.model, self.paths["model"], metadata)
        tmp = f"{self.paths['state']}.tmp-{os.getpid()}"
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, self.paths["state"])
        if records:
            draw_loss_curve(records, self.paths["curve"], f"{self.job.name}: {os.path.basename(self.paths['model'])}")

    def sample_plot(self) -> None:
        model = self.job.model
        model.eval()
        with holding(self.job.trainable, self.ema):
            image = self.job.sample(model)
        self.job.train_mode(model)
        if image is not None:
            os.makedirs(self.paths["samples"], exist_ok=True)
            pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            Image.fromarray(pixels).save(os.path.join(self.paths["samples"], f"step_{self.step:07d}.png"))
