"""The training loop every stage shares (motion stage 1, emotion stage 2, renderer fine-tuning): AdamW, warm-up +
cosine learning rate, gradient clipping, an EMA of the trained weights (what gets saved as the model), bf16
autocast on CUDA (fp32 on CPU), periodic checkpoints with a resumable state sidecar, a JSON-lines loss log, a
loss-curve PNG and sample plots.

Under ``torchrun`` the loss runs inside DistributedDataParallel (gradients averaged over the ranks); every rank
trains its own chunks of the global batch (see train.distributed) and only rank 0 keeps the EMA and writes the
checkpoint, state, log and samples. A job may bring a second network with its own optimiser (an Adversary, e.g.
the renderer's GAN discriminator): it lives inside the same DDP-wrapped model, so its gradients are averaged the
same way, and its weights and optimiser state go into the state sidecar. Gradient accumulation (``accumulate``
chunks per rank) is the same computation on fewer processes.

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
from typing import Any, Callable

import torch
from PIL import Image
from torch.nn.parallel import DistributedDataParallel

from .config import OptimizerConfig, StageConfig, TrainConfig
from .distributed import average, chunk_generator, current_rank
from .report import append_log, draw_loss_curve, read_log, write_log

STATE_VERSION = 2


@dataclass
class Adversary:
    """A second network trained in the same loop with its own AdamW (e.g. a GAN discriminator). Its parameters live
    inside job.model (so DistributedDataParallel averages their gradients) and the job's loss returns its loss,
    with grad, under `loss_key`; the job keeps the two losses' gradients apart (each reaches only its own
    network). No EMA: the raw weights and the optimiser go into the state sidecar."""

    parameters: dict[str, torch.nn.Parameter]
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    loss_key: str = "discriminator"


@dataclass
class TrainingJob:
    """Everything a stage hands to the loop.

    trainable:  {name: parameter} the optimiser updates (requires_grad is set by the stage)
    batches:    generator -> a batch of config.batch_size rows (CPU) with .to(device)
    loss:       (model, batch on device, generator) -> {"loss": tensor with grad, other terms: detached scalars}
    save:       (model holding the EMA weights, path, metadata) -> None
    sample:     model holding the EMA weights -> [H, W, 3] float image in 0..1, or None
    train_mode: puts the model in its training mode (stage 2 keeps the frozen body in eval mode)
    metadata:   provenance written into every checkpoint (strings)
    describe:   batch -> extra values for the log record (e.g. the window length)
    adversary:  an optional second network with its own optimiser (see Adversary)
    """

    name: str
    model: torch.nn.Module
    trainable: dict[str, torch.nn.Parameter]
    config: TrainConfig
    stage: StageConfig
    out_path: str
    batches: Callable[[torch.Generator], Any]
    loss: Callable[[torch.nn.Module, Any, torch.Generator], dict]
    save: Callable[[torch.nn.Module, str, dict], None]
    sample: Callable[[torch.nn.Module], torch.Tensor | None]
    train_mode: Callable[[torch.nn.Module], None]
    metadata: dict = field(default_factory=dict)
    describe: Callable[[Any], dict] = lambda batch: {}
    adversary: Adversary | None = None


class LossModule(torch.nn.Module):
    """The job's loss as a module's forward, so DistributedDataParallel can wrap it (the loss may call any method
    or attribute of the model)."""

    def __init__(self, model: torch.nn.Module, loss: Callable):
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch, generator: torch.Generator) -> dict:
        return self.loss(self.model, batch, generator)


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
    """accumulate: chunks of config.batch_size rows per rank and step (global batch = batch x world x accumulate)."""

    def __init__(self, job: TrainingJob, device: torch.device | str = "cpu", log: Callable[[str], None] = print,
                 accumulate: int = 1):
        if accumulate < 1:
            raise ValueError(f"--accumulate must be at least 1, got {accumulate}")
        self.job, self.device, self.accumulate = job, torch.device(device), int(accumulate)
        self.rank = current_rank()
        self.log = log if self.rank.is_main else (lambda line: None)
        self.paths = output_paths(job.out_path)
        self.params = list(job.trainable.values())
        opt = job.config.optimizer
        self.optimizer = torch.optim.AdamW(self.params, lr=job.stage.lr, betas=tuple(opt.betas),
                                           weight_decay=opt.weight_decay)
        adversary = job.adversary
        self.adversary_optimizer = None if adversary is None else torch.optim.AdamW(
            list(adversary.parameters.values()), lr=adversary.lr, betas=tuple(adversary.betas),
            weight_decay=adversary.weight_decay)
        self.ema = {k: p.detach().clone().float() for k, p in job.trainable.items()} if self.rank.is_main else {}
        self.step = 0

    @property
    def global_batch(self) -> int:
        return self.job.config.batch_size * self.rank.world * self.accumulate

    def state_dict(self) -> dict:
        state = {"version": STATE_VERSION, "stage": self.job.name, "config": self.job.config.to_dict(),
                 "step": self.step,
                 "weights": {k: p.detach().cpu() for k, p in self.job.trainable.items()},
                 "ema": {k: v.cpu() for k, v in self.ema.items()}, "optimizer": self.optimizer.state_dict(),
                 "global_batch": self.global_batch}
        if self.job.adversary is not None:
            state["adversary"] = {"weights": {k: p.detach().cpu() for k, p in self.job.adversary.parameters.items()},
                                  "optimizer": self.adversary_optimizer.state_dict()}
        return state

    def load_state(self, path: str) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--resume: no training state at {path}; start without --resume")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"--resume: {path} was written by another version of the trainer (state version "
                             f"{state.get('version')}, this one reads {STATE_VERSION}); start a new run (other --out)")
        if state.get("stage") != self.job.name:
            raise ValueError(f"--resume: {path} is a {state.get('stage')} state, not {self.job.name}")
        if type(self.job.config).from_dict(state["config"]).to_dict() != self.job.config.to_dict():
            raise ValueError(f"--resume: {path} was written with another training config; resume with the same "
                             "config, or start a new run (other --out)")
        with torch.no_grad():
            for k, p in self.job.trainable.items():
                p.copy_(state["weights"][k])
        if self.rank.is_main:
            self.ema = {k: v.to(self.device).float() for k, v in state["ema"].items()}
        self.optimizer.load_state_dict(state["optimizer"])
        if self.job.adversary is not None:
            with torch.no_grad():
                for k, p in self.job.adversary.parameters.items():
                    p.copy_(state["adversary"]["weights"][k])
            self.adversary_optimizer.load_state_dict(state["adversary"]["optimizer"])
        self.step = int(state["step"])
        if state["global_batch"] != self.global_batch:
            self.log(f"note: the global batch changes from {state['global_batch']} to {self.global_batch} rows "
                     "(other world size or --accumulate); use batch x processes x accumulate = the old value to "
                     "continue the same run")

    def _wrapped(self) -> torch.nn.Module:
        # find_unused_parameters: stage 1 leaves the (unused) emotion controller requiring gradients
        module = LossModule(self.job.model, self.job.loss)
        if self.rank.world == 1:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False, find_unused_parameters=True)

    def _chunk(self, wrapped, index: int, autocast) -> dict[str, float]:
        """Forward and backward of one chunk (gradient scaled by 1 / accumulate); its detached terms."""
        chunk = self.rank.rank * self.accumulate + index
        generator = chunk_generator(self.job.config.seed, self.step, chunk)
        batch = self.job.batches(generator).to(self.device)
        last = index == self.accumulate - 1
        sync = contextlib.nullcontext() if last or self.rank.world == 1 else wrapped.no_sync()
        with sync:
            with autocast:
                terms = wrapped(batch, generator)
            total = terms["loss"]
            if self.job.adversary is not None:
                total = total + terms[self.job.adversary.loss_key]
            if not torch.isfinite(total):
                raise RuntimeError(f"{self.job.name}: the loss is {float(total)} at step {self.step + 1}; "
                                   "lower the learning rate or check the data set for broken clips")
            (total / self.accumulate).backward()
        return {**{k: float(v.detach()) for k, v in terms.items()}, **self.job.describe(batch)}

    def run(self, resume: bool = False, stop_at: int | None = None) -> dict:
        """Train up to stage.steps (or stop after step stop_at, checkpointed, to continue with resume); returns the
        last logged record."""
        job, cfg = self.job, self.job.config
        job.model.to(self.device)
        self.ema = {k: v.to(self.device) for k, v in self.ema.items()}
        if resume:
            self.load_state(self.paths["state"])
            self.log(f"resumed {job.name} at step {self.step} from {self.paths['state']}")
        records = read_log(self.paths["log"], self.step) if resume and self.rank.is_main else []
        if self.rank.is_main:
            write_log(self.paths["log"], records)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                    else contextlib.nullcontext())
        job.train_mode(job.model)
        wrapped = self._wrapped()
        last = job.stage.steps if stop_at is None else min(int(stop_at), job.stage.steps)
        sums, count, started = {}, 0, time.perf_counter()
        while self.step < last:
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(self.step, job.stage, cfg.optimizer)
            self.optimizer.zero_grad(set_to_none=True)
            if self.adversary_optimizer is not None:
                self.adversary_optimizer.zero_grad(set_to_none=True)
            for index in range(self.accumulate):
                for k, v in self._chunk(wrapped, index, autocast).items():
                    sums[k] = sums.get(k, 0.0) + v / self.accumulate
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.optimizer.grad_clip)
            self.optimizer.step()
            self._adversary_step()
            self.step += 1
            self._update_ema()
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(grad_norm)
            count += 1
            if self.step % cfg.log_every == 0 or self.step == last:
                means = average({k: v / count for k, v in sums.items()}, self.rank, self.device)
                record = {"step": self.step, **means, "lr": self.optimizer.param_groups[0]["lr"],
                          "global_batch": self.global_batch,
                          "seconds_per_step": (time.perf_counter() - started) / count}
                if self.rank.is_main:
                    append_log(self.paths["log"], record)
                records.append(record)
                terms = " ".join(f"{k} {means[k]:.4f}" for k in sorted(means) if k not in ("loss", "grad_norm"))
                self.log(f"{job.name} step {self.step}/{job.stage.steps} loss {record['loss']:.4f} ({terms}) "
                         f"lr {record['lr']:.2e} {record['seconds_per_step']:.3f} s/step")
                sums, count, started = {}, 0, time.perf_counter()
            if self.rank.is_main and (self.step % cfg.checkpoint_every == 0 or self.step == last):
                self.checkpoint(records)
            if self.rank.is_main and (self.step % cfg.sample_every == 0 or self.step == job.stage.steps):
                self.sample_plot()
        return records[-1] if records else {}

    def _adversary_step(self) -> None:
        """The adversary's update: the same warm-up + cosine schedule shape at its own lr, the same clipping."""
        adversary = self.job.adversary
        if adversary is None:
            return
        stage = StageConfig(steps=self.job.stage.steps, lr=adversary.lr)
        for group in self.adversary_optimizer.param_groups:
            group["lr"] = learning_rate(self.step, stage, self.job.config.optimizer)
        torch.nn.utils.clip_grad_norm_(list(adversary.parameters.values()), self.job.config.optimizer.grad_clip)
        self.adversary_optimizer.step()

    def _update_ema(self) -> None:
        if not self.rank.is_main:
            return
        decay = ema_decay(self.step, self.job.config.ema_decay)
        with torch.no_grad():
            for k, p in self.job.trainable.items():
                self.ema[k].lerp_(p.detach().float(), 1.0 - decay)

    def checkpoint(self, records: list[dict]) -> None:
        """The model with the EMA weights, then the state sidecar (atomically), then the loss curve."""
        metadata = {**self.job.metadata, "trained_steps": str(self.step),
                    "train_config": json.dumps(self.job.config.to_dict())}
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
