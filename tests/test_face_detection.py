"""The bundled detector finds the faces of the test portraits where they are, and none in the rocket."""

from __future__ import annotations

import pytest
import torch

from playmate_core.face.detector import DetectedFaces, FaceDetector
from playmate_core.face.landmarks import FACEMESH_LAYOUT, eye_centers, mouth_center
from portrait_photos import ANNOTATED, ASTRONAUT, ASTRONAUT_2048, HOPPER, ROCKET, detector, photo, two_people

# facenet-pytorch MTCNN's box for the astronaut (an independent detector, run offline by the fixtures' authors)
MTCNN_ASTRONAUT_BOX = torch.tensor([181.0, 62.0, 268.0, 172.0])


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    lo, hi = torch.maximum(a[:2], b[:2]), torch.minimum(a[2:], b[2:])
    inter = float((hi - lo).clamp(min=0).prod())
    return inter / float((a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter)


def assert_face_at(faces: DetectedFaces, name: str, scale: float = 1.0, tolerance: float = 8.0):
    left, right, mouth = (torch.tensor(p, dtype=torch.float32) * scale for p in ANNOTATED[name])
    found_left, found_right = eye_centers(faces.landmarks[:1], FACEMESH_LAYOUT)
    found_mouth = mouth_center(faces.landmarks[:1], FACEMESH_LAYOUT)
    assert (found_left[0] - left).norm() < tolerance * scale
    assert (found_right[0] - right).norm() < tolerance * scale
    assert (found_mouth[0] - mouth).norm() < tolerance * scale
    box = faces.boxes[0]
    for point in (left, right, mouth):
        assert box[0] < point[0] < box[2] and box[1] < point[1] < box[3]


@pytest.mark.parametrize("model", ["short_range", "full_range"])
def test_astronaut_face_is_found_where_it_is(model):
    faces = detector(model).detect(photo(ASTRONAUT))[0]
    assert faces.count == 1
    assert faces.landmarks.shape == (1, 468, 3)
    assert float(faces.scores[0]) > 0.8
    assert iou(faces.boxes[0], MTCNN_ASTRONAUT_BOX) > 0.5
    assert_face_at(faces, ASTRONAUT)


def test_grace_hopper_face_is_found_where_it_is():
    faces = detector("auto").detect(photo(HOPPER))[0]
    assert faces.count == 1 and float(faces.scores[0]) > 0.8
    assert_face_at(faces, HOPPER)


def test_rocket_has_no_face_for_any_model():
    image = photo(ROCKET)
    for model in ("short_range", "full_range", "auto"):
        faces = detector(model).detect(image)[0]
        assert faces.count == 0, model
        assert faces.boxes.shape == (0, 4) and faces.landmarks.shape == (0, 468, 3)


def test_large_photo_gives_the_same_face_scaled():
    faces = detector("auto").detect(photo(ASTRONAUT_2048))[0]
    assert faces.count == 1
    assert_face_at(faces, ASTRONAUT, scale=4.0)


def test_batch_gives_the_same_faces_as_one_by_one():
    image = photo(ASTRONAUT)
    batch = torch.cat([image, image.flip(2), torch.zeros_like(image)])
    together = detector("auto").detect(batch)
    assert [f.count for f in together] == [1, 1, 0]
    alone = detector("auto").detect(batch[1:2])[0]
    assert torch.allclose(together[1].landmarks, alone.landmarks, atol=1e-2)
    mirrored_x = 511 - together[0].landmarks[0, :, 0]
    # the mirrored face's landmarks are the original's, mirrored (mesh points swap sides, so compare sets)
    assert abs(float(mirrored_x.mean()) - float(together[1].landmarks[0, :, 0].mean())) < 2.0


def test_small_face_needs_the_full_range_model():
    """A face at ~9% of the image side: below the short-range model's reach, found by auto (full range)."""
    image = photo(ASTRONAUT)
    small = torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), size=(256, 256), mode="area")
    canvas = torch.full((1, 3, 512, 512), 0.5)
    canvas[..., 128:384, 128:384] = small
    canvas = canvas.permute(0, 2, 3, 1)
    assert detector("short_range").detect(canvas)[0].count == 0
    faces = detector("auto").detect(canvas)[0]
    assert faces.count == 1
    left = eye_centers(faces.landmarks, FACEMESH_LAYOUT)[0][0]
    assert (left - (torch.tensor(ANNOTATED[ASTRONAUT][0], dtype=torch.float32) / 2 + 128)).norm() < 6


def test_several_faces_come_largest_first():
    astronaut, hopper = photo(ASTRONAUT), photo(HOPPER)
    canvas = torch.full((1, 360, 640, 3), 0.5)
    canvas[:, :300, :300] = astronaut[:, :300, 75:375]
    canvas[:, :340, 300:620] = hopper[:, 70:410, 100:420]
    faces = detector("auto").detect(canvas)[0]
    assert faces.count == 2
    widths = faces.boxes[:, 2] - faces.boxes[:, 0]
    assert widths[0] > widths[1]
    assert faces.boxes[0, 0] > 300 > faces.boxes[1, 2]  # the larger (Hopper's) face is on the right


def test_auto_finds_the_small_second_face_that_short_range_misses():
    image = two_people()
    assert detector("short_range").detect(image)[0].count == 1
    faces = detector("auto").detect(image, min_faces=2)[0]
    assert faces.count == 2
    assert dict(faces.found_by) == {"short_range": 1, "full_range": 2}
    # the second face is the astronaut's where it was pasted: the annotated eye, scaled by 400/512 and moved
    left = eye_centers(faces.landmarks[1:], FACEMESH_LAYOUT)[0][0]
    expected = torch.tensor(ANNOTATED[ASTRONAUT][0], dtype=torch.float32) * (400 / 512) + torch.tensor([560.0, 300.0])
    assert (left - expected).norm() < 6


def test_auto_keeps_short_range_for_one_large_face():
    faces = detector("auto").detect(photo(HOPPER))[0]
    assert faces.found_by == (("short_range", 1),)


def test_detector_interface_is_pluggable():
    class Fixed(FaceDetector):
        layout = FACEMESH_LAYOUT

        def detect(self, images, min_faces=1):
            return [DetectedFaces(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 468, 3)) for _ in images]

    assert Fixed().detect(torch.zeros(2, 64, 64, 3))[1].count == 0
    with pytest.raises(TypeError):
        FaceDetector()
    with pytest.raises(ValueError, match="short_range"):
        type(detector())("nearby")
