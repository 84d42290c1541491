"""The five LivePortrait networks (one per file); attribute names follow the official
checkpoints so their state dicts load strictly."""

from .appearance import AppearanceFeatureExtractor
from .motion_extractor import MotionExtractor
from .spade import SPADEDecoder
from .stitching import StitchingRetargeting
from .warping import WarpingNetwork

__all__ = ["AppearanceFeatureExtractor", "MotionExtractor", "WarpingNetwork", "SPADEDecoder", "StitchingRetargeting"]
