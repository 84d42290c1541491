"""LivePortraitRenderer: the five networks together, on one device and precision (PLAYMATE_RENDERER).

The networks run in the chosen dtype (float32 / float16 / bfloat16, optionally channels-last);
keypoint math, the stitching / retargeting MLPs and every returned tensor are float32. In fp16 / bf16
the BatchNorm parameters and running statistics stay float32 (as under the official fp16 autocast,
which never casts weights; a running variance below 6e-5 would lose bits in fp16), and so do the
warp geometry (dense_motion.py) and the spectral normalisation (spade.py).
"""

from __future__ import annotations

import torch
from torch import nn

from .checkpoints import (NETWORKS, RendererFiles, check_species, detect_species, find_renderer_files,
                          infer_renderer_config, read_renderer_states)
from .compiled import CompiledWarpDecode, WarpDecode, compile_unavailable_reason
from ..checkpoint.io import load_strict
from .config import RendererConfig
from .keypoints import apply_stitching_delta, motion_from_head_outputs
from .networks import AppearanceFeatureExtractor, MotionExtractor, SPADEDecoder, StitchingRetargeting, WarpingNetwork
from .source import SourceFeatures

CROP_SIZE = 256


def build_networks(cfg: RendererConfig) -> dict[str, nn.Module]:
    return {
        "appearance_feature_extractor": AppearanceFeatureExtractor(cfg.appearance),
        "motion_extractor": MotionExtractor(cfg.motion),
        "warping_module": WarpingNetwork(cfg.warping),
        "spade_generator": SPADEDecoder(cfg.spade),
        "stitching_retargeting_module": StitchingRetargeting(cfg.stitching),
    }


def check_crops(crops: torch.Tensor, name: str = "crops") -> None:
    """Networks take RGB [B, 3, 256, 256] float in [0, 1]."""
    if crops.ndim != 4 or crops.shape[1] != 3 or tuple(crops.shape[-2:]) != (CROP_SIZE, CROP_SIZE):
        raise ValueError(f"{name}: expected RGB crops shaped [B, 3, 256, 256], got {tuple(crops.shape)}")
    if not crops.is_floating_point():
        raise ValueError(f"{name}: expected float values in [0, 1], got dtype {crops.dtype}")
    lo, hi = float(crops.min()), float(crops.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{name}: values must lie in [0, 1] (got {lo:.3f} .. {hi:.3f}); divide 8-bit images by 255")


def _to_channels_last_2d(net: nn.Module) -> None:
    """Channels-last layout for the 4-D (2D conv) weights; 3-D conv weights keep theirs."""
    for param in net.parameters():
        if param.ndim == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)


class LivePortraitRenderer:
    """The five networks; ``species`` ("human" / "animal") says which LivePortrait set they are (the motion
    application picks the official animal settings for an animal set)."""

    def __init__(self, networks: dict[str, nn.Module], cfg: RendererConfig, dtype: torch.dtype = torch.float32,
                 channels_last: bool = False, species: str = "human"):
        self.cfg = cfg
        self.species = check_species(species)
        self.dtype = dtype
        self.channels_last = channels_last
        self.appearance_extractor = networks["appearance_feature_extractor"].eval()
        self.motion_extractor = networks["motion_extractor"].eval()
        self.warping = networks["warping_module"].eval()
        self.decoder = networks["spade_generator"].eval()
        self.stitching = networks["stitching_retargeting_module"].eval().float()
        for net in networks.values():
            net.requires_grad_(False)
        for net in (self.appearance_extractor, self.motion_extractor, self.warping, self.decoder):
            net.to(dtype)
            for module in net.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.float()
            if channels_last:
                _to_channels_last_2d(net)
        self.warp_decode = WarpDecode(self.warping, self.decoder, channels_last)
        self._compiled: CompiledWarpDecode | None = None

    @property
    def device(self) -> torch.device:
        return next(self.decoder.parameters()).device

    def to(self, device: torch.device | str) -> "LivePortraitRenderer":
        for net in self.modules():
            net.to(device)
        return self

    def modules(self) -> list[nn.Module]:
        return [self.appearance_extractor, self.motion_extractor, self.warping, self.decoder, self.stitching]

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    @torch.inference_mode()
    def extract_appearance(self, crops: torch.Tensor) -> torch.Tensor:
        """[B, 3, 256, 256] in [0, 1] -> f_s [B, C, D, 64, 64] float32."""
        check_crops(crops)
        return self.appearance_extractor(self._input(crops)).float().contiguous()

    @torch.inference_mode()
    def extract_motion(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 3, 256, 256] in [0, 1] -> (canonical kp [B, 21, 3], motion [B, 70]), float32."""
        check_crops(crops)
        raw = self.motion_extractor(self._input(crops))
        return motion_from_head_outputs({k: v.float() for k, v in raw.items()})

    def extract_source(self, crops: torch.Tensor) -> SourceFeatures:
        """Source features of portrait crops (eye / lip ratios left None: they need landmarks)."""
        kp, motion = self.extract_motion(crops)
        return SourceFeatures(appearance=self.extract_appearance(crops), kp_canonical=kp, motion=motion)

    @torch.inference_mode()
    def stitch(self, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """Stitched driving keypoints [B, 21, 3] (keeps the face joined to the shoulders)."""
        kp_source, kp_driving = kp_source.float().to(self.device), kp_driving.float().to(self.device)
        return apply_stitching_delta(kp_driving, self.stitching.stitch_delta(kp_source, kp_driving))

    @torch.inference_mode()
    def eye_delta(self, kp_source: torch.Tensor, eye_ratio: torch.Tensor) -> torch.Tensor:
        """[B, 21, 3], [c_s left, c_s right, c_d] [B, 3] -> keypoint offsets [B, 21, 3]."""
        return self.stitching.eye_delta(kp_source.float().to(self.device), eye_ratio.float().to(self.device))

    @torch.inference_mode()
    def lip_delta(self, kp_source: torch.Tensor, lip_ratio: torch.Tensor) -> torch.Tensor:
        """[B, 21, 3], [c_s lip, c_d] [B, 2] -> keypoint offsets [B, 21, 3]."""
        return self.stitching.lip_delta(kp_source.float().to(self.device), lip_ratio.float().to(self.device))

    def _warp(self, appearance: torch.Tensor, kp_source: torch.Tensor,
              kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.warping(
            appearance.to(self.device),
            kp_source=kp_source.to(self.device, torch.float32),
            kp_driving=kp_driving.to(self.device, torch.float32),
        )

    @torch.inference_mode()
    def warp(self, appearance: torch.Tensor, kp_source: torch.Tensor,
             kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
        """W on (x_s -> x_d): 'out' [B, 256, 64, 64], 'occlusion_map', 'deformation', 'mask' (float32)."""
        return {k: v.float() for k, v in self._warp(appearance, kp_source, kp_driving).items()}

    @torch.inference_mode()
    def decode(self, feature: torch.Tensor) -> torch.Tensor:
        """Warped feature [B, 256, 64, 64] -> image [B, 3, 512, 512] float32 in [0, 1]."""
        return self.decoder(self._input(feature)).float()

    def compile(self, device: torch.device | str | None = None, backend: str = "inductor") -> str | None:
        """Compile warp + decode (see compiled.py) for ``device`` (default: where the networks are now);
        returns None, or why it cannot (then rendering stays eager). Compilation itself happens on the
        first render of each batch size."""
        device = torch.device(device) if device is not None else self.device
        reason = compile_unavailable_reason(device)
        if reason is None:
            self._compiled = CompiledWarpDecode(self.warp_decode, device, backend)
        return reason

    @property
    def is_compiled(self) -> bool:
        return self._compiled is not None and self._compiled.failed is None

    @torch.inference_mode()
    def render(self, appearance: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """Warp + decode: f_s [B, C, D, 64, 64], x_s and x_d [B, 21, 3] -> [B, 3, 512, 512] in [0, 1].
        The warped feature stays in the network dtype between the two networks."""
        inputs = (appearance.to(self.device), kp_source.to(self.device, torch.float32),
                  kp_driving.to(self.device, torch.float32))
        run = self._compiled or self.warp_decode
        return run(*inputs).float()

def load_renderer(
    source: str | RendererFiles,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    species: str = "auto",
) -> LivePortraitRenderer:
    """Build a renderer from a set of LivePortrait files (any accepted layout), strictly.

    ``source``: a folder, any file of a set, our single file, or an explicit RendererFiles.
    ``species``: "auto" (checkpoints.detect_species: folder or metadata), "human" or "animal".
    Nothing is returned (or cached by callers) unless every network loaded completely.
    """
    files = source if isinstance(source, RendererFiles) else find_renderer_files(source)
    species = detect_species(files) if species == "auto" else check_species(species)
    states = read_renderer_states(files)
    cfg = infer_renderer_config(states, files)
    with torch.device("meta"):
        networks = build_networks(cfg)
    for name in NETWORKS:
        load_strict(networks[name], states[name], files.paths[name], name, assign=True)
    renderer = LivePortraitRenderer(networks, cfg, dtype=dtype, channels_last=channels_last, species=species)
    return renderer.to(device)
