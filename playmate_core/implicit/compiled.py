"""Warp + decode as one module, optionally compiled with torch.compile (inductor).

CPU: the decoder only, inductor with ``freezing`` (weights folded as constants, oneDNN-prepacked
convolutions); the warp stays eager, because its compiled form was never faster on the CPU
(``benchmarks/render_bench.py --compare-parts``: warp x0.95, decoder x1.23 on an idle machine; under
load the compiled warp was slower still; see the README).
CUDA: warp and decoder, ``mode="max-autotune"`` as LivePortrait's ``flag_do_torch_compile`` (with CUDA
graphs, so each call marks a new graph step and its output is copied out).

Shapes are static (``dynamic=False``): a batch smaller than one already compiled (the last chunk of a
clip) is padded to that size with its last row, so a render compiles once per batch size. When
compilation is unavailable (no C++ compiler, no Triton) or fails, the reason is logged once and the
eager networks run instead.
"""

from __future__ import annotations

import logging
import os
import shutil

import torch
from torch import nn

LOG = logging.getLogger("playmate")
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
CPU_COMPILERS = ("g++", "c++", "clang++")


class WarpDecode(nn.Module):
    """W then G: f_s [B, C, D, 64, 64], x_s and x_d [B, 21, 3] -> image [B, 3, 512, 512] (network dtype)."""

    def __init__(self, warping: nn.Module, decoder: nn.Module, channels_last: bool):
        super().__init__()
        self.warping = warping
        self.decoder = decoder
        self.channels_last = channels_last

    def warped(self, appearance: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """The decoder's input [B, out_channels, 64, 64]."""
        out = self.warping(appearance, kp_source=kp_source, kp_driving=kp_driving)["out"]
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out

    def forward(self, appearance: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.warped(appearance, kp_source, kp_driving))


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why torch.compile cannot run on this device here, or None when it can."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (it needs torch >= 2.0)"
    if device.type == "cpu":
        if not (os.environ.get("CXX") or any(shutil.which(c) for c in CPU_COMPILERS)):
            return ("no C++ compiler was found (inductor needs g++ or "
                    "clang++ on CPU: install build-essential, or set CXX)")
        return None
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "Triton is not installed (inductor needs it on CUDA: pip install triton)"
        return None
    return f"compilation is not supported on {device.type} (cpu and cuda are)"


def compile_kwargs(device: torch.device, backend: str = "inductor") -> dict:
    """torch.compile arguments; a backend other than inductor (e.g. "eager", which only traces: a quick
    check of the graph capture, see benchmarks/gpu_check.py --dry-run) takes no inductor options."""
    if backend != "inductor":
        return {"backend": backend, "dynamic": False}
    if device.type == "cuda":
        return {"backend": "inductor", "dynamic": False, "mode": "max-autotune"}
    return {"backend": "inductor", "dynamic": False, "options": {"freezing": True}}


class CompiledWarpDecode:
    """Calls a compiled WarpDecode with padded static batches; falls back to eager on failure."""

    def __init__(self, eager: WarpDecode, device: torch.device, backend: str = "inductor"):
        self.eager = eager
        self.device = device
        kwargs = compile_kwargs(device, backend)
        if device.type == "cuda":
            self.compiled = torch.compile(eager, **kwargs)
        else:
            decoder = torch.compile(eager.decoder, **kwargs)
            self.compiled = lambda *inputs: decoder(eager.warped(*inputs))
        self.batch_sizes: set[int] = set()
        self.failed: str | None = None

    def __call__(self, appearance: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        if self.failed is not None:
            return self.eager(appearance, kp_source, kp_driving)
        n = appearance.shape[0]
        size = min((s for s in self.batch_sizes if s >= n), default=n)
        # guards check strides and whether a tensor is an inference tensor: always fresh contiguous copies
        inputs = [_pad_rows(t, size).clone(memory_format=torch.contiguous_format)
                  for t in (appearance, kp_source, kp_driving)]
        first = size not in self.batch_sizes
        try:
            if self.device.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()
            out = self.compiled(*inputs)
        except OUT_OF_MEMORY:
            raise
        except Exception as err:  # noqa: BLE001 - any compiler failure: fall back, once, with the reason
            if not first:
                raise
            self.failed = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
            LOG.warning("torch.compile of warp + decode failed (%s); rendering without compilation", self.failed)
            return self.eager(appearance, kp_source, kp_driving)
        self.batch_sizes.add(size)
        return out[:n].clone()


def _pad_rows(x: torch.Tensor, size: int) -> torch.Tensor:
    """Repeat the last row so the batch has ``size`` rows."""
    if x.shape[0] == size:
        return x
    return torch.cat([x, x[-1:].expand(size - x.shape[0], *x.shape[1:])])
