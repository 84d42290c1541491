"""PlaymateLoadPortrait and PlaymateExtractKeypoints as the host calls them."""

from __future__ import annotations

import pytest
import torch

from lp_weights import write_tiny_kijai_set
from playmate_core.face.portrait import Portrait
from playmate_core.implicit.renderer import load_renderer
from playmate_core.implicit.source import SourceFeatures
from portrait_photos import ASTRONAUT, ROCKET, photo


@pytest.fixture(scope="module")
def nodes(pack):
    return pack.NODE_CLASS_MAPPINGS


@pytest.fixture(scope="module")
def tiny_renderer(tmp_path_factory):
    return load_renderer(str(write_tiny_kijai_set(tmp_path_factory.mktemp("tiny_lp"))))


DEFAULTS = dict(face_index=0, crop_scale=2.3, offset_x=0.0, offset_y=-0.125, rotate=True, detector="auto")


def test_load_portrait_contract(nodes):
    node = nodes["PlaymateLoadPortrait"]
    required = node.INPUT_TYPES()["required"]
    assert list(required) == ["image", "face_index", "crop_scale", "offset_x", "offset_y", "rotate", "detector"]
    assert all("tooltip" in spec[1] for spec in required.values())
    assert [required[k][1]["default"] for k in list(DEFAULTS)] == list(DEFAULTS.values())
    assert node.RETURN_TYPES == ("PLAYMATE_PORTRAIT", "IMAGE", "MASK")
    assert node.CATEGORY.startswith("Playmate") and node.DESCRIPTION


def test_load_portrait_outputs(nodes):
    image = photo(ASTRONAUT)
    before = image.clone()
    loader = nodes["PlaymateLoadPortrait"]
    portrait, crop, mask = getattr(loader(), loader.FUNCTION)(image, **DEFAULTS)
    assert isinstance(portrait, Portrait) and portrait.batch_size == 1
    assert crop.shape == (1, 256, 256, 3) and crop.dtype == torch.float32
    assert torch.equal(crop[0], portrait.crops[0].permute(1, 2, 0))
    assert mask.shape == (1, 512, 512) and float(mask[0, 0, 0]) == 0.0
    nose = portrait.landmarks[0, 1, :2].round().long()
    assert float(mask[0, nose[1], nose[0]]) == 1.0
    assert torch.equal(image, before)


def test_load_portrait_error_is_readable(nodes):
    node = nodes["PlaymateLoadPortrait"]()
    with pytest.raises(ValueError, match="no face found"):
        node.load(photo(ROCKET), **DEFAULTS)


def test_extract_keypoints_adds_the_ratios(nodes, tiny_renderer):
    node = nodes["PlaymateExtractKeypoints"]
    assert list(node.INPUT_TYPES()["required"]) == ["renderer", "portrait"]
    assert node.RETURN_TYPES == ("PLAYMATE_SOURCE",)
    image = photo(ASTRONAUT)
    portrait, _, _ = nodes["PlaymateLoadPortrait"]().load(torch.cat([image, image.flip(2)]), **DEFAULTS)
    (source,) = node().extract(tiny_renderer, portrait)
    assert isinstance(source, SourceFeatures) and source.batch_size == 2
    assert source.kp_canonical.shape == (2, 21, 3) and source.motion.shape == (2, 70)
    assert source.appearance.shape[0] == 2
    assert torch.equal(source.eye_ratio.cpu(), portrait.eye_ratio) and torch.equal(source.lip_ratio.cpu(),
                                                                                   portrait.lip_ratio)
    alone = tiny_renderer.extract_source(portrait.crops[:1])
    assert torch.allclose(source.motion[:1], alone.motion, atol=1e-5)
    with pytest.raises(TypeError, match="Load Portrait"):
        node().extract(tiny_renderer, image)
