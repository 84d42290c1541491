"""The renderer fine-tuning config (configs/renderer.json, or any user file with the same keys).

{"networks": ["M"], "batch_size": 4, "renderer": {"steps", "lr"}, "optimizer": {...},
 "ema_decay": 0.999, "loss": {"l1", "perceptual", "transfer", "perceptual_size"},
 "checkpoint_every", "sample_every", "log_every", "seed"}

networks: which LivePortrait networks train, as letters: F (appearance feature extractor), M (motion
extractor), W (warping module), G (SPADE generator). The stitching MLPs never train here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from .config import CONFIG_DIR, OptimizerConfig, StageConfig, _check_keys

NETWORK_LETTERS = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module",
                   "G": "spade_generator"}
RENDERER_PRESET = "renderer"


@dataclass
class RendererLossConfig:
    """Weights of L1 and VGG19 (L1 of features) reconstruction, and the transfer loss L_p (mean squared VGG19 feature
    difference between the two renders of pose i + expression j); the VGG sees images resized to perceptual_size."""

    l1: float = 1.0
    perceptual: float = 1.0
    transfer: float = 1.0
    perceptual_size: int = 256


@dataclass
class RendererTrainConfig:
    networks: list = field(default_factory=lambda: ["M"])
    batch_size: int = 4
    renderer: StageConfig = field(default_factory=lambda: StageConfig(steps=20000, lr=1e-5))
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(weight_decay=0.0, warmup_steps=500))
    ema_decay: float = 0.999
    loss: RendererLossConfig = field(default_factory=RendererLossConfig)
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 20
    seed: int = 0

    def to_dict(self) -> dict:
        values = asdict(self)
        values["optimizer"]["betas"] = list(self.optimizer.betas)
        values["networks"] = list(self.networks)
        return values

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "RendererTrainConfig":
        nested = {"renderer": StageConfig, "optimizer": OptimizerConfig, "loss": RendererLossConfig}
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
        self.networks = parse_networks(self.networks, source)
        positive = {"batch_size": self.batch_size, "renderer.steps": self.renderer.steps,
                    "checkpoint_every": self.checkpoint_every, "sample_every": self.sample_every,
                    "log_every": self.log_every, "loss.perceptual_size": self.loss.perceptual_size}
        for name, value in positive.items():
            if int(value) < 1:
                raise ValueError(f"{source}: {name} must be at least 1, got {value}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"{source}: ema_decay must be within [0, 1), got {self.ema_decay}")


def parse_networks(value, source: str = "--networks") -> list[str]:
    """'M', 'M,W,G' or ['M', 'W'] -> sorted unique letters in F, M, W, G order."""
    letters = [v.strip().upper() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [v for v in letters if v not in NETWORK_LETTERS]
    if unknown or not letters:
        raise ValueError(f"{source}: networks are letters among F (appearance), M (motion extractor), W (warping), "
                         f"G (generator), e.g. M or M,W,G; got {value!r}")
    return [v for v in NETWORK_LETTERS if v in letters]


def load_renderer_config(name_or_path: str) -> RendererTrainConfig:
    """'renderer' (the bundled preset) or a path to a JSON file."""
    path = os.path.join(CONFIG_DIR, f"{name_or_path}.json") if name_or_path == RENDERER_PRESET else name_or_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config {name_or_path!r} not found: give {RENDERER_PRESET} or a JSON file")
    with open(path, encoding="utf-8") as f:
        try:
            values = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return RendererTrainConfig.from_dict(values, os.path.basename(path))
