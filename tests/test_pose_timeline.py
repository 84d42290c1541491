"""Pose composition, gap filling, smoothing, resampling and length policies on synthetic data (exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playmate_core.pose.measure import FrameMeasures
from playmate_core.pose.relative import crop_normaliser, fill_missing, relative_pose
from playmate_core.pose.timeline import fit_length, resample, smooth


def screen_rotation(degrees: float, centre, shift=(0.0, 0.0), zoom: float = 1.0) -> torch.Tensor:
    """[3, 3] frame-0 -> frame-t pixels: counter-clockwise on screen by `degrees` about centre (OpenCV's sign),
    then shifted."""
    a = math.radians(degrees)
    c, s = zoom * math.cos(a), zoom * math.sin(a)
    cx, cy = centre
    return torch.tensor([[c, s, (1 - c) * cx - s * cy + shift[0]], [-s, c, s * cx + (1 - c) * cy + shift[1]],
                         [0, 0, 1]],
                        dtype=torch.float64)


def tracked_measures(motions: list[torch.Tensor],
                     found: list[bool]) -> tuple[FrameMeasures, torch.Tensor, torch.Tensor]:
    """A face that moves by the given image motions, cropped by a crop that follows it exactly, so the
    motion extractor sees the same upright face (constant outputs) in every frame."""
    crop0 = torch.tensor([[1.25, 0, -60.0], [0, 1.25, -20.0], [0, 0, 1]], dtype=torch.float64)
    n = len(motions)
    matrices = torch.stack([crop0 @ torch.linalg.inv(g) for g in motions])
    t_crop = torch.tensor([0.05, -0.02, 0.3])
    angles = torch.tensor([3.0, -7.0, 2.0])
    mask = torch.tensor(found)
    nan = float("nan")
    measures = FrameMeasures(
        times=torch.arange(n, dtype=torch.float64) / 25,
        found=mask,
        angles=torch.where(mask[:, None], angles.expand(n, 3), nan),
        t=torch.where(mask[:, None], t_crop.expand(n, 3), nan),
        scale=torch.where(mask[:, None], torch.full((n, 1), 1.4), nan),
        image_to_crop=torch.where(mask[:, None, None], matrices, torch.full_like(matrices, nan)),
        crop_size=512,
    )
    return measures, crop0, t_crop


def test_crop_motion_is_added_back_exactly():
    centre = (256.0, 234.0)
    degrees = [0.0, 4.0, -6.0, 8.0]
    shifts = [(0, 0), (10, -5), (-20, 3), (5, 12)]
    zooms = [1.0, 1.02, 0.97, 1.06]
    motions = [screen_rotation(d, centre, s, z) for d, s, z in zip(degrees, shifts, zooms)]
    measures, crop0, t_crop = tracked_measures(motions, [True] * 4)
    pose, scale = relative_pose(measures)
    # LivePortrait's roll is clockwise-positive on screen (y down): the opposite of OpenCV's angle
    torch.testing.assert_close(pose[:, 2], -torch.tensor(degrees), atol=1e-4, rtol=0)
    torch.testing.assert_close(pose[:, :2], torch.zeros(4, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(scale, torch.tensor(zooms), atol=1e-5, rtol=0)
    # the face origin (t in crop 0) is a frame point p0; frame t shows it at motion @ p0
    to_norm = crop_normaliser(512) @ crop0
    p0 = torch.linalg.solve(to_norm, torch.tensor([float(t_crop[0]), float(t_crop[1]), 1.0], dtype=torch.float64))
    expected = torch.stack([(to_norm @ g @ p0)[:2] - (to_norm @ p0)[:2] for g in motions]).float()
    torch.testing.assert_close(pose[:, 3:5], expected, atol=1e-5, rtol=0)
    assert float(expected[1, 0]) > 0.03  # a shift to the right is a positive tx
    torch.testing.assert_close(pose[:, 5], torch.zeros(4))


def test_frames_without_face_are_interpolated_and_the_reference_is_the_first_face():
    motions = [screen_rotation(d, (256.0, 234.0)) for d in (99.0, 2.0, 4.0, 6.0, 8.0, 10.0)]
    measures, _, _ = tracked_measures(motions, [False, True, False, False, True, True])
    pose, _ = relative_pose(measures)
    # frame 1 is the reference; frames 2, 3 lie on the line between frames 1 and 4; frame 0 holds frame 1
    torch.testing.assert_close(pose[:, 2], torch.tensor([0.0, 0.0, -2.0, -4.0, -6.0, -8.0]), atol=1e-4, rtol=0)


def test_no_face_anywhere_is_a_clear_error():
    measures, _, _ = tracked_measures([torch.eye(3, dtype=torch.float64)] * 3, [False] * 3)
    with pytest.raises(ValueError, match="no face was found in any frame"):
        relative_pose(measures)


def test_fill_missing_holds_the_ends():
    values = torch.tensor([[0.0], [1.0], [0.0], [3.0], [0.0]])
    filled = fill_missing(values, torch.tensor([False, True, False, True, False]))
    torch.testing.assert_close(filled[:, 0], torch.tensor([1.0, 1.0, 2.0, 3.0, 3.0]))


def test_smoothing_is_zero_phase_and_strength_zero_is_identity():
    t = torch.arange(100, dtype=torch.float64) / 25
    clean = torch.sin(2 * math.pi * t / 4)[:, None].float()
    noisy = clean + 0.2 * torch.from_numpy(np.random.default_rng(0).standard_normal((100, 1))).float()
    assert torch.equal(smooth(noisy, 0.0, 25.0), noisy)
    smoothed = smooth(noisy, 0.2, 25.0)  # sigma 0.1 s
    assert float((smoothed - clean)[10:-10].pow(2).mean()) < 0.3 * float((noisy - clean)[10:-10].pow(2).mean())
    peak = torch.zeros(41, 1)
    peak[20] = 1
    out = smooth(peak, 0.2, 25.0)[:, 0]
    assert int(out.argmax()) == 20 and torch.allclose(out, out.flip(0))  # no lag, symmetric
    with pytest.raises(ValueError, match="within"):
        smooth(noisy, 1.5, 25.0)


def test_resampling_to_another_frame_rate_interpolates_at_the_output_times():
    times = torch.arange(75, dtype=torch.float64) / 25  # 3 s at 25 fps
    values = torch.stack([times, 2 * times], dim=1).float()
    out = resample(values, times, 30.0, 1 / 25)
    assert out.shape == (90, 2)  # ceil(3.0 s * 30)
    expected = torch.arange(90, dtype=torch.float64) / 30
    torch.testing.assert_close(out[:, 0], expected.clamp(max=74 / 25).float())
    torch.testing.assert_close(out[:, 1], 2 * out[:, 0])


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("loop", [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]),
        ("ping_pong", [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]),
        ("hold_last", [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]),
        ("trim", [0, 1, 2, 3]),
    ],
)
def test_length_policies_when_the_video_is_shorter(policy, expected):
    values = torch.arange(4, dtype=torch.float32)[:, None]
    assert fit_length(values, 10, policy)[:, 0].tolist() == expected
    assert fit_length(values, 3, policy)[:, 0].tolist() == [0, 1, 2]  # longer videos are cut


def test_unknown_policy():
    with pytest.raises(ValueError, match="length policy must be one of"):
        fit_length(torch.zeros(3, 1), 5, "bounce")
