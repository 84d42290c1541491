"""Training configurations: a JSON file per preset (configs/tiny.json, configs/base.json) or any user file.

{"model": {"preset": "tiny", ...PlaymateConfig overrides}, "batch_size": 16,
 "stage1": {"steps": ..., "lr": ...}, "stage2": {"steps": ..., "lr": ...},
 "optimizer": {"weight_decay", "betas", "warmup_steps", "min_lr_ratio", "grad_clip"},
 "ema_decay": 0.999, "loss": {"velocity": ..., "smoothness": ...},
 "checkpoint_every": ..., "sample_every": ..., "log_every": ..., "seed": 0}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..config import Config

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "configs")
PRESETS = ("tiny", "base")


@dataclass(frozen=True)
class StageConfig(Config):
    """How long and how fast one stage trains."""

    steps: int = 1000
    lr: float = 1e-3


@dataclass(frozen=True)
class OptimizerConfig(Config):
    """AdamW with a linear warm-up, then a cosine decay to min_lr_ratio * lr; gradients clipped to grad_clip (L2)."""

    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0


@dataclass(frozen=True)
class LossConfig(Config):
    """Weights of the x0-estimate terms added to the epsilon loss (see train.losses)."""

    velocity: float = 1.0
    smoothness: float = 0.5


@dataclass(frozen=True)
class TrainConfig(Config):
    """Motion-model training (stages 1 and 2). The defaults are the ``tiny`` preset (configs/tiny.json, a test
    asserts they are equal); ``base`` (configs/base.json) is the full-size model and schedule. A JSON file may omit
    keys: they take these defaults."""

    model: dict = field(default_factory=lambda: {"preset": "tiny"})
    batch_size: int = 16
    stage1: StageConfig = StageConfig(steps=2000, lr=1e-3)
    stage2: StageConfig = StageConfig(steps=500, lr=1e-3)
    optimizer: OptimizerConfig = OptimizerConfig(warmup_steps=50)
    ema_decay: float = 0.99
    loss: LossConfig = LossConfig()
    checkpoint_every: int = 250
    sample_every: int = 250
    log_every: int = 10
    seed: int = 0

    def validate(self) -> None:
        from ..motion.models.playmate import PlaymateConfig

        overrides = dict(self.model)
        preset = overrides.pop("preset", None)
        if preset not in PlaymateConfig.PRESETS:
            raise ValueError(f"model needs a 'preset' (one of {', '.join(PlaymateConfig.PRESETS)}) plus optional "
                             f"PlaymateConfig overrides, got {preset!r}")
        PlaymateConfig.from_dict({**PlaymateConfig.PRESETS[preset], **overrides}, "model")
        check_positive({"batch_size": self.batch_size, "stage1.steps": self.stage1.steps,
                        "stage2.steps": self.stage2.steps, "checkpoint_every": self.checkpoint_every,
                        "sample_every": self.sample_every, "log_every": self.log_every})
        check_ema_decay(self.ema_decay)


def check_positive(values: dict) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def check_ema_decay(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"ema_decay must be within [0, 1), got {value}")


def find_config_file(name_or_path: str, presets: tuple[str, ...], what: str) -> str:
    """A bundled preset's path (configs/<name>.json) or the given JSON file's path."""
    path = os.path.join(CONFIG_DIR, f"{name_or_path}.json") if name_or_path in presets else name_or_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {name_or_path!r} not found: give {' or '.join(presets)} or a JSON file")
    return path


def load_train_config(name_or_path: str) -> TrainConfig:
    """'tiny' / 'base' (the bundled presets) or a path to a JSON file."""
    return TrainConfig.from_json_file(find_config_file(name_or_path, PRESETS, "training config"))
