"""Training configurations: a JSON file per preset (configs/tiny.json, configs/base.json) or any user file.

{"model": {"preset": "tiny", ...PlaymateConfig overrides}, "batch_size": 16,
 "stage1": {"steps": ..., "lr": ...}, "stage2": {"steps": ..., "lr": ...},
 "optimizer": {"weight_decay", "betas", "warmup_steps", "min_lr_ratio", "grad_clip"},
 "ema_decay": 0.999, "loss": {"velocity": ..., "smoothness": ...},
 "checkpoint_every": ..., "sample_every": ..., "log_every": ..., "seed": 0}
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "configs")
PRESETS = ("tiny", "base")


@dataclass
class StageConfig:
    """How long and how fast one stage trains."""

    steps: int = 1000
    lr: float = 1e-3


@dataclass
class OptimizerConfig:
    """AdamW with a linear warm-up, then a cosine decay to min_lr_ratio * lr; gradients clipped to grad_clip (L2)."""

    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.99)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0


@dataclass
class LossConfig:
    """Weights of the x0-estimate terms added to the epsilon loss (see train.losses)."""

    velocity: float = 1.0
    smoothness: float = 0.5


@dataclass
class TrainConfig:
    model: dict = field(default_factory=lambda: {"preset": "tiny"})
    batch_size: int = 16
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=lambda: StageConfig(steps=500, lr=5e-4))
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    ema_decay: float = 0.999
    loss: LossConfig = field(default_factory=LossConfig)
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10
    seed: int = 0

    def to_dict(self) -> dict:
        values = asdict(self)
        values["optimizer"]["betas"] = list(self.optimizer.betas)
        return values

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "TrainConfig":
        nested = {"stage1": StageConfig, "stage2": StageConfig, "optimizer": OptimizerConfig, "loss": LossConfig}
        _check_keys(values, cls, source)
        kwargs = {}
        for key, value in values.items():
            if key in nested:
                _check_keys(value, nested[key], f"{source}: {key}")
                kwargs[key] = nested[key](**value)
            else:
                kwargs[key] = value
        config = cls(**kwargs)
        config.optimizer.betas = tuple(config.optimizer.betas)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        if "preset" not in self.model:
            raise ValueError(f"{source}: model needs a 'preset' (one of tiny, base) plus optional overrides")
        positive = {"batch_size": self.batch_size, "stage1.steps": self.stage1.steps, "stage2.steps": self.stage2.steps,
                    "checkpoint_every": self.checkpoint_every, "sample_every": self.sample_every,
                    "log_every": self.log_every}
        for name, value in positive.items():
            if int(value) < 1:
                raise ValueError(f"{source}: {name} must be at least 1, got {value}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"{source}: ema_decay must be within [0, 1), got {self.ema_decay}")


def _check_keys(values: dict, kind, source: str) -> None:
    if not isinstance(values, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(values).__name__}")
    unknown = sorted(set(values) - {f.name for f in fields(kind)})
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; valid keys: {', '.join(f.name for f in fields(kind))}")


def load_train_config(name_or_path: str) -> TrainConfig:
    """'tiny' / 'base' (the bundled presets) or a path to a JSON file."""
    path = os.path.join(CONFIG_DIR, f"{name_or_path}.json") if name_or_path in PRESETS else name_or_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"training config {name_or_path!r} not found: give {' or '.join(PRESETS)} or a JSON file")
    with open(path, encoding="utf-8") as f:
        try:
            values = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return TrainConfig.from_dict(values, os.path.basename(path))
