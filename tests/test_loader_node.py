"""PlaymateLoadLivePortrait: model-folder listing, loading, caching, download and offline errors."""

from __future__ import annotations

import urllib.error

import pytest

from lp_weights import write_tiny_kijai_set
from playmate_core.download import DownloadError, RemoteFile, download_file
from playmate_core.implicit.checkpoints import NETWORKS
from playmate_core.implicit.config import RendererConfig

DEFAULTS = [f"{n}.safetensors" for n in NETWORKS]


def _node(pack):
    return pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"]()


def _inputs(**overrides):
    args = dict(zip(NETWORKS, DEFAULTS), precision="auto", device="cpu", channels_last=False)
    args.update(overrides)
    return args


def test_combos_list_files_of_the_models_folder(pack, models_dir):
    folder = models_dir / "liveportrait"
    write_tiny_kijai_set(folder / "animal")
    inputs = type(_node(pack)).INPUT_TYPES()["required"]
    choices, options = inputs["warping_module"]
    assert options["default"] == "warping_module.safetensors"
    assert "animal/warping_module.safetensors" in choices and "warping_module.safetensors" in choices
    assert list(inputs)[:5] == list(NETWORKS)


def test_loads_a_renderer_and_caches_complete_loads_only(pack, models_dir):
    write_tiny_kijai_set(models_dir / "liveportrait")
    node = _node(pack)
    (renderer,) = node.load(**_inputs())
    assert renderer.cfg == RendererConfig.tiny()
    assert node.load(**_inputs())[0] is renderer
    (bf16,) = node.load(**_inputs(precision="bf16"))
    assert bf16 is not renderer and str(bf16.dtype) == "torch.bfloat16"


def test_a_broken_file_is_not_cached_and_is_named(pack, models_dir):
    folder = write_tiny_kijai_set(models_dir / "liveportrait")
    path = folder / "spade_generator.safetensors"
    good = path.read_bytes()
    path.write_bytes(good[:100])
    node = _node(pack)
    with pytest.raises(ValueError, match="spade_generator.safetensors"):
        node.load(**_inputs(precision="fp32"))
    path.write_bytes(good)
    (renderer,) = node.load(**_inputs(precision="fp32"))
    assert renderer.cfg == RendererConfig.tiny()


def test_offline_missing_files_say_what_to_put_where(pack, models_dir, monkeypatch):
    def no_network(*_args, **_kwargs):
        raise urllib.error.URLError("name resolution failed")

    monkeypatch.setattr("playmate_core.download.open_url", no_network)
    with pytest.raises(FileNotFoundError) as info:
        _node(pack).load(**_inputs())
    message = str(info.value)
    assert str(models_dir / "liveportrait") in message
    for name in DEFAULTS:
        assert name in message
    assert "huggingface.co/Kijai/LivePortrait_safetensors" in message
    assert "name resolution failed" in message


def test_missing_public_files_are_downloaded_then_loaded(pack, models_dir, tmp_path, monkeypatch):
    source = write_tiny_kijai_set(tmp_path / "published")
    loaders = pack.nodes.loaders
    remotes = {
        f"{n}.safetensors": (n, RemoteFile(f"{n}.safetensors", (source / f"{n}.safetensors").as_uri(),
                                           (source / f"{n}.safetensors").stat().st_size), "")
        for n in NETWORKS
    }
    monkeypatch.setattr(loaders, "PUBLIC_CHOICES", remotes)
    (renderer,) = _node(pack).load(**_inputs())
    assert renderer.cfg == RendererConfig.tiny()
    assert sorted(p.name for p in (models_dir / "liveportrait").iterdir()) == sorted(DEFAULTS)


def test_download_with_wrong_size_leaves_no_file(tmp_path):
    src = tmp_path / "x.bin"
    src.write_bytes(b"0123456789")
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="received 10 bytes, expected 11"):
        download_file(RemoteFile("x.bin", src.as_uri(), 11), str(dest))
    assert list(dest.iterdir()) == []
    assert download_file(RemoteFile("x.bin", src.as_uri(), 10), str(dest)) == str(dest / "x.bin")
    assert (dest / "x.bin").read_bytes() == b"0123456789"
