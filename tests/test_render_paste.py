"""Paste-back through Render Frames / Render Video: the photo outside the mask is untouched, sizes are even."""

from __future__ import annotations

import os

import av
import pytest
import torch

from playmate_core.face.paste import photo_mask
from playmate_core.face.portrait import load_portraits
from playmate_core.implicit.source import SourceFeatures
from portrait_photos import ASTRONAUT, detector, photo
from render_helpers import RENDER_WIDGETS, nodding_motion, renderer, sine_audio  # noqa: F401

WIDGETS = dict(RENDER_WIDGETS, eye_retargeting=True, lip_retargeting=True, paste_back=True, feather=0.2)


@pytest.fixture(scope="module")
def odd_portrait():
    """The astronaut photo cut to an odd size (511 x 509), so the output must lose a row and a column."""
    return load_portraits(photo(ASTRONAUT)[:, :509, :511].contiguous(), detector())


@pytest.fixture(scope="module")
def source(renderer, odd_portrait):
    extracted = renderer.extract_source(odd_portrait.crops)
    return SourceFeatures(extracted.appearance, extracted.kp_canonical, extracted.motion,
                          odd_portrait.eye_ratio, odd_portrait.lip_ratio)


def test_pixels_outside_the_mask_are_the_original_photo(pack, renderer, source, odd_portrait):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    original = odd_portrait.images.clone()
    images, _, _, count = node.render(renderer, source, nodding_motion(source, 2), **WIDGETS, portrait=odd_portrait)
    assert count == 2 and images.shape == (2, 508, 510, 3)
    assert torch.equal(odd_portrait.images, original)  # the cached input is not modified
    mask = photo_mask(odd_portrait.crop_to_image(512)[0], 512, 509, 511, WIDGETS["feather"])[:508, :510]
    outside, inside = mask == 0, mask > 0.999
    assert 0.2 < float(outside.float().mean()) < 0.9 and float(inside.float().mean()) > 0.05
    photo_even = original[0, :508, :510]
    for frame in images:
        assert torch.equal(frame[outside], photo_even[outside])
        assert float((frame[inside] - photo_even[inside]).abs().mean()) > 0.05  # the render is there


def test_crop_output_ignores_the_portrait(pack, renderer, source, odd_portrait):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    images, _, _, _ = node.render(renderer, source, nodding_motion(source, 1), **dict(WIDGETS, paste_back=False),
                                  portrait=odd_portrait)
    assert images.shape == (1, 512, 512, 3)


def test_render_video_pastes_back_at_even_size(pack, models_dir, renderer, source, odd_portrait):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderVideo"]()
    out = node.render(renderer, source, nodding_motion(source, 2), **WIDGETS, filename_prefix="paste", crf=18,
                      portrait=odd_portrait, audio=sine_audio(1.0))
    path = out["result"][1]
    with av.open(path) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (510, 508)
        assert sum(1 for _ in container.decode(video=0)) == 2
    assert os.path.basename(path) == "paste_00001_.mp4"


def test_portrait_batch_must_match_the_source(pack, renderer, source, odd_portrait):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    two = SourceFeatures(*(t.expand(2, *t.shape[1:]) for t in (source.appearance, source.kp_canonical, source.motion)),
                         eye_ratio=source.eye_ratio.expand(2, -1), lip_ratio=source.lip_ratio.expand(2, -1))
    with pytest.raises(ValueError, match="the portrait has 1 photo"):
        node.render(renderer, two, nodding_motion(two, 1), **WIDGETS, portrait=odd_portrait)
