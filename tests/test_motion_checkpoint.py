"""Our motion-model file layout: round trip, strict errors, wrong-slot files, precision."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from playmate_core.checkpoint.io import CheckpointError
from playmate_core.motion.checkpoint import FORMAT, load_motion_model, save_motion_model
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.motion.normalization import AdaptiveNormalizer


def tiny_model():
    torch.manual_seed(0)
    stats = AdaptiveNormalizer(exp_mean=torch.linspace(-0.01, 0.01, 63), exp_std=torch.full((63,), 0.015),
                               pose_mean=torch.tensor([1.55, 0.01, 0.02, 0.0, 2.0, 0.5, -0.5]),
                               pose_std=torch.tensor([0.08, 0.03, 0.03, 0.005, 6.0, 10.0, 4.0]),
                               pose_std_identity=torch.tensor([0.02, 0.01, 0.01, 0.002, 3.0, 5.0, 2.0]))
    return PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16), stats).eval()


def test_round_trip_keeps_family_config_statistics_and_outputs(tmp_path):
    model = tiny_model()
    path = tmp_path / "playmate_tiny.safetensors"
    save_motion_model(model, str(path), trained_steps=123)
    loaded = load_motion_model(str(path))
    assert isinstance(loaded, PlaymateMotionModel) and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["format"] == FORMAT and meta["family"] == "playmate" and meta["trained_steps"] == "123"
    assert json.loads(meta["config"])["window"] == 32
    assert "normalizer.pose_std_identity" in load_file(str(path))


def test_strict_loading_names_the_file_and_every_problem(tmp_path):
    path = tmp_path / "broken.safetensors"
    save_motion_model(tiny_model(), str(path))
    tensors = load_file(str(path))
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    del tensors["exp_head.3.bias"]
    tensors["surplus.weight"] = torch.zeros(2)
    tensors["motion_in.weight"] = torch.zeros(3, 70)
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError) as err:
        load_motion_model(str(path))
    message = str(err.value)
    assert "broken.safetensors" in message and "exp_head.3.bias" in message and "surplus.weight" in message
    assert "motion_in.weight" in message and "(3, 70)" in message


@pytest.mark.parametrize("keys,what", [
    ({"detector.downsample_layers.0.0.weight": (4, 3)}, "LivePortrait motion extractor"),
    ({"dense_motion_network.hourglass.x": (2,)}, "LivePortrait warping module"),
    ({"feature_extractor.conv_layers.0.conv.weight": (2,)}, "audio encoder"),
])
@pytest.mark.parametrize("ext", [".safetensors", ".pth"])
def test_file_of_another_slot_is_named(tmp_path, keys, what, ext):
    tensors = {k: torch.zeros(shape) for k, shape in keys.items()}
    path = tmp_path / f"model{ext}"
    if ext == ".safetensors":
        save_file(tensors, str(path), metadata={"format": "pt"})
    else:
        torch.save(tensors, str(path))
    with pytest.raises(CheckpointError, match=what):
        load_motion_model(str(path))


def test_stitching_file_in_the_motion_slot(tmp_path):
    path = tmp_path / "stitching_retargeting_module.pth"
    torch.save({"retarget_shoulder": {"mlp.0.weight": torch.zeros(2)}}, str(path))
    with pytest.raises(CheckpointError, match="stitching"):
        load_motion_model(str(path))


def test_newer_format_and_missing_file(tmp_path):
    path = tmp_path / "future.safetensors"
    save_motion_model(tiny_model(), str(path))
    tensors = load_file(str(path))
    save_file(tensors, str(path),
              metadata={"format": FORMAT, "format_version": "99", "family": "playmate", "config": "{}"})
    with pytest.raises(CheckpointError, match="update the pack"):
        load_motion_model(str(path))
    with pytest.raises(CheckpointError, match="not found"):
        load_motion_model(str(tmp_path / "absent.safetensors"))


def test_bf16_keeps_the_statistics_float32(tmp_path):
    path = tmp_path / "m.safetensors"
    save_motion_model(tiny_model(), str(path))
    model = load_motion_model(str(path), dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16 and model.normalizer.pose_mean.dtype == torch.float32
    assert float(model.normalizer.pose_mean[0]) == pytest.approx(1.55, rel=1e-6)


def test_motion_file_stage_reads_only_the_header_and_caches_by_mtime_and_size(tmp_path, monkeypatch):
    from playmate_core.motion import file_kind

    path = tmp_path / "m.safetensors"
    save_file({"x": torch.zeros(2)}, str(path), metadata={"format": "playmate-motion"})
    assert file_kind.motion_file_stage(str(path)) == file_kind.STAGE1
    reads = []
    original = file_kind.read_safetensors_metadata
    monkeypatch.setattr(file_kind, "read_safetensors_metadata", lambda p: reads.append(p) or original(p))
    assert file_kind.motion_file_stage(str(path)) == file_kind.STAGE1 and reads == []  # cached
    save_file({"emotion_tokens": torch.zeros(3)}, str(path), metadata={"format": "playmate-emotion"})  # new size
    assert file_kind.motion_file_stage(str(path)) == file_kind.STAGE2 and reads == [str(path)]
    (tmp_path / "cut.safetensors").write_bytes(path.read_bytes()[:5])
    assert file_kind.motion_file_stage(str(tmp_path / "cut.safetensors")) == file_kind.UNKNOWN
    (tmp_path / "release.pt").write_bytes(b"not opened")
    assert file_kind.motion_file_stage(str(tmp_path / "release.pt")) == file_kind.STAGE1
