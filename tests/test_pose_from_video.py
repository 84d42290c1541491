"""Pose From Video on the synthetic driving video with ground truth (tests/fixtures/media/video).

The tiny renderer's motion extractor has random weights, so its own angles carry no information;
what is measured here is everything around it: streamed decoding, face detection and the
levelled crop per frame, adding the crop's rotation / shift back, the reference frame, gap filling,
resampling and the length policy. The ground-truth motion is in-plane (roll, shift, zoom).
"""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch

from conftest import fixture_path
from playmate_core.audio.features import AudioFeatures
from playmate_core.face.detector import MediaPipeFaceDetector
from playmate_core.motion.conditions import PoseSequence
from playmate_core.pose.frames import video_chunks
from playmate_core.pose.measure import measure_chunk
from playmate_core.pose.relative import crop_normaliser
from render_helpers import renderer  # noqa: F401

VIDEO = ("media", "video", "driving_astronaut_3s_25fps_512.mp4")
WIDGETS = dict(detector="auto", smoothing=0.0, length_policy="loop", fps=25.0, images_fps=25.0)


@pytest.fixture(scope="module")
def node(pack):
    return pack.NODE_CLASS_MAPPINGS["PlaymatePoseFromVideo"]()


@pytest.fixture(scope="module")
def truth():
    return json.loads(fixture_path("media", "video", "driving_astronaut_3s_25fps_512.json").read_text())


@pytest.fixture(scope="module")
def full_run(node, renderer):
    return node.estimate(renderer, **WIDGETS, video=str(fixture_path(*VIDEO)))


def decoded_frames(count: int) -> torch.Tensor:
    with av.open(str(fixture_path(*VIDEO))) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(count), container.decode(video=0))]
    return torch.from_numpy(np.stack(frames)).float() / 255


def test_roll_follows_the_ground_truth(full_run, truth):
    pose, curves, report = full_run
    assert isinstance(pose, PoseSequence) and pose.relative and pose.fps == 25.0
    assert pose.values.shape == (75, 6)
    assert torch.equal(pose.values[0], torch.zeros(6))
    roll = pose.values[:, 2].numpy()
    truth_roll = -np.array([f["roll_deg"] for f in truth["frames"]])  # LivePortrait roll: clockwise-positive
    correlation = np.corrcoef(roll, truth_roll)[0, 1]
    slope = np.polyfit(truth_roll, roll, 1)[0]
    assert correlation > 0.99 and 0.9 < slope < 1.1, f"roll correlation {correlation:.4f}, slope {slope:.3f}"
    assert float(pose.values[:, :2].abs().max()) < 2.0  # no yaw / pitch in the video: little leaks in
    assert curves.shape == (1, 540, 960, 3) and "a face was found in every frame" in report


def test_translation_follows_the_ground_truth(full_run, truth, renderer):
    """tx, ty are the motion of the face origin (the keypoints' t in the first crop) in the first
    crop's normalised units; the ground truth says where that frame-0 point goes in every frame."""
    pose = full_run[0].values
    first = next(video_chunks(str(fixture_path(*VIDEO)), chunk_size=1))
    measures = measure_chunk(first, MediaPipeFaceDetector(), renderer)
    to_norm = crop_normaliser(512) @ measures.image_to_crop[0]
    origin = torch.tensor([float(measures.t[0, 0]), float(measures.t[0, 1]), 1.0], dtype=torch.float64)
    point = torch.linalg.solve(to_norm, origin)
    expected = np.stack([
        (to_norm @ torch.tensor(f["affine_frame0_to_frame"] + [[0, 0, 1]], dtype=torch.float64) @ point)[:2].numpy()
        - origin[:2].numpy() for f in truth["frames"]
    ])
    for axis, name in ((0, "tx"), (1, "ty")):
        got = pose[:, 3 + axis].numpy()
        correlation = np.corrcoef(got, expected[:, axis])[0, 1]
        assert correlation > 0.95, f"{name} correlation {correlation:.4f}"


def test_image_input_matches_the_video_input(node, renderer, full_run):
    images = decoded_frames(12)
    pose, _, report = node.estimate(renderer, **WIDGETS, images=images)
    assert pose.values.shape == (12, 6) and "12 frames at 25 fps" in report
    assert "not used" not in report  # images without audio features: both rate widgets count
    torch.testing.assert_close(pose.values, full_run[0].values[:12], atol=1e-4, rtol=0)


def test_frames_without_a_face_are_interpolated_and_reported(node, renderer, full_run):
    images = decoded_frames(14)
    images[6:9] = 0.0  # three black frames
    pose, curves, report = node.estimate(renderer, **WIDGETS, images=images)
    assert "no face in 3 frame(s) (frames 6-8)" in report
    values = pose.values.numpy()
    for k in (6, 7, 8):
        expected = values[5] + (values[9] - values[5]) * (k - 5) / 4
        np.testing.assert_allclose(values[k], expected, atol=1e-4)
    assert (curves[0] * 255).round().eq(torch.tensor([255.0, 226.0, 226.0])).all(-1).any()  # the gap is shaded


def test_audio_features_set_rate_and_length_and_stop_decoding_early(node, renderer, full_run):
    """30 fps, 0.5 s of audio: only the first ~0.5 s of the video is decoded, resampled to 30 fps."""
    features = AudioFeatures(torch.zeros(1, 15, 8), fps=30.0, num_frames=15, duration_s=0.5, encoder="test")
    pose, _, report = node.estimate(renderer, **WIDGETS, video=str(fixture_path(*VIDEO)), audio_features=features)
    assert pose.fps == 30.0 and pose.values.shape == (15, 6)
    assert "14 frames at 25 fps" in report  # frames up to (15 + 1) / 30 s
    assert "fps widget not used: the pose takes the audio features' 30 fps" in report
    assert "images_fps widget not used: the video carries its own frame rate" in report
    video_rate = full_run[0].values[:14].double().numpy()
    expected = np.stack([np.interp(np.arange(15) / 30, np.arange(14) / 25, video_rate[:, c]) for c in range(6)], 1)
    np.testing.assert_allclose(pose.values.numpy(), expected, atol=1e-4)


def test_a_host_video_is_read_from_its_stream_source(node, renderer, full_run):
    """The host's VIDEO hands out a path or a BytesIO (get_stream_source); both are decoded streamed."""
    import io

    class HostVideo:  # the part of comfy_api's VideoInput the node uses
        def get_stream_source(self):
            return io.BytesIO(fixture_path(*VIDEO).read_bytes())

    features = AudioFeatures(torch.zeros(1, 5, 8), fps=25.0, num_frames=5, duration_s=0.2, encoder="test")
    pose, _, _ = node.estimate(renderer, **WIDGETS, video=HostVideo(), audio_features=features)
    torch.testing.assert_close(pose.values, full_run[0].values[:5], atol=1e-4, rtol=0)


def test_a_short_video_is_looped_to_the_audio_and_smoothing_keeps_the_first_frame_at_zero(node, renderer):
    features = AudioFeatures(torch.zeros(1, 12, 8), fps=25.0, num_frames=12, duration_s=0.48, encoder="test")
    pose, _, _ = node.estimate(renderer, **dict(WIDGETS, length_policy="loop", smoothing=0.3),
                               images=decoded_frames(5), audio_features=features)
    assert pose.values.shape == (12, 6)
    assert torch.equal(pose.values[0], torch.zeros(6)) and float(pose.values[1:5, 2].abs().max()) > 0.1
    torch.testing.assert_close(pose.values[5:10], pose.values[:5])


def test_expression_track_is_the_videos_expression_relative_to_its_first_frame(node, renderer):
    """expression=True: the motion extractor's expression per frame minus the first frame's (no smoothing, the
    video's own rate), looped like the pose; the sampler adds it on every non-lip coordinate."""
    from playmate_core.pose.frames import image_chunks

    images = decoded_frames(6)
    features = AudioFeatures(torch.zeros(1, 9, 8), fps=25.0, num_frames=9, duration_s=0.36, encoder="test")
    pose, _, _ = node.estimate(renderer, **WIDGETS, images=images, audio_features=features, expression=True)
    measured = measure_chunk(next(image_chunks(images, 25.0, chunk_size=6)), MediaPipeFaceDetector(), renderer).exp
    expected = measured - measured[0]
    assert pose.expression.shape == (9, 63) and torch.equal(pose.expression[0], torch.zeros(63))
    # float64 interpolation at the same times
    torch.testing.assert_close(pose.expression[:6], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(pose.expression[6:], pose.expression[:3])  # looped
    plain, _, _ = node.estimate(renderer, **WIDGETS, images=images, audio_features=features)
    assert plain.expression is None and torch.equal(plain.values, pose.values)


def test_bad_driving_inputs(node, renderer, tmp_path):
    with pytest.raises(ValueError, match="exactly one input"):
        node.estimate(renderer, **WIDGETS)
    with pytest.raises(ValueError, match="exactly one input"):
        node.estimate(renderer, **WIDGETS, video="x.mp4", images=torch.zeros(1, 64, 64, 3))
    with pytest.raises(ValueError, match="has no frames"):
        node.estimate(renderer, **WIDGETS, images=torch.zeros(0, 64, 64, 3))
    empty = tmp_path / "empty.mp4"  # a video track that never got a frame: MP4 drops it
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        container.start_encoding()
    with pytest.raises(ValueError, match="has no video stream"):
        node.estimate(renderer, **WIDGETS, video=str(empty))
    with pytest.raises(ValueError, match="has no video stream"):
        node.estimate(renderer, **WIDGETS, video=str(fixture_path("media", "audio", "en_3s_22k_mono.wav")))
    with pytest.raises(ValueError, match="cannot read the driving video"):
        node.estimate(renderer, **WIDGETS, video=str(tmp_path / "missing.mp4"))
    rocket = torch.from_numpy(np.asarray(__import__("PIL.Image").Image.open(
        fixture_path("media", "portraits", "noface_rocket_640x427.png")).convert("RGB"), dtype=np.float32) / 255)
    with pytest.raises(ValueError, match="no face was found in any frame"):
        node.estimate(renderer, **WIDGETS, images=rocket[None].repeat(2, 1, 1, 1))
