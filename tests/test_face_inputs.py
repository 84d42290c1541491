"""Bad or unusual portrait inputs get a clear message or a documented behaviour."""

from __future__ import annotations

import pytest
import torch

from playmate_core.face.portrait import as_rgb_images, load_portraits
from portrait_photos import ASTRONAUT, HOPPER, ROCKET, detector, photo, two_people


def test_no_face():
    with pytest.raises(ValueError, match="no face found in the image"):
        load_portraits(photo(ROCKET), detector())


def test_batch_with_one_faceless_image_names_its_index():
    astronaut = photo(ASTRONAUT)
    rocket = torch.nn.functional.interpolate(photo(ROCKET).permute(0, 3, 1, 2), size=(512, 512)).permute(0, 2, 3, 1)
    with pytest.raises(ValueError, match="no face found in image 1 of the batch"):
        load_portraits(torch.cat([astronaut, rocket]), detector())


def test_batch_of_images_is_a_batch_of_portraits():
    astronaut = photo(ASTRONAUT)
    portraits = load_portraits(torch.cat([astronaut, astronaut.flip(2)]), detector())
    assert portraits.batch_size == 2 and portraits.crops.shape == (2, 3, 256, 256)
    assert float((portraits.crops[1] - portraits.crops[0].flip(-1)).abs().mean()) < 0.05  # the mirrored crop


def test_several_faces_pick_by_size_and_refuse_a_missing_index():
    astronaut, hopper = photo(ASTRONAUT), photo(HOPPER)
    canvas = torch.full((1, 360, 640, 3), 0.5)
    canvas[:, :300, :300] = astronaut[:, :300, 75:375]
    canvas[:, :340, 300:620] = hopper[:, 70:410, 100:420]
    largest = load_portraits(canvas, detector(), face_index=0)
    second = load_portraits(canvas, detector(), face_index=1)
    assert largest.face_counts == (2,)
    assert float(largest.boxes[0, 0]) > 300 > float(second.boxes[0, 2])
    with pytest.raises(ValueError, match=r"face_index 2 asks for face 3 by size, but the image has only 2 face"):
        load_portraits(canvas, detector(), face_index=2)
    with pytest.raises(ValueError, match="face_index must be >= 0"):
        load_portraits(canvas, detector(), face_index=-1)


def test_two_person_photo_gives_the_second_face_with_auto():
    image = two_people()
    second = load_portraits(image, detector("auto"), face_index=1)
    assert second.face_counts == (2,)
    assert float(second.boxes[0, 0]) > 560  # the astronaut, pasted right of x = 560
    with pytest.raises(ValueError) as refused:
        load_portraits(image, detector("short_range"), face_index=1)
    message = str(refused.value)
    assert "face_index 1 asks for face 2 by size, but the image has only 1 face(s) (short_range found 1)" in message
    assert "detector full_range" in message


def test_missing_face_says_what_each_detector_found():
    with pytest.raises(ValueError) as refused:
        load_portraits(two_people(), detector("auto"), face_index=2)
    message = str(refused.value)
    assert "only 2 face(s) (short_range found 1, full_range found 2); 0 is the largest" in message
    assert "crop the photo closer" in message and "needs detector full_range" not in message


def test_tiny_face_is_refused_with_its_size():
    small = torch.nn.functional.interpolate(photo(ASTRONAUT).permute(0, 3, 1, 2), size=(144, 144), mode="area")
    with pytest.raises(ValueError, match=r"only \d+ px wide; at least 32 px"):
        load_portraits(small.permute(0, 2, 3, 1), detector())


def test_image_size_limits():
    with pytest.raises(ValueError, match="60x60 px; a portrait needs at least 64 px"):
        as_rgb_images(torch.zeros(1, 60, 60, 3))
    with pytest.raises(ValueError, match="largest supported side is 4096 px"):
        as_rgb_images(torch.zeros(1, 64, 4097, 3))


def test_rgba_gray_uint8_and_unbatched_images_are_accepted():
    rgb = photo(ASTRONAUT)
    reference = load_portraits(rgb, detector())
    rgba = torch.cat([rgb, torch.ones_like(rgb[..., :1])], dim=-1)
    assert torch.equal(load_portraits(rgba, detector()).crops, reference.crops)
    gray = rgb.mean(-1, keepdim=True)
    assert load_portraits(gray, detector()).crops.shape == (1, 3, 256, 256)
    as_uint8 = (rgb * 255).round().to(torch.uint8)
    assert torch.allclose(load_portraits(as_uint8, detector()).crops, reference.crops, atol=1e-4)
    assert load_portraits(rgb[0], detector()).batch_size == 1


@pytest.mark.parametrize("bad, message", [
    ([[0.0]], "must be an IMAGE tensor"),
    (torch.zeros(1, 64, 64, 2), "1 \\(gray\\), 3 \\(RGB\\) or 4 \\(RGBA\\) channels"),
    (torch.zeros(64, 64), "got shape \\(64, 64\\)"),
    (torch.zeros(0, 64, 64, 3), "empty batch"),
    (torch.zeros(1, 64, 64, 3, dtype=torch.int32), "must be float"),
    (torch.full((1, 64, 64, 3), float("nan")), "NaN"),
])
def test_malformed_images_are_named(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        as_rgb_images(bad)
