"""Device and precision choices ("auto" included), shared by the nodes and the pipeline."""

from __future__ import annotations

import torch

from .checkpoint.io import DTYPES

PRECISIONS = ["auto", "fp32", "fp16", "bf16"]
DEVICES = ["auto", "cpu", "cuda", "mps"]


class ParameterPlacement:
    """Mixin for an nn.Module: ``device`` and ``dtype`` are those of its first parameter."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype


def default_device() -> torch.device:
    """cuda > mps > cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[str]:
    """The devices this torch build can use here: cpu, then cuda (cuda:N too with several GPUs), mps, xpu."""
    found = ["cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        found += ["cuda"] + ([f"cuda:{i}" for i in range(count)] if count > 1 else [])
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    if getattr(torch, "xpu", None) is not None and torch.xpu.is_available():
        found.append("xpu")
    return found


def resolve_device(choice: str = "auto", input_name: str = "device") -> torch.device:
    """'auto' -> cuda > mps > cpu; any other choice must be available here (ValueError naming the input)."""
    if choice == "auto":
        return default_device()
    available = available_devices()
    if choice not in available:
        raise ValueError(f"{input_name} {choice!r} is not available on this machine; available: "
                         f"{', '.join(['auto', *available])} (choose one of them, or auto)")
    return torch.device(choice)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """'auto': fp16 on CUDA, fp32 elsewhere (CPU users may pick bf16: see README for its accuracy)."""
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return DTYPES[precision]
