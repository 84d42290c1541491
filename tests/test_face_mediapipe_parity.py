"""Optional: our port against mediapipe's own runtime on the test portraits.

Runs only where mediapipe 0.10.21 (its legacy `solutions` API) is importable, e.g. a venv with
`pip install --no-deps mediapipe==0.10.21 protobuf==4.25.9 attrs matplotlib opencv-python-headless`.
`pytest -s` prints the measured differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from portrait_photos import ASTRONAUT, ASTRONAUT_2048, HOPPER, ROCKET, detector, photo

mp = pytest.importorskip("mediapipe", reason="mediapipe is not installed (optional parity check)")
if not hasattr(mp, "solutions"):
    pytest.skip("this mediapipe has no legacy solutions API (0.10.21 or older needed)", allow_module_level=True)

from playmate_core.face.config import BlazeFaceConfig  # noqa: E402


def _uint8(name: str) -> tuple[np.ndarray, torch.Tensor]:
    image = photo(name)
    array = (image[0].numpy() * 255).round().astype(np.uint8)
    return array, torch.from_numpy(array.astype(np.float32) / 255)[None]


def _iou(a, b) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2])) + float(np.prod(b[2:] - b[:2])) - inter)


@pytest.mark.parametrize("variant, selection", [("short_range", 0), ("full_range", 1)])
@pytest.mark.parametrize("name", [ASTRONAUT, HOPPER, ASTRONAUT_2048, ROCKET])
def test_detection_matches_mediapipe(name, variant, selection):
    array, image = _uint8(name)
    height, width = array.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=selection, min_detection_confidence=0.5) as fd:
        theirs = fd.process(array).detections or []
    config = BlazeFaceConfig.short_range() if variant == "short_range" else BlazeFaceConfig.full_range()
    boxes, points, scores = detector(variant).detect_boxes(image.permute(0, 3, 1, 2), config)[0]
    # mediapipe's full-range graph applies min_score 0.5 through the solution API, ours 0.6 (the graph's own)
    theirs = [d for d in theirs if d.score[0] >= config.min_score]
    assert len(theirs) == boxes.shape[0]
    for detection, box, kps, score in zip(theirs, boxes.numpy(), points.numpy(), scores.numpy()):
        rel = detection.location_data.relative_bounding_box
        ref = np.array([rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width,
                        (rel.ymin + rel.height) * height])
        ref_kps = np.array([[k.x * width, k.y * height] for k in detection.location_data.relative_keypoints])
        corner = np.abs(box - ref).max()
        kp_err = np.linalg.norm(kps - ref_kps, axis=1).max()
        print(f"\n{name} {variant}: IoU {_iou(box, ref):.5f}  box corners max {corner:.3f} px  "
              f"keypoints max {kp_err:.3f} px  score {score:.4f} vs {detection.score[0]:.4f}")
        assert _iou(box, ref) > 0.99
        assert abs(float(score) - detection.score[0]) < 0.01
        assert kp_err < 0.01 * max(width, height)


@pytest.mark.parametrize("name", [ASTRONAUT, HOPPER, ASTRONAUT_2048, ROCKET])
def test_face_mesh_matches_mediapipe(name):
    array, image = _uint8(name)
    height, width = array.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False) as mesh:
        result = mesh.process(array).multi_face_landmarks
    faces = detector("short_range").detect(image)[0]
    if result is None:
        assert faces.count == 0
        return
    ref = np.array([[p.x * width, p.y * height, p.z * width] for p in result[0].landmark])
    ours = faces.landmarks[0].numpy()
    xy = np.linalg.norm(ours[:, :2] - ref[:, :2], axis=1)
    depth = np.abs(ours[:, 2] - ref[:, 2])
    face_width = ref[:, 0].max() - ref[:, 0].min()
    print(f"\n{name} FaceMesh 468: xy mean {xy.mean():.3f} px, max {xy.max():.3f} px (face {face_width:.0f} px wide); "
          f"depth mean {depth.mean():.3f}, max {depth.max():.3f}")
    assert xy.mean() < 0.005 * face_width and xy.max() < 0.02 * face_width
