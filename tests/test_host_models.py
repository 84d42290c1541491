"""The host's model management drives our models (stand-ins of comfy.model_management / model_patcher,
tests/host_memory.py): loaders hand their models over, nodes ask for them on the compute device, and
the host's unload moves their weights to its offload device. Without a host nothing changes.

The test machine has one device (the CPU), so the offload device is set to 'meta' before an unload:
weights that arrive there have visibly left the compute device.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
import torch

import audio_weights as AW
import host_memory
from conftest import REPO_ROOT
from lp_weights import write_tiny_kijai_set
from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.checkpoints import NETWORKS
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import save_motion_model
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.motion.sequence import MotionSequence
from render_helpers import RENDER_WIDGETS, make_source

META = torch.device("meta")


@pytest.fixture
def host(pack):
    return importlib.import_module(pack.__name__ + ".nodes.host")


def _load_renderer(pack, models_dir, device="auto"):
    write_tiny_kijai_set(models_dir / "liveportrait")
    inputs = dict(zip(NETWORKS, [f"{n}.safetensors" for n in NETWORKS]), precision="fp32", device=device,
                  channels_last=False)
    return pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"]().load(**inputs)[0]


def _weights(modules) -> list[torch.Tensor]:
    return [t for m in modules for t in (*m.parameters(), *m.buffers())]


def _unload_to_meta(mm) -> None:
    for patcher in mm.current_loaded_models:
        patcher.offload_device = META
    mm.unload_all_models()


def test_renderer_loads_for_the_render_node_and_leaves_the_device_on_unload(pack, host, models_dir, monkeypatch):
    mm = host_memory.install(monkeypatch)
    renderer = _load_renderer(pack, models_dir)
    patcher = host.model_patcher(renderer)
    assert patcher is not None and patcher.load_device == torch.device("cpu")
    assert {id(t) for t in _weights([patcher.model])} == {id(t) for t in _weights(renderer.modules())}
    source = make_source(renderer)
    motion = MotionSequence(source.motion[:, None].repeat(1, 3, 1), 25.0)
    images = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]().render(renderer, source, motion, **RENDER_WIDGETS)[0]
    assert images.shape[0] == 3
    assert mm.calls == [(patcher, True)]  # asked for in full before rendering
    assert mm.current_loaded_models == [patcher]
    _unload_to_meta(mm)
    assert all(t.device == META for t in _weights(renderer.modules()))
    assert renderer.device == META and mm.current_loaded_models == []


def test_audio_encoder_and_motion_model_are_managed_too(pack, host, models_dir, monkeypatch):
    mm = host_memory.install(monkeypatch)
    nodes = pack.NODE_CLASS_MAPPINGS
    config = AW.tiny_hf_config("wav2vec2")
    AW.write_hf_folder(str(models_dir / "audio_encoders" / "tiny-w2v"), config, AW.hf_state_dict(config, seed=1))
    encoder = nodes["PlaymateLoadAudioEncoder"]().load("tiny-w2v", "fp32", "auto")[0]
    audio = {"waveform": 0.1 * torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(0)),
             "sample_rate": 16000}
    features = nodes["PlaymateEncodeAudio"]().encode(audio, encoder, 25.0)[0]
    assert features.features.shape[:2] == (1, 25)

    folder = models_dir / "playmate"
    folder.mkdir()
    torch.manual_seed(0)
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16)),
                      str(folder / "tiny.safetensors"))
    model = nodes["PlaymateLoadMotionModel"]().load("tiny.safetensors", "auto", "fp32", "released")[0]
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3),
                            torch.cat([torch.zeros(1, 63), torch.tensor([[1.5, 0, 0, 0, 2.0, 3.0, 1.0]])], 1))
    feats = AudioFeatures(torch.randn(1, 10, 16), 25.0, 10, 0.4, "wav2vec2-base")
    nodes["PlaymateMotionSampler"]().sample(model, source, feats, 2, 1.5, 1.5, 0, 0.2)

    patchers = [host.model_patcher(encoder), host.model_patcher(model)]
    assert mm.calls == [(patchers[0], True), (patchers[1], True)]
    for patcher, module in zip(patchers, (encoder, model)):
        assert {id(t) for t in _weights([patcher.model])} == {id(t) for t in _weights([module])}
    _unload_to_meta(mm)
    assert encoder.device == META and model.device == META


def test_novram_host_keeps_weights_off_the_device_except_during_the_node(host, monkeypatch):
    mm = host_memory.install(monkeypatch, vram_state="NO_VRAM")
    model = host.manage_model(torch.nn.Linear(4, 4), torch.device("cpu"))
    patcher = host.model_patcher(model)
    patcher.offload_device = META  # the host's offload memory
    with host.models_on_device(model):
        assert model.weight.device == torch.device("cpu")
        inside = model(torch.ones(1, 4))
    assert inside.shape == (1, 4) and model.weight.device == META and mm.calls == [(patcher, True)]


def test_without_a_host_models_stay_where_they_were_loaded(pack, host, models_dir):
    renderer = _load_renderer(pack, models_dir, device="cpu")
    assert host.model_patcher(renderer) is None
    with host.models_on_device(renderer):
        assert renderer.device == torch.device("cpu")


def test_device_list_offers_what_the_machine_has(pack, host):
    choices = pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"].INPUT_TYPES()["required"]["device"][0]
    assert choices[:2] == ["auto", "cpu"]
    assert ("cuda" in choices) == torch.cuda.is_available()
    for name in ("PlaymateLoadAudioEncoder", "PlaymateLoadMotionModel"):
        assert pack.NODE_CLASS_MAPPINGS[name].INPUT_TYPES()["required"]["device"][0] == choices


def test_an_unavailable_device_in_a_saved_workflow_names_the_input_and_the_choices(pack, host, models_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as err:
        _load_renderer(pack, models_dir, device="cuda")
    message = str(err.value)
    assert "device 'cuda' is not available" in message and "available: auto, cpu" in message
    assert "Torch not compiled" not in message


REAL_HOST_SCRIPT = r'''
import json, sys, tempfile
from pathlib import Path
comfyui_dir, repo, models = sys.argv[1:4]
sys.path[:0] = [comfyui_dir, repo + "/tests"]
import comfy.cli_args
comfy.cli_args.args.cpu = True  # this test machine has no GPU: the host computes on the CPU
import comfy.model_management as mm
import folder_paths
import torch
from conftest import import_pack
pack = import_pack()
folder_paths.folder_names_and_paths["liveportrait"] = ([models], {".safetensors"})
from render_helpers import RENDER_WIDGETS, make_source
from playmate_core.motion.sequence import MotionSequence
names = ["appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator",
         "stitching_retargeting_module"]
inputs = dict({n: n + ".safetensors" for n in names}, precision="fp32", device="auto", channels_last=False)
renderer = pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"]().load(**inputs)[0]
source = make_source(renderer)
motion = MotionSequence(source.motion[:, None].repeat(1, 2, 1), 25.0)
pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]().render(renderer, source, motion, **RENDER_WIDGETS)
host = sys.modules[pack.__name__ + ".nodes.host"]
patcher = host.model_patcher(renderer)
loaded = [m is patcher for m in mm.loaded_models()]
before = sorted({str(p.device) for m in renderer.modules() for p in m.parameters()})
patcher.offload_device = torch.device("meta")  # the host's offload memory, visible on a one-device machine
mm.unload_all_models()
after = sorted({str(p.device) for m in renderer.modules() for p in m.parameters()})
print(json.dumps({"loaded": loaded, "before": before, "after": after, "left": len(mm.loaded_models())}))
'''


@pytest.mark.skipif(not os.environ.get("COMFYUI_DIR"), reason="set COMFYUI_DIR to a ComfyUI checkout (opt-in)")
def test_real_host_loads_our_renderer_and_unloads_it(tmp_path):
    """The real ModelPatcher / load_models_gpu / unload_all_models of a ComfyUI checkout, in a subprocess
    (COMFYUI_PYTHON: an interpreter with ComfyUI's requirements)."""
    models = write_tiny_kijai_set(tmp_path / "liveportrait")
    done = subprocess.run([os.environ.get("COMFYUI_PYTHON", sys.executable), "-c", REAL_HOST_SCRIPT,
                           os.environ["COMFYUI_DIR"], str(REPO_ROOT), str(models)],
                          capture_output=True, text=True, timeout=600, cwd=os.environ["COMFYUI_DIR"])
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == [True] and report["before"] == ["cpu"]
    assert report["after"] == ["meta"] and report["left"] == 0
