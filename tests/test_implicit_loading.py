"""Loading LivePortrait sets of any size and layout, strictly, and every bad-file error."""

from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from lp_weights import random_official_states, write_kijai_layout, write_official_layout
from playmate_core.checkpoint.io import CheckpointError
from playmate_core.cli import main as cli_main
from playmate_core.implicit.checkpoints import NETWORKS
from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import load_renderer


@pytest.fixture(scope="module")
def tiny_states():
    return random_official_states(RendererConfig.tiny(), seed=3)


@pytest.fixture
def kijai_dir(tmp_path, tiny_states):
    return write_kijai_layout(tiny_states, tmp_path / "kijai")


def _weights(renderer) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v for i, m in enumerate(renderer.modules()) for k, v in m.state_dict().items()}


def test_tiny_sets_load_in_both_layouts_with_config_read_from_shapes(tmp_path, tiny_states, kijai_dir):
    official = load_renderer(str(write_official_layout(tiny_states, tmp_path / "official")))
    kijai = load_renderer(str(kijai_dir / "motion_extractor.safetensors"))  # any file of the set finds the rest
    assert official.cfg == kijai.cfg == RendererConfig.tiny()
    a, b = _weights(official), _weights(kijai)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(a["0.first.conv.weight"], tiny_states["appearance_feature_extractor"]["first.conv.weight"])
    assert torch.equal(a["4.eye.mlp.0.weight"],
                       tiny_states["stitching_retargeting_module"]["retarget_eye"]["mlp.0.weight"])


def test_renderer_outputs_have_documented_shapes(kijai_dir):
    renderer = load_renderer(str(kijai_dir))
    crops = torch.rand(2, 3, 256, 256)
    source = renderer.extract_source(crops)
    assert source.appearance.shape == (2, 4, 4, 64, 64)
    assert source.kp_canonical.shape == (2, 21, 3) and source.motion.shape == (2, 70)
    x_s = source.keypoints()
    frame = renderer.render(source.appearance, x_s, renderer.stitch(x_s, x_s))
    assert frame.shape == (2, 3, 512, 512) and frame.dtype == torch.float32
    assert 0.0 <= float(frame.min()) and float(frame.max()) <= 1.0
    assert float(frame.std()) > 1e-3


def test_convert_cli_round_trip(tmp_path, kijai_dir, capsys):
    out = tmp_path / "renderer_tiny.safetensors"
    assert cli_main(["convert-liveportrait", str(kijai_dir), str(out)]) == 0
    assert "from the kijai layout" in capsys.readouterr().out
    converted = load_renderer(str(out))
    original = load_renderer(str(kijai_dir))
    assert converted.cfg == original.cfg
    a, b = _weights(converted), _weights(original)
    assert all(torch.equal(a[k], b[k]) for k in a)

    half = tmp_path / "renderer_tiny_fp16.safetensors"
    assert cli_main(["convert-liveportrait", str(out), str(half), "--dtype", "fp16"]) == 0
    stored = load_file(str(half))
    assert stored["spade_generator.fc.weight"].dtype == torch.float16
    assert stored["warping_module.third.norm.num_batches_tracked"].dtype == torch.int64


def test_wrong_network_in_a_slot_is_named(kijai_dir):
    shutil.copy(kijai_dir / "motion_extractor.safetensors", kijai_dir / "warping_module.safetensors")
    with pytest.raises(CheckpointError, match=r"warping_module.safetensors: expected the warping_module "
                                              r"network, but it looks like a motion_extractor file"):
        load_renderer(str(kijai_dir))


def test_stitching_slot_rejects_a_base_network(kijai_dir):
    shutil.copy(kijai_dir / "spade_generator.safetensors", kijai_dir / "stitching_retargeting_module.safetensors")
    with pytest.raises(CheckpointError, match="not a stitching_retargeting_module file"):
        load_renderer(str(kijai_dir))


def test_truncated_safetensors_names_the_file(kijai_dir):
    path = kijai_dir / "spade_generator.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"spade_generator.safetensors: not a readable "
                                              r"safetensors file.*truncated or corrupt"):
        load_renderer(str(kijai_dir))


class _NotATensor:
    pass


def test_pth_that_needs_full_unpickling_is_refused(tmp_path, tiny_states):
    base = write_official_layout(tiny_states, tmp_path / "official")
    state = dict(tiny_states["motion_extractor"], extra=_NotATensor())
    torch.save(state, base / "motion_extractor.pth")
    with pytest.raises(CheckpointError, match="refused for safety"):
        load_renderer(str(base))


def test_truncated_pth_names_the_file(tmp_path, tiny_states):
    base = write_official_layout(tiny_states, tmp_path / "official")
    path = base / "appearance_feature_extractor.pth"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"appearance_feature_extractor.pth: "
                                              r"cannot be read as a PyTorch checkpoint"):
        load_renderer(str(base))


def test_missing_and_misshaped_keys_are_listed(kijai_dir):
    path = kijai_dir / "warping_module.safetensors"
    state = load_file(str(path))
    del state["fourth.bias"]
    state["third.conv.bias"] = torch.zeros(7)
    save_file(state, str(path))
    with pytest.raises(CheckpointError) as info:
        load_renderer(str(kijai_dir))
    message = str(info.value)
    assert "warping_module.safetensors" in message
    assert "missing keys: fourth.bias" in message
    assert "mis-shaped keys: third.conv.bias: file (7,) vs model (32,)" in message


def test_unexpected_keys_are_listed(kijai_dir):
    path = kijai_dir / "appearance_feature_extractor.safetensors"
    state = load_file(str(path))
    state["head.weight"] = torch.zeros(3)
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="unexpected keys: head.weight"):
        load_renderer(str(kijai_dir))


def test_incomplete_set_lists_the_missing_files(kijai_dir):
    os.remove(kijai_dir / "spade_generator.safetensors")
    with pytest.raises(CheckpointError, match="missing .*spade_generator.safetensors"):
        load_renderer(str(kijai_dir))


@pytest.mark.parametrize(
    "crops, message",
    [
        (torch.rand(1, 3, 128, 128), r"expected RGB crops shaped \[B, 3, 256, 256\]"),
        (torch.rand(1, 256, 256, 3), r"expected RGB crops shaped"),
        (torch.rand(1, 3, 256, 256) * 255, r"values must lie in \[0, 1\].*divide 8-bit images by 255"),
        (torch.randint(0, 255, (1, 3, 256, 256), dtype=torch.uint8), "expected float values"),
    ],
)
def test_bad_image_batches_get_clear_errors(kijai_dir, crops, message):
    renderer = load_renderer(str(kijai_dir))
    with pytest.raises(ValueError, match=message):
        renderer.extract_source(crops)


def test_bfloat16_and_channels_last_stay_close_to_float32(tmp_path):
    # seed 0: a well-conditioned tiny decoder (some random tiny SPADE decoders amplify bf16 rounding
    # to ~7 %; the full-size golden weights give 0.6 %, see benchmarks/render_bench.py)
    kijai_dir = write_kijai_layout(random_official_states(RendererConfig.tiny(), seed=0), tmp_path / "tiny")
    crops = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    reference = load_renderer(str(kijai_dir))
    fast = load_renderer(str(kijai_dir), dtype=torch.bfloat16, channels_last=True)
    src_ref, src_fast = reference.extract_source(crops), fast.extract_source(crops)
    x_s = src_ref.keypoints()
    frame_ref = reference.render(src_ref.appearance, x_s, x_s)
    frame_fast = fast.render(src_ref.appearance, x_s, x_s)
    assert frame_fast.dtype == torch.float32
    warped_ref = reference.warp(src_ref.appearance, x_s, x_s)["out"]
    warped_fast = fast.warp(src_ref.appearance, x_s, x_s)["out"]
    assert float((warped_fast - warped_ref).norm() / warped_ref.norm()) < 1e-2
    rel = float((frame_fast - frame_ref).norm() / frame_ref.norm())
    assert 0 < rel < 2e-2
    assert float((src_fast.motion[:, 67:] - src_ref.motion[:, 67:]).abs().max()) < 1.0  # degrees


def test_meta_device_is_never_left_in_a_loaded_renderer(kijai_dir):
    renderer = load_renderer(str(kijai_dir))
    tensors = [t for m in renderer.modules() for t in list(m.parameters()) + list(m.buffers())]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    assert all(not t.requires_grad for t in tensors)


def test_pickle_error_message_is_short_and_actionable(tmp_path):
    path = tmp_path / "motion_extractor.pth"
    with open(path, "wb") as f:
        pickle.dump({"x": _NotATensor()}, f)
    from playmate_core.checkpoint.io import read_state_dict

    with pytest.raises(CheckpointError) as info:
        read_state_dict(str(path))
    assert path.name in str(info.value) and "\n" not in str(info.value)


def test_every_network_name_is_a_published_file_name():
    from playmate_core.implicit.public_files import LIVEPORTRAIT_FILES

    assert [LIVEPORTRAIT_FILES[n].name for n in NETWORKS] == [f"{n}.safetensors" for n in NETWORKS]
