"""Animal LivePortrait sets: recognised in Kijai's animal/ folder and the official liveportrait_animals layout,
loaded with the human stitching module (as the official animal configs do), species on the renderer, the
loader node's species input and animal file names, and the animal download group."""

from __future__ import annotations


import pytest
import torch

from lp_weights import random_official_states, write_kijai_layout, write_official_layout
from playmate_core.checkpoint.io import CheckpointError
from playmate_core.cli import main as cli_main
from playmate_core.download import RemoteFile
from playmate_core.implicit.checkpoints import NETWORKS, find_renderer_files
from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import load_renderer
from playmate_core.public_models import GROUPS, parse_groups

HUMAN_SEED, ANIMAL_SEED = 0, 1


@pytest.fixture(scope="module")
def human_states():
    return random_official_states(RendererConfig.tiny(), HUMAN_SEED)


@pytest.fixture(scope="module")
def animal_states():
    return random_official_states(RendererConfig.tiny(), ANIMAL_SEED)


def first_weight(renderer, network: str) -> torch.Tensor:
    modules = dict(zip(NETWORKS, renderer.modules()))
    return next(iter(modules[network].state_dict().values()))


def assert_set(renderer, base_states, stitching_states) -> None:
    """Base networks from one set, the stitching MLPs from another (official key names)."""
    assert torch.equal(first_weight(renderer, "appearance_feature_extractor"),
                       base_states["appearance_feature_extractor"]["first.conv.weight"])
    assert torch.equal(renderer.stitching.state_dict()["stitching.mlp.0.weight"],
                       stitching_states["stitching_retargeting_module"]["retarget_shoulder"]["mlp.0.weight"])


def test_kijai_animal_folder_is_animal_with_the_human_stitching(tmp_path, human_states, animal_states):
    root = write_kijai_layout(human_states, tmp_path / "liveportrait")
    animal = write_kijai_layout(animal_states, root / "animal")  # Kijai's animal/ also holds a stitching file
    files = find_renderer_files(str(animal))
    assert files.paths["stitching_retargeting_module"] == str(root / "stitching_retargeting_module.safetensors")
    assert files.paths["warping_module"] == str(animal / "warping_module.safetensors")
    renderer = load_renderer(str(animal / "motion_extractor.safetensors"))
    assert renderer.species == "animal"
    assert_set(renderer, animal_states, human_states)
    human = load_renderer(str(root))
    assert human.species == "human"
    assert_set(human, human_states, human_states)


def test_an_animal_folder_alone_uses_its_own_stitching(tmp_path, animal_states):
    animal = write_kijai_layout(animal_states, tmp_path / "animal")
    renderer = load_renderer(str(animal))
    assert renderer.species == "animal"
    assert_set(renderer, animal_states, animal_states)


@pytest.mark.parametrize("version", ["base_models", "base_models_v1.1"])
def test_official_liveportrait_animals_layout(tmp_path, human_states, animal_states, version):
    weights = tmp_path / "pretrained_weights"
    write_official_layout(human_states, weights / "liveportrait")
    base = write_official_layout(animal_states, weights / "liveportrait_animals")
    if version != "base_models":
        base = base.rename(base.parent / version)
    files = find_renderer_files(str(base))
    assert files.layout == "official"
    assert files.paths["stitching_retargeting_module"] == str(
        weights / "liveportrait" / "retargeting_models" / "stitching_retargeting_module.pth")
    renderer = load_renderer(str(base))
    assert renderer.species == "animal"
    assert_set(renderer, animal_states, human_states)
    assert load_renderer(str(weights / "liveportrait" / "base_models")).species == "human"


def test_mixed_sets_are_refused_unless_the_species_is_given(tmp_path, human_states, animal_states):
    root = write_kijai_layout(human_states, tmp_path / "liveportrait")
    animal = write_kijai_layout(animal_states, root / "animal")
    files = find_renderer_files(str(root))
    files.paths["warping_module"] = str(animal / "warping_module.safetensors")
    with pytest.raises(CheckpointError, match="mix the animal and the human LivePortrait sets.*set species"):
        load_renderer(files)
    assert load_renderer(files, species="animal").species == "animal"
    assert load_renderer(str(animal), species="human").species == "human"
    with pytest.raises(ValueError, match="species must be auto, human or animal, got 'cat'"):
        load_renderer(str(animal), species="cat")


def test_single_file_keeps_the_species(tmp_path, human_states, animal_states, capsys):
    root = write_kijai_layout(human_states, tmp_path / "liveportrait")
    animal = write_kijai_layout(animal_states, root / "animal")
    out = tmp_path / "liveportrait_animal.safetensors"  # not in an animal folder: only the metadata says so
    assert cli_main(["convert-liveportrait", str(animal), str(out)]) == 0
    assert "animal set" in capsys.readouterr().out
    renderer = load_renderer(str(out))
    assert renderer.species == "animal"
    assert_set(renderer, animal_states, human_states)
    relabelled = tmp_path / "as_human.safetensors"
    assert cli_main(["convert-liveportrait", str(out), str(relabelled), "--species", "human"]) == 0
    assert load_renderer(str(relabelled)).species == "human"


def _loader(pack):
    return pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"]()


def _animal_choice(network: str) -> str:
    return f"animal/{network}.safetensors" if network != "stitching_retargeting_module" else f"{network}.safetensors"


def test_loader_node_species(pack, models_dir, human_states, animal_states):
    root = write_kijai_layout(human_states, models_dir / "liveportrait")
    write_kijai_layout(animal_states, root / "animal")
    spec = type(_loader(pack)).INPUT_TYPES()
    assert list(spec["optional"])[0] == "species" and spec["optional"]["species"][0] == ["auto", "human", "animal"]
    chosen = [_animal_choice(n) for n in NETWORKS]
    (animal,) = _loader(pack).load(*chosen, "fp32", "cpu", False)
    assert animal.species == "animal"
    assert_set(animal, animal_states, human_states)
    (forced,) = _loader(pack).load(*chosen, "fp32", "cpu", False, species="human")
    assert forced.species == "human" and forced is not animal
    (human,) = _loader(pack).load(*[f"{n}.safetensors" for n in NETWORKS], "fp32", "cpu", False)
    assert human.species == "human"


def test_loader_offers_and_fetches_the_animal_files(pack, models_dir, tmp_path, monkeypatch, animal_states):
    choices = type(_loader(pack)).INPUT_TYPES()["required"]["warping_module"][0]
    assert "animal/warping_module.safetensors" in choices  # listed before they are downloaded
    published = write_kijai_layout(animal_states, tmp_path / "published")
    loaders = pack.nodes.loaders
    remotes = dict(loaders.PUBLIC_CHOICES)
    for n in NETWORKS:
        path = published / f"{n}.safetensors"
        remote = RemoteFile(path.name, path.as_uri(), path.stat().st_size)
        key = _animal_choice(n)
        remotes[key] = (n, remote, "animal" if key.startswith("animal/") else "")
    monkeypatch.setattr(loaders, "PUBLIC_CHOICES", remotes)
    (renderer,) = _loader(pack).load(*[_animal_choice(n) for n in NETWORKS], "fp32", "cpu", False)
    assert renderer.species == "animal"
    assert sorted(p.name for p in (models_dir / "liveportrait" / "animal").iterdir()) == sorted(
        f"{n}.safetensors" for n in NETWORKS[:4])


def test_animal_download_group_is_fetched_only_when_named():
    group = GROUPS["liveportrait_animal"]
    assert group.folder("models") == "models/liveportrait/animal"
    assert [f.url for f in group.files] == [
        f"https://huggingface.co/Kijai/LivePortrait_safetensors/resolve/main/animal/{n}.safetensors"
        for n in NETWORKS[:4]]
    human = {f.name: f.size for f in GROUPS["liveportrait"].files}
    assert all(f.size == human[f.name] for f in group.files)  # same architecture and layout, same byte sizes
    assert group not in parse_groups(None) and parse_groups("liveportrait_animal") == [group]
