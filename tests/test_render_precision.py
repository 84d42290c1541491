"""fp16 and torch.compile on the tiny renderer, against fp32 eager (CPU, no GPU needed).

fp16: torch's CPU fp16 convolutions are naive loops (about 200 s for one tiny frame), so while the fp16
renderer runs, convolutions take fp16 inputs and weights, accumulate in fp32 and round the result to
fp16 - what cuDNN does on a GPU. Every other op (norms, activations, resampling, the SPADE
modulation) runs in real fp16 on the CPU.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lp_weights import random_official_states, write_kijai_layout
from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import load_renderer

# fp16 rounds each value to 2^-11 relative (4.9e-4); a frame passes ~40 rounded layers whose errors add
# mostly in quadrature, so a few 1e-3 is the expected scale (bf16's 2e-2 would hide a real defect).
FP16_REL_L2 = 5e-3
COMPILE_REL_L2 = 1e-5
CONVOLUTIONS = {torch.ops.aten.convolution, torch.ops.aten._convolution, torch.ops.aten.conv1d, torch.ops.aten.conv2d,
                torch.ops.aten.conv3d}  # under inference mode the conv2d / conv3d ops arrive undecomposed


class Fp32AccumulatingConvolutions(TorchDispatchMode):
    """fp16 convolutions computed in fp32 from the fp16 values, then rounded to fp16."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket in CONVOLUTIONS and args[0].dtype == torch.float16:
            wide = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
            return func(*wide, **kwargs).half()
        return func(*args, **kwargs)


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    return str(write_kijai_layout(random_official_states(RendererConfig.tiny(), seed=0), tmp_path_factory.mktemp("lp")))


def run_frame(renderer, crops, offsets):
    """Source extraction, stitching, warp and decode: every network of a render."""
    source = renderer.extract_source(crops)
    x_s = source.keypoints()
    x_d = renderer.stitch(x_s, x_s + offsets)
    warped = renderer.warp(source.appearance, x_s, x_d)
    return {"appearance": source.appearance, "kp": source.kp_canonical, "motion": source.motion, "x_d": x_d,
            "occlusion": warped["occlusion_map"], "image": renderer.render(source.appearance, x_s, x_d)}


def test_fp16_tiny_renderer_matches_fp32_and_stays_finite(tiny_files):
    g = torch.Generator().manual_seed(3)
    crops = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=(256, 256), mode="bilinear")
    offsets = 0.03 * torch.randn(1, 21, 3, generator=g)
    reference = run_frame(load_renderer(tiny_files), crops, offsets)
    half = load_renderer(tiny_files, dtype=torch.float16)
    with Fp32AccumulatingConvolutions():
        lowered = run_frame(half, crops, offsets)
        warped_dtype = half.warping(reference["appearance"].half(), kp_source=reference["x_d"],
                                    kp_driving=reference["x_d"])["out"].dtype
    assert warped_dtype == torch.float16 and half.decoder.fc.weight.dtype == torch.float16
    for name, value in lowered.items():
        assert bool(torch.isfinite(value).all()), name
        assert rel_l2(value, reference[name]) < FP16_REL_L2, (name, rel_l2(value, reference[name]))
    assert rel_l2(lowered["image"], reference["image"]) > 0  # it really ran in fp16


@pytest.mark.slow
def test_compiled_warp_decode_matches_eager_and_compiles_once_per_batch(tiny_files):
    """Compilation takes one to a few minutes on two busy cores; the padded last chunk reuses the graph."""
    renderer = load_renderer(tiny_files)
    g = torch.Generator().manual_seed(5)
    source = renderer.extract_source(torch.rand(1, 3, 256, 256, generator=g))
    x_s = source.keypoints().expand(3, 21, 3)
    x_d = x_s + 0.03 * torch.randn(3, 21, 3, generator=g)
    appearance = source.appearance.expand(3, *source.appearance.shape[1:])
    eager = renderer.render(appearance, x_s, x_d)
    assert renderer.compile() is None
    compiled = renderer.render(appearance, x_s, x_d)
    assert renderer.is_compiled
    assert rel_l2(compiled, eager) < COMPILE_REL_L2
    with torch._dynamo.config.patch(error_on_recompile=True):
        last_chunk = renderer.render(appearance[:2], x_s[:2], x_d[:2])
    assert last_chunk.shape[0] == 2
    assert rel_l2(last_chunk, eager[:2]) < COMPILE_REL_L2


def test_compile_falls_back_to_eager_with_the_reason(tiny_files, monkeypatch, caplog):
    renderer = load_renderer(tiny_files)
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr("shutil.which", lambda name: None)
    reason = renderer.compile()
    assert "no C++ compiler" in reason and not renderer.is_compiled


def test_failed_compilation_logs_once_and_renders_eager(tiny_files, monkeypatch, caplog):
    renderer = load_renderer(tiny_files)
    source = renderer.extract_source(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)))
    x_s = source.keypoints()
    eager = renderer.render(source.appearance, x_s, x_s)

    def broken_compile(module, **kwargs):
        def fail(*args):
            raise RuntimeError("InductorError: CppCompileError: C++ compile error\nlong log")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    assert renderer.compile() is None
    with caplog.at_level("WARNING", logger="playmate"):
        out = renderer.render(source.appearance, x_s, x_s)
        again = renderer.render(source.appearance, x_s, x_s)
    assert torch.equal(out, eager) and torch.equal(again, eager)
    assert not renderer.is_compiled
    warnings = [r.getMessage() for r in caplog.records if "torch.compile" in r.getMessage()]
    assert len(warnings) == 1 and "C++ compile error" in warnings[0] and "without compilation" in warnings[0]
