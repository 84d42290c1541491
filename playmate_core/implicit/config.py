"""Hyper-parameters of the five LivePortrait networks.

``RendererConfig.official()`` is LivePortrait's models.yaml (human and animal models share it);
``RendererConfig.tiny()`` is a small configuration of the same code for tests and examples.
Configs round-trip through plain dicts (stored as JSON in our safetensors metadata) with
:class:`playmate_core.config.Config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config


@dataclass(frozen=True)
class AppearanceConfig(Config):
    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


@dataclass(frozen=True)
class MotionExtractorConfig(Config):
    """ConvNeXt-V2 backbone (tiny: depths 3-3-9-3, dims 96-192-384-768) with pose/keypoint heads."""

    num_kp: int = 21
    in_channels: int = 3
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    num_bins: int = 66


@dataclass(frozen=True)
class DenseMotionConfig(Config):
    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class WarpingConfig(Config):
    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)

    @property
    def out_channels(self) -> int:
        return self.block_expansion * 2**self.num_down_blocks


@dataclass(frozen=True)
class SpadeConfig(Config):
    """SPADE decoder. num_middle_blocks / hidden_channels / out_channels are fixed in LivePortrait's
    code (6 / 128 / 64); they are configurable here so small configs can shrink them."""

    upscale: int = 2
    block_expansion: int = 64
    num_down_blocks: int = 2
    num_middle_blocks: int = 6
    hidden_channels: int = 128
    out_channels: int = 64

    @property
    def in_channels(self) -> int:
        return self.block_expansion * 2**self.num_down_blocks


@dataclass(frozen=True)
class MLPConfig(Config):
    input_size: int
    hidden_sizes: tuple[int, ...]
    output_size: int


@dataclass(frozen=True)
class StitchingConfig(Config):
    stitching: MLPConfig = MLPConfig(126, (128, 128, 64), 65)
    lip: MLPConfig = MLPConfig(65, (128, 128, 64), 63)
    eye: MLPConfig = MLPConfig(66, (256, 256, 128, 128, 64), 63)


@dataclass(frozen=True)
class RendererConfig(Config):
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion: MotionExtractorConfig = field(default_factory=MotionExtractorConfig)
    warping: WarpingConfig = field(default_factory=WarpingConfig)
    spade: SpadeConfig = field(default_factory=SpadeConfig)
    stitching: StitchingConfig = field(default_factory=StitchingConfig)

    @classmethod
    def official(cls) -> "RendererConfig":
        return cls()

    @classmethod
    def tiny(cls) -> "RendererConfig":
        """About 1.2 M parameters: the official code paths and key layouts, 512x512 output, but few
        channels and a depth of 4 instead of 16 in the appearance volume (for fast tests)."""
        return cls(
            appearance=AppearanceConfig(
                block_expansion=8, max_features=16, reshape_channel=4, reshape_depth=4, num_resblocks=1
            ),
            motion=MotionExtractorConfig(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)),
            warping=WarpingConfig(
                block_expansion=8,
                max_features=16,
                reshape_channel=4,
                dense_motion=DenseMotionConfig(
                    block_expansion=4, max_features=32, num_blocks=3, reshape_depth=4, compress=1
                ),
            ),
            spade=SpadeConfig(block_expansion=8, num_middle_blocks=2, hidden_channels=16, out_channels=16),
            stitching=StitchingConfig(
                stitching=MLPConfig(126, (16, 16), 65), lip=MLPConfig(65, (16, 16), 63), eye=MLPConfig(66, (16, 16), 63)
            ),
        )
