"""The reduced golden files of tests/fixtures/ read back in the full fixtures' terms (tests/fixtures/README.md).

* LivePortrait: the two input images are re-derived from media/portraits/astronaut_512x512.png (bit-equal to the
  stored originals), and the large outputs are strided samples; ``sampled(key, ours)`` takes the same sample of
  a full-size result, so the comparison runs on the very elements the golden file keeps.
* JoyVASA: the 64000-sample HuBERT windows are re-derived from ``in.audio_16k`` (bit-equal to the originals);
  the stored trajectory keeps the rows named in the file's metadata.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import fixture_path

JOYVASA_WINDOW = 64000  # samples at 16 kHz
JOYVASA_PAD = (1280, 640)  # zeros before and after the whole clip


def _metadata(path) -> dict:
    with safe_open(str(path), framework="pt") as handle:
        return {k: json.loads(v) for k, v in (handle.metadata() or {}).items()}


@functools.lru_cache(maxsize=1)
def _liveportrait_samples() -> dict:
    return _metadata(fixture_path("liveportrait", "golden.safetensors")).get("samples", {})


def liveportrait_source_image() -> torch.Tensor:
    """[1, 3, 256, 256] float32: the astronaut photo's rows 0..255, columns 96..351, / 255 (the golden input)."""
    pixels = np.asarray(Image.open(fixture_path("media", "portraits", "astronaut_512x512.png")).convert("RGB"))
    return torch.from_numpy(pixels[0:256, 96:352].astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def liveportrait_golden() -> dict[str, torch.Tensor]:
    """The golden tensors with the inputs restored (``input.driving_image`` is the source mirrored)."""
    golden = load_file(str(fixture_path("liveportrait", "golden.safetensors")))
    source = liveportrait_source_image()
    golden["input.source_image"], golden["input.driving_image"] = source, source.flip(-1).contiguous()
    return golden


def sampled(key: str, tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` reduced the way the golden file stores ``key`` (unchanged when the key is stored whole)."""
    if key not in _liveportrait_samples():
        return tensor
    stride, dims = _liveportrait_samples()[key]
    index = [slice(None)] * tensor.ndim
    for dim in dims:
        index[dim] = slice(None, None, stride)
    return tensor[tuple(index)]


def joyvasa_window(golden: dict, window: int) -> torch.Tensor:
    """[1, 64000] float32: window ``window`` of the padded clip, as JoyVASA's audio glue cuts it (the golden input)."""
    clip = golden["in.audio_16k"]
    padded = torch.cat([clip.new_zeros(JOYVASA_PAD[0]), clip, clip.new_zeros(JOYVASA_PAD[1])])
    part = padded[window * JOYVASA_WINDOW:(window + 1) * JOYVASA_WINDOW]
    return torch.cat([part, part.new_zeros(JOYVASA_WINDOW - part.numel())])[None]


def joyvasa_rows(key: str) -> list[int]:
    """The rows of the full tensor that golden_small.safetensors keeps for ``key`` (dim 0)."""
    return _metadata(fixture_path("joyvasa", "golden_small.safetensors"))["rows"][key]
