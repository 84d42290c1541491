"""LivePortrait's aligned crop, its exact inverse, feathered paste-back and the openness ratios."""

from __future__ import annotations

import math

import pytest
import torch

from playmate_core.face.crop import CropConfig, crop_matrix, sample_crops
from playmate_core.face.geometry import apply
from playmate_core.face.landmarks import (
    FACEMESH_LAYOUT, LandmarkLayout, eye_centers, eye_ratio, lip_ratio, mouth_center,
)
from playmate_core.face.paste import crop_mask, paste
from playmate_core.face.portrait import load_portraits, paste_back
from portrait_photos import ASTRONAUT, ASTRONAUT_2048, HOPPER, detector, photo


@pytest.fixture(scope="module")
def astronaut():
    return load_portraits(photo(ASTRONAUT), detector())


@pytest.fixture(scope="module")
def hopper():
    return load_portraits(photo(HOPPER), detector())


def crop_points(portrait, config: CropConfig) -> dict[str, torch.Tensor]:
    """Where the eyes, the mouth and the crop extent land in the config.size crop."""
    matrix = crop_matrix(portrait.landmarks, FACEMESH_LAYOUT, config)
    points = apply(matrix, portrait.landmarks[..., :2].double())
    left, right = eye_centers(points, FACEMESH_LAYOUT)
    extent = points[:, list(FACEMESH_LAYOUT.crop_points)]
    return {"left": left[0], "right": right[0], "mouth": mouth_center(points, FACEMESH_LAYOUT)[0],
            "low": extent.min(1).values[0], "high": extent.max(1).values[0], "matrix": matrix[0]}


def test_crop_follows_the_liveportrait_convention(hopper):
    """Mouth straight below the eyes, face extent = 512 / 2.3 px, extent centre 0.125 * 512 below the middle."""
    p = crop_points(hopper, CropConfig())
    assert abs(float(p["mouth"][0] - (p["left"][0] + p["right"][0]) / 2)) < 1e-6  # the face axis is vertical
    assert float(p["mouth"][1]) > float(p["left"][1]) + 50
    assert abs(float(p["left"][1] - p["right"][1])) < 2.0  # so the eye line is (nearly) level
    size = p["high"] - p["low"]
    assert float(size.max()) == pytest.approx(512 / 2.3, rel=1e-6)
    middle = (p["low"] + p["high"]) / 2
    assert float(middle[0]) == pytest.approx(256, abs=1e-6)
    assert float(middle[1]) == pytest.approx(256 + 0.125 * 512, abs=1e-6)


def test_crop_parameters_move_scale_and_unrotate(hopper):
    base = crop_points(hopper, CropConfig())
    wide = crop_points(hopper, CropConfig(scale=3.0))
    assert float((wide["high"] - wide["low"]).max()) == pytest.approx(512 / 3.0, rel=1e-6)
    shifted = crop_points(hopper, CropConfig(offset_x=0.1, offset_y=0.0))
    middle = (shifted["low"] + shifted["high"]) / 2
    assert float(middle[0]) == pytest.approx(256 - 0.1 * 512, abs=1e-6)  # window right -> face left
    assert float(middle[1]) == pytest.approx(256, abs=1e-6)
    straight = crop_points(hopper, CropConfig(rotate=False))
    assert float(straight["matrix"][0, 1]) == 0.0 and float(straight["matrix"][1, 0]) == 0.0
    tilt = math.degrees(math.atan2(float(base["matrix"][0, 1]), float(base["matrix"][0, 0])))
    assert 1.0 < abs(tilt) < 10.0  # Hopper's head is slightly tilted: the aligned crop turns it


def test_portrait_payload(astronaut):
    assert astronaut.crops.shape == (1, 3, 256, 256)
    assert 0.0 <= float(astronaut.crops.min()) and float(astronaut.crops.max()) <= 1.0
    assert astronaut.landmarks.shape == (1, 468, 3) and astronaut.landmarks_crop.shape == (1, 468, 2)
    assert astronaut.face_counts == (1,) and astronaut.eye_ratio.shape == (1, 2) and astronaut.lip_ratio.shape == (1, 1)
    # the 256 crop holds what the photo shows at the mapped places (nose tip, landmark 1)
    nose_photo = astronaut.landmarks[0, 1, :2].round().long()
    nose_crop = astronaut.landmarks_crop[0, 1].round().long()
    photo_rgb = astronaut.images[0, nose_photo[1], nose_photo[0]]
    crop_rgb = astronaut.crops[0, :, nose_crop[1], nose_crop[0]]
    assert (photo_rgb - crop_rgb).abs().max() < 0.08


def test_round_trip_reproduces_the_photo_in_the_face_region(astronaut, hopper):
    for portrait in (astronaut, hopper):
        crop = sample_crops(portrait.images.permute(0, 3, 1, 2), portrait.image_to_crop, 512)
        frames, mask = paste_back(crop, portrait, 0, feather=0.1)
        original = portrait.images[0]
        error = (frames[0] - original).abs().mean(-1)
        inside = mask >= 1.0
        assert inside.float().mean() > 0.1
        assert float(error[inside].mean()) < 0.02
        assert torch.equal(frames[0][mask == 0], original[mask == 0])  # untouched pixels: bit for bit
        # a one-pixel error in the inverse transform is plainly visible: the test can tell
        nudged = portrait.crop_to_image(512)[0].clone()
        nudged[0, 2] += 1.0
        off, _ = paste(crop, original, nudged, 0.1)
        assert float((off[0] - original).abs().mean(-1)[inside].mean()) > 1.5 * float(error[inside].mean())


def test_paste_back_of_a_256_render_and_of_an_edited_face(astronaut):
    crop256 = astronaut.crops
    frames, mask = paste_back(crop256, astronaut, 0)
    inside = mask >= 1.0
    assert float((frames[0] - astronaut.images[0]).abs().mean(-1)[inside].mean()) < 0.03
    before = astronaut.images.clone()
    red = torch.zeros(2, 3, 512, 512)
    red[:, 0] = 1.0
    frames, mask = paste_back(red, astronaut, 0, feather=0.2)
    inside = mask >= 1.0
    assert frames.shape == (2, 512, 512, 3) and inside.float().mean() > 0.05
    assert torch.allclose(frames[:, inside], torch.tensor([1.0, 0.0, 0.0]).expand_as(frames[:, inside]))
    assert ((mask > 0) & (mask < 1)).any()  # a feathered seam, not a hard edge
    assert torch.equal(frames[:, mask == 0], before[:, mask == 0].expand(2, -1, -1))
    assert torch.equal(astronaut.images, before)  # the payload's photo was not modified


def test_crop_mask_is_feathered_and_zero_at_the_border():
    mask = crop_mask(512, 0.1)
    assert float(mask[256, 256]) == 1.0
    assert mask[0].eq(0).all() and mask[-1].eq(0).all() and mask[:, 0].eq(0).all() and mask[:, -1].eq(0).all()
    row = mask[256, 256:]
    assert bool((row[1:] <= row[:-1]).all())  # falls monotonically towards the edge
    assert crop_mask(64, 0.0).unique().tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="feather"):
        crop_mask(64, 1.5)


def test_large_photo_gives_the_same_crop_as_the_small_one(astronaut):
    """The 2048 px photo is the 512 px one upscaled 4x: same face, same crop (antialiased path)."""
    big = load_portraits(photo(ASTRONAUT_2048), detector())
    assert float((big.landmarks_crop - astronaut.landmarks_crop).norm(dim=-1).mean()) < 1.5  # 256-crop pixels
    big_to_small = torch.tensor([[0.25, 0, -0.375], [0, 0.25, -0.375], [0, 0, 1]], dtype=torch.float64)
    same_window = sample_crops(big.images.permute(0, 3, 1, 2), astronaut.image_to_crop @ big_to_small, 512)
    small = sample_crops(astronaut.images.permute(0, 3, 1, 2), astronaut.image_to_crop, 512)
    assert float((same_window - small).abs().mean()) < 0.01


def test_openness_ratios_follow_their_definition():
    layout = LandmarkLayout("toy", 12, (0, 1), left_eye=(0, 1, 2, 3), right_eye=(4, 5, 6, 7), mouth=(8, 9, 10, 11))
    points = torch.tensor([[[0, 0], [10, 0], [5, -1.5], [5, 1.5], [20, 0], [28, 0], [24, -1], [24, 1],
                            [4, 20], [24, 20], [14, 18.5], [14, 21.5]]])
    assert eye_ratio(points, layout)[0].tolist() == pytest.approx([0.3, 0.25], rel=1e-5)
    assert lip_ratio(points, layout)[0].tolist() == pytest.approx([0.15], rel=1e-5)


def test_openness_ratios_on_real_faces(astronaut, hopper):
    for portrait in (astronaut, hopper):
        assert bool(((portrait.eye_ratio > 0.15) & (portrait.eye_ratio < 0.5)).all())  # open eyes
    assert float(astronaut.lip_ratio) > 0.08  # smiling with parted lips, teeth showing
    assert float(hopper.lip_ratio) < 0.05  # closed mouth
