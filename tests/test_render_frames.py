"""Chunked rendering (playmate_core.render) and the Render Frames node, with the tiny renderer."""

from __future__ import annotations

import pytest
import torch

from playmate_core.implicit.keypoints import keypoints_from_motion
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.sequence import MotionSequence
from playmate_core.render import RenderOptions, driving_keypoints, render_chunks
from playmate_core.render.frames import OUT_OF_MEMORY
from render_helpers import FPS, RENDER_WIDGETS as WIDGETS, nodding_motion, renderer, sine_audio, source  # noqa: F401


@pytest.fixture(scope="module")
def node(pack):
    return pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()


def test_node_contract(pack):
    cls = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]
    spec = cls.INPUT_TYPES()
    assert list(spec["required"]) == ["renderer", "source", "motion", *WIDGETS]
    assert list(spec["optional"]) == ["portrait", "audio", "motion_mode"]
    assert all("tooltip" in item[1] for part in spec.values() for item in part.values())
    assert cls.RETURN_TYPES == ("IMAGE", "AUDIO", "FLOAT", "INT")
    assert cls.RETURN_NAMES == ("images", "audio", "fps", "frame_count")


def test_driving_keypoints_chain_retargeting_then_stitching(renderer, source):
    """x_d' = stitch(x_s, x_d + eye_delta(x_s, [c_s, c_d]) + lip_delta(x_s, [c_s, c_d])), per frame."""
    motion = nodding_motion(source, 3).motion[0]
    x_s = source.keypoints().expand(3, -1, -1)
    x_d = keypoints_from_motion(source.kp_canonical.expand(3, -1, -1), motion)
    _, plain = driving_keypoints(renderer, source, 0, motion, RenderOptions(stitching=False))
    torch.testing.assert_close(plain, x_d)
    eye = renderer.eye_delta(x_s, torch.tensor([[0.28, 0.28, 0.4]]).expand(3, -1))
    lip = renderer.lip_delta(x_s, torch.tensor([[0.05, 0.0]]).expand(3, -1))
    expected = renderer.stitch(x_s, x_d + eye + lip)
    _, full = driving_keypoints(renderer, source, 0, motion, RenderOptions(eye_open=0.4, lip_open=0.0))
    torch.testing.assert_close(full, expected)
    assert float((full - x_d).abs().max()) > 1e-4  # the options really change the keypoints


def test_node_renders_in_chunks_what_one_batch_renders(node, renderer, source):
    motion = nodding_motion(source, 3)
    images, audio, fps, count = node.render(renderer, source, motion, **WIDGETS)
    assert images.shape == (3, 512, 512, 3) and images.dtype == torch.float32 and images.device.type == "cpu"
    assert (fps, count) == (FPS, 3)
    x_s = source.keypoints().expand(3, -1, -1)
    x_d = renderer.stitch(x_s, keypoints_from_motion(source.kp_canonical.expand(3, -1, -1), motion.motion[0]))
    reference = renderer.render(source.appearance.expand(3, -1, -1, -1, -1), x_s, x_d).permute(0, 2, 3, 1)
    torch.testing.assert_close(images, reference, atol=1e-5, rtol=1e-4)
    assert float((images[0] - images[2]).abs().mean()) > 1e-4  # the head moved
    # no audio connected: silence of exactly the clip's length
    assert audio["waveform"].shape[-1] == 3 * audio["sample_rate"] / 25 and float(audio["waveform"].abs().max()) == 0


def test_audio_is_cut_or_padded_to_the_frames(node, renderer, source):
    motion = nodding_motion(source, 2)
    long_audio = sine_audio(1.0, rate=44100, channels=2)
    kept = long_audio["waveform"].clone()
    _, audio, _, _ = node.render(renderer, source, motion, **WIDGETS, audio=long_audio)
    assert audio["sample_rate"] == 44100 and audio["waveform"].shape == (1, 2, 2 * 44100 // 25)
    torch.testing.assert_close(audio["waveform"], kept[..., : 2 * 44100 // 25])
    assert torch.equal(long_audio["waveform"], kept)  # the input is not modified
    int_audio = {"waveform": (kept[..., :100] * 32767).to(torch.int16), "sample_rate": 16000}
    _, padded, _, _ = node.render(renderer, source, motion, **WIDGETS, audio=int_audio)
    assert padded["waveform"].dtype == torch.float32 and padded["waveform"].shape == (1, 2, 2 * 16000 // 25)
    assert float(padded["waveform"][..., 100:].abs().max()) == 0  # silence after the given audio
    torch.testing.assert_close(padded["waveform"][..., :100], kept[..., :100], atol=1e-4, rtol=0)


def test_progress_reports_each_chunk_and_can_stop_the_render(renderer, source):
    motion = nodding_motion(source, 5)
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if done >= 2:
            raise KeyboardInterrupt("cancel")

    rendered = []
    with pytest.raises(KeyboardInterrupt):
        for _, frames in render_chunks(renderer, source, motion, RenderOptions(batch_size=2), progress):
            rendered.append(frames.shape[0])
    assert calls == [(0, 5), (2, 5)] and rendered == [2]


def test_out_of_memory_chunks_are_retried_in_halves(renderer, source):
    class SmallMemory:
        """The renderer, but any chunk above 1 frame runs out of memory."""

        device = renderer.device

        def __getattr__(self, name):
            return getattr(renderer, name)

        def render(self, appearance, x_s, x_d):
            if x_d.shape[0] > 1:
                raise OUT_OF_MEMORY("out of memory")
            return renderer.render(appearance, x_s, x_d)

    motion = nodding_motion(source, 2)
    chunks = [f for _, f in render_chunks(SmallMemory(), source, motion, RenderOptions(batch_size=2, stitching=False))]
    assert [c.shape[0] for c in chunks] == [1, 1]
    x_s = source.keypoints().expand(2, -1, -1)
    x_d = keypoints_from_motion(source.kp_canonical.expand(2, -1, -1), motion.motion[0])
    reference = renderer.render(source.appearance.expand(2, -1, -1, -1, -1), x_s, x_d)
    torch.testing.assert_close(torch.cat(chunks), reference, atol=1e-5, rtol=1e-4)


def test_one_portrait_with_two_motion_takes_renders_both_in_a_row(node, renderer, source):
    motion = nodding_motion(source, 1)
    two = MotionSequence(torch.cat([motion.motion, motion.motion + 0.0]).clone(), FPS)
    two.motion[1, :, 69] += 20
    images, audio, _, count = node.render(renderer, source, two, **WIDGETS, audio=sine_audio(1.0))
    assert images.shape[0] == count == 2
    assert audio["waveform"].shape[-1] == 2 * 22050 // 25
    assert float((images[0] - images[1]).abs().mean()) > 1e-4


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(motion="rows"), "the source has 2 portraits but the motion has 3 rows"),
        (dict(motion="empty"), "motion has no frames"),
        (dict(motion="shape"), "motion must be [B, N, 70]"),
        (dict(motion="nan"), "motion contains NaN"),
        (dict(paste_back=True), "no portrait is connected"),
        (dict(eye_retargeting=True, source="no_ratios"), "eye_retargeting needs the source portrait's eye openness"),
        (dict(lip_retargeting=True, source="no_ratios"), "lip_retargeting needs the source portrait's lip openness"),
        (dict(source="not_a_source"), "source must come from Extract Keypoints"),
        (dict(batch_size=0), "batch_size must be at least 1"),
    ],
)
def test_bad_inputs_get_clear_errors(node, renderer, source, change, message):
    two = SourceFeatures(*(t.expand(2, *t.shape[1:]) for t in (source.appearance, source.kp_canonical, source.motion)),
                         eye_ratio=source.eye_ratio.expand(2, -1), lip_ratio=source.lip_ratio.expand(2, -1))
    motions = {
        "rows": MotionSequence(torch.zeros(3, 2, 70), FPS),
        "empty": MotionSequence(torch.zeros(1, 0, 70), FPS),
        "shape": MotionSequence(torch.zeros(1, 2, 63), FPS),
        "nan": MotionSequence(torch.full((1, 2, 70), float("nan")), FPS),
    }
    sources = {"no_ratios": SourceFeatures(source.appearance, source.kp_canonical, source.motion), "not_a_source": {}}
    args = dict(WIDGETS, renderer=renderer, source=two if change.get("motion") == "rows" else source,
                motion=nodding_motion(source, 2))
    args.update({k: v for k, v in change.items() if k not in ("motion", "source")})
    if "motion" in change:
        args["motion"] = motions[change["motion"]]
    if "source" in change:
        args["source"] = sources[change["source"]]
    with pytest.raises((ValueError, TypeError)) as err:
        node.render(**args)
    assert message in str(err.value)
