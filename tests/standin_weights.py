"""Deterministic stand-in weights for the golden fixtures (LivePortrait; the draws JoyVASA shares).

The goldens in tests/fixtures/ were computed by the official code on weights that follow a documented
recipe (tests/fixtures/README.md, "Stand-in weights"). This is the project's own implementation of it:

* every tensor has its own ``torch.Generator`` seeded with ``crc32("<namespace>|<key>|<seed>")``;
* values come only from integer draws in [0, 2**24), turned into float64 with exact arithmetic
  (uniform ``(i + 0.5) / 2**24``; approximately normal = standardised sum of four such integers);
* one rounding to float32 at the end.

So the tensors are bit-identical on every CPU for a given torch version (no ``torch.randn``, whose
vectorised path may round differently). ``state_digest`` fingerprints a state dict; the expected digests are
in tests/test_standin_weights.py.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import zlib
from collections import OrderedDict
from pathlib import Path

import torch

LIVEPORTRAIT_MANIFEST = Path(__file__).resolve().parent / "fixtures" / "liveportrait" / "manifest.json"
INT_RANGE = 1 << 24
IRWIN_HALL_MEAN = 2 * INT_RANGE - 2  # sum of four draws i has mean 4 * (2**24 - 1) / 2
IRWIN_HALL_UNIT = math.sqrt(3.0) / INT_RANGE  # makes that sum unit-variance

# LivePortrait per-layer overrides, first match of the pattern in "namespace|key" wins:
# (pattern, weight gain, bias std, bias mean). Defaults: gain 1, bias std 0.02, bias mean 0.
LIVEPORTRAIT_RULES = (
    ("detector.fc_kp.", 0.1, 0.3, 0.0),
    ("detector.fc_exp.", 0.03, 0.01, 0.0),
    ("detector.fc_t.", 0.05, 0.02, 0.0),
    ("detector.fc_scale.", 0.1, 0.0, 1.5),
    ("dense_motion_network.hourglass.", math.sqrt(2.0), 0.02, 0.0),
    ("dense_motion_network.mask.", 8.0, 0.02, 0.0),
    ("dense_motion_network.occlusion.", 8.0, 0.02, 0.0),
    ("warping_module|fourth.", 3.0, 0.02, 0.0),
    ("mlp_shared.", 1.5, 0.02, 0.0),
    ("conv_img.", 0.5, 0.02, 0.0),
    ("retarget_shoulder|mlp.6.", 0.25, 0.01, 0.0),
    ("retarget_mouth|mlp.6.", 0.25, 0.01, 0.0),
    ("retarget_eye|mlp.10.", 0.25, 0.01, 0.0),
)
DEFAULT_RULE = (1.0, 0.02, 0.0)


def tensor_generator(namespace: str, key: str, seed: int) -> torch.Generator:
    """The generator of one tensor, seeded with crc32('namespace|key|seed')."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(zlib.crc32(f"{namespace}|{key}|{int(seed)}".encode("utf-8")) & 0xFFFFFFFF)
    return generator


def uniform_draw(generator: torch.Generator, count: int) -> torch.Tensor:
    """[count] float64 in (0, 1): (i + 0.5) / 2**24."""
    draws = torch.randint(0, INT_RANGE, (count,), generator=generator, dtype=torch.int64)
    return (draws.to(torch.float64) + 0.5) / float(INT_RANGE)


def normal_draw(generator: torch.Generator, count: int, std: float = 1.0) -> torch.Tensor:
    """[count] float64 ~ std * N(0, 1): the standardised sum of four integer draws (row-major (4, count))."""
    draws = torch.randint(0, INT_RANGE, (4, count), generator=generator, dtype=torch.int64)
    centred = draws.sum(0) - IRWIN_HALL_MEAN
    return centred.to(torch.float64) * (IRWIN_HALL_UNIT * float(std))


def unit_vector_draw(generator: torch.Generator, count: int) -> torch.Tensor:
    """[count] float64: a normal draw rounded to float32, divided by its exactly summed L2 norm."""
    vector = normal_draw(generator, count).to(torch.float32).to(torch.float64)
    return vector / math.sqrt(math.fsum(x * x for x in vector.tolist()))


def _fan_in(shape: tuple[int, ...]) -> int:
    return math.prod(shape[1:])


def _liveportrait_rule(namespace: str, key: str) -> tuple[float, float, float]:
    full = f"{namespace}|{key}"
    return next((rule[1:] for rule in LIVEPORTRAIT_RULES if rule[0] in full), DEFAULT_RULE)


def liveportrait_tensor(namespace: str, key: str, shape: tuple[int, ...], shapes: dict, seed: int = 0) -> torch.Tensor:
    """One LivePortrait stand-in tensor; ``shapes`` (key -> shape of the whole file) tells a norm's bias from a
    layer's bias and gives the spectral-norm vectors their sizes."""
    count, leaf = math.prod(shape), key.rsplit(".", 1)[-1]
    stem = key[: len(key) - len(leaf)]
    gain, bias_std, bias_mean = _liveportrait_rule(namespace, key)
    draw = functools.partial(tensor_generator, namespace, seed=seed)
    if leaf == "num_batches_tracked":
        return torch.zeros(shape, dtype=torch.int64)
    if leaf == "running_mean":
        values = normal_draw(draw(key), count, 0.05)
    elif leaf == "running_var":
        values = uniform_draw(draw(key), count) * 0.4 + 0.8
    elif leaf in ("weight_u", "weight_v"):
        values = unit_vector_draw(draw(key), count)
    elif leaf == "weight_orig":  # spectral norm: a random matrix plus a rank-1 spike c * u v^T (sigma ~ c > 0)
        fan_in = _fan_in(shape)
        base = normal_draw(draw(key), count, gain / math.sqrt(fan_in))
        left = unit_vector_draw(draw(stem + "weight_u"), shape[0]).to(torch.float32).to(torch.float64)
        right = unit_vector_draw(draw(stem + "weight_v"), fan_in).to(torch.float32).to(torch.float64)
        spike = (left[:, None] * right[None, :]) * (gain * (1.0 + math.sqrt(shape[0] / fan_in)))
        values = base + spike.reshape(-1)
    elif leaf in ("gamma", "beta") and len(shape) == 4:  # ConvNeXt-V2 GRN
        values = normal_draw(draw(key), count, 0.2 if leaf == "gamma" else 0.05)
    elif leaf == "weight" and len(shape) >= 2:
        values = normal_draw(draw(key), count, gain / math.sqrt(_fan_in(shape)))
    elif leaf == "weight":  # BatchNorm / LayerNorm scale
        values = normal_draw(draw(key), count, 0.1) + 1.0
    elif leaf == "bias":
        owner = shapes.get(stem + "weight", shapes.get(stem + "weight_orig"))
        if owner is not None and len(owner) == 1:  # norm shift
            values = normal_draw(draw(key), count, 0.05)
        else:
            values = normal_draw(draw(key), count, bias_std) + bias_mean
    else:
        values = normal_draw(draw(key), count, 0.02)
    return values.to(torch.float32).reshape(shape)


def liveportrait_state(entries: list[dict], namespace: str, seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """State dict of one manifest file (entries: [{'key', 'shape', 'dtype'}], canonical keys, manifest order)."""
    shapes = {entry["key"]: tuple(entry["shape"]) for entry in entries}
    return OrderedDict((key, liveportrait_tensor(namespace, key, shape, shapes, seed)) for key, shape in shapes.items())


def liveportrait_manifest() -> dict:
    return json.loads(LIVEPORTRAIT_MANIFEST.read_text())


@functools.lru_cache(maxsize=1)
def _liveportrait_namespaces(seed: int) -> dict[str, "OrderedDict[str, torch.Tensor]"]:
    files = liveportrait_manifest()["files"]
    states = {}
    for name, spec in files.items():
        for sub, part in spec.get("subnetworks", {name: spec}).items():
            states[sub] = liveportrait_state(part["entries"], part["namespace"], seed)
    return states


def liveportrait_namespaces(seed: int = 0) -> dict[str, "OrderedDict[str, torch.Tensor]"]:
    """{namespace-level name: state dict}: the four base networks and the three stitching MLPs
    (retarget_shoulder / retarget_mouth / retarget_eye), built once per process (~30 s on 2 cores)."""
    return _liveportrait_namespaces(seed)


def state_digest(state) -> str:
    """SHA-256 over every entry in order: key (UTF-8), dtype name, shape list, raw C-order bytes."""
    digest = hashlib.sha256()
    for key, value in state.items():
        value = value.detach().cpu().contiguous()
        for part in (key, str(value.dtype), str(list(value.shape))):
            digest.update(part.encode("utf-8"))
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()
