"""The renderer fine-tuning config (configs/renderer.json, or any user file with the same keys).

{"networks": ["M"], "batch_size": 4, "renderer": {"steps", "lr"}, "optimizer": {...},
 "ema_decay": 0.999, "loss": {"l1", "perceptual", "transfer", "perceptual_size", "identity", "gan"},
 "discriminator": {"lr", "betas", "weight_decay", "channels", "layers"},
 "checkpoint_every", "sample_every", "log_every", "seed"}

networks: which LivePortrait networks train, as letters: F (appearance feature extractor), M (motion
extractor), W (warping module), G (SPADE generator). The stitching MLPs never train here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from .config import OptimizerConfig, StageConfig, check_ema_decay, check_positive, find_config_file

NETWORK_LETTERS = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module",
                   "G": "spade_generator"}
RENDERER_PRESET = "renderer"


@dataclass(frozen=True)
class RendererLossConfig(Config):
    """Weights of L1 and VGG19 (L1 of features) reconstruction, and the transfer loss L_p (mean squared VGG19 feature
    difference between the two renders of pose i + expression j); the VGG sees images resized to perceptual_size.
    Optional, 0 = off: identity (1 - cosine of frozen appearance-extractor features of reconstruction and target,
    an appearance-identity proxy) and gan (hinge adversarial term of a patch discriminator on the reconstruction;
    at 0 the discriminator is not built)."""

    l1: float = 1.0
    perceptual: float = 1.0
    transfer: float = 1.0
    perceptual_size: int = 256
    identity: float = 0.0
    gan: float = 0.0


@dataclass(frozen=True)
class DiscriminatorConfig(Config):
    """The patch discriminator (used only when loss.gan > 0): its own AdamW (lr follows the same warm-up + cosine
    schedule shape as the networks'; gradients clipped to optimizer.grad_clip) and its size (channels of the first
    of `layers` strided convolutions)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)
    weight_decay: float = 0.0
    channels: int = 64
    layers: int = 3


@dataclass(frozen=True)
class RendererTrainConfig(Config):
    """Renderer fine-tuning; the defaults are the ``renderer`` preset (configs/renderer.json, a test asserts it).
    ``networks`` is normalised on construction to unique letters in F, M, W, G order."""

    networks: tuple[str, ...] = ("M",)
    batch_size: int = 4
    renderer: StageConfig = StageConfig(steps=20000, lr=1e-5)
    optimizer: OptimizerConfig = OptimizerConfig(weight_decay=0.0, warmup_steps=500)
    ema_decay: float = 0.999
    loss: RendererLossConfig = RendererLossConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 20
    seed: int = 0

    def validate(self) -> None:
        object.__setattr__(self, "networks", tuple(parse_networks(self.networks, "networks")))
        check_positive({"batch_size": self.batch_size, "renderer.steps": self.renderer.steps,
                        "checkpoint_every": self.checkpoint_every, "sample_every": self.sample_every,
                        "log_every": self.log_every, "loss.perceptual_size": self.loss.perceptual_size})
        check_ema_decay(self.ema_decay)
        if self.loss.gan > 0:
            check_positive({"discriminator.channels": self.discriminator.channels,
                            "discriminator.layers": self.discriminator.layers})
        negative = [k for k in ("l1", "perceptual", "transfer", "identity", "gan") if getattr(self.loss, k) < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0 (0 = off), got {', '.join(f'loss.{k}' for k in negative)}")


def parse_networks(value, source: str = "--networks") -> list[str]:
    """'M', 'M,W,G' or ['M', 'W'] -> sorted unique letters in F, M, W, G order."""
    letters = [v.strip().upper() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [v for v in letters if v not in NETWORK_LETTERS]
    if unknown or not letters:
        raise ValueError(f"{source} are letters among F (appearance), M (motion extractor), W (warping), "
                         f"G (generator), e.g. M or M,W,G; got {value!r}")
    return [v for v in NETWORK_LETTERS if v in letters]


def load_renderer_config(name_or_path: str) -> RendererTrainConfig:
    """'renderer' (the bundled preset) or a path to a JSON file."""
    return RendererTrainConfig.from_json_file(find_config_file(name_or_path, (RENDERER_PRESET,), "--config"))
