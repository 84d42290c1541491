"""Choosing the motion mode (auto / app / cli / animal / pack) through the render path, with the tiny renderer."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from playmate_core.motion.postprocess import anchor_to_first_frame
from playmate_core.motion.sequence import MotionSequence
from playmate_core.render import Compositor, RenderOptions, render_images
from playmate_core.render.application import official_keypoints, resolve_motion_mode
from render_helpers import FPS, RENDER_WIDGETS as WIDGETS, nodding_motion, renderer, source  # noqa: F401


def generated_sequence(source, family: str, frames: int = 6) -> MotionSequence:
    """A sampler-like sequence: generated motion kept, pack motion = JoyVASA's anchoring of it."""
    generated = nodding_motion(source, frames).motion.clone()
    generated[..., 20] += torch.linspace(0, 0.02, frames)  # some expression movement
    pack_motion = anchor_to_first_frame(generated, source.motion) if family == "joyvasa" else generated
    return MotionSequence(pack_motion, FPS, generated=generated, family=family)


class AnimalRenderer:
    """The tiny renderer with the attribute the animal LivePortrait loader sets."""

    species = "animal"


def test_auto_picks_app_for_joyvasa_animal_for_animal_sets_pack_otherwise(source):
    assert resolve_motion_mode("auto", generated_sequence(source, "joyvasa")) == "app"
    assert resolve_motion_mode("auto", generated_sequence(source, "playmate")) == "pack"
    assert resolve_motion_mode("auto", generated_sequence(source, "joyvasa"), AnimalRenderer()) == "animal"
    assert resolve_motion_mode("auto", generated_sequence(source, "playmate"), AnimalRenderer()) == "animal"
    assert resolve_motion_mode("auto", nodding_motion(source, 3)) == "pack"  # hand-made motion
    assert resolve_motion_mode("cli", generated_sequence(source, "playmate")) == "cli"


def test_official_modes_need_the_generated_motion(source):
    with pytest.raises(ValueError, match="motion_mode 'app' needs the generated motion.*set motion_mode to pack"):
        resolve_motion_mode("app", nodding_motion(source, 3))
    with pytest.raises(ValueError, match="motion_mode must be one of"):
        RenderOptions(motion_mode="official")


def test_retargeting_is_refused_outside_pack_mode(renderer, source):
    motion = generated_sequence(source, "joyvasa", 2)
    with pytest.raises(ValueError, match="lip_retargeting is not part of the official JoyVASA app mode"):
        render_images(renderer, source, motion, RenderOptions(lip_open=0.0), Compositor())


def test_render_frames_node_runs_the_app_mode_by_default_for_joyvasa(pack, renderer, source):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    motion = generated_sequence(source, "joyvasa", 4)
    images, _, _, count = node.render(renderer, source, motion, **WIDGETS)
    assert count == 4
    # app mode: frames truncated to uint8 like the official parse_output, so every value is k / 255
    assert torch.equal((images * 255).round() / 255, images)
    x_s, x_d = official_keypoints(renderer, source, 0, motion, 0, "app")
    expected = renderer.render(source.appearance.expand(4, -1, -1, -1, -1), x_s.expand(4, -1, -1), x_d)
    truncated = (expected.clamp(0, 1) * 255).to(torch.uint8).float().permute(0, 2, 3, 1) / 255
    assert (images - truncated).abs().max() <= 1 / 255 + 1e-6  # batch-4 vs chunk-2 BLAS rounding may flip a level
    packed, _, _, _ = node.render(renderer, source, motion, **WIDGETS, motion_mode="pack")
    legacy = render_images(renderer, source, MotionSequence(motion.motion, FPS), RenderOptions(batch_size=2),
                           Compositor())
    assert torch.equal(packed, legacy)  # pack = the behaviour before the modes existed
    assert float((packed - images).abs().mean()) > 1e-3


@pytest.mark.parametrize("mode", ["cli", "animal"])
def test_every_official_mode_renders_through_the_node(pack, renderer, source, mode):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    motion = generated_sequence(source, "joyvasa", 3)
    images, _, _, count = node.render(renderer, source, motion, **WIDGETS, motion_mode=mode)
    assert count == 3 and images.shape == (3, 512, 512, 3)
    x_s, x_d = official_keypoints(renderer, source, 0, motion, 0, mode)
    assert x_d.shape == (3, 21, 3)
    # the animal mode starts exactly at the source; the CLI's absolute lip keypoints do not
    assert torch.equal(x_d[0], x_s[0]) == (mode == "animal")


def test_pack_mode_adds_the_expression_offset_to_the_expression(renderer, source):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class WithOffset(MotionSequence):
        expression_offset: torch.Tensor | None = None

    base = generated_sequence(source, "playmate", 2)
    offset = torch.zeros(1, 2, 63)
    offset[..., 5] = 0.03
    shifted = base.motion.clone()
    shifted[..., :63] += offset
    options = RenderOptions(batch_size=2, motion_mode="pack", stitching=False)
    with_offset = render_images(renderer, source, WithOffset(base.motion, FPS, expression_offset=offset), options,
                                Compositor())
    moved = render_images(renderer, source, replace(base, motion=shifted, generated=None), options, Compositor())
    assert torch.allclose(with_offset, moved, atol=1e-5)
