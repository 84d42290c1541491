"""The PyTorch BlazeFace / FaceMesh ports against the TFLite runtime's own outputs, and their parts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from playmate_core.face.anchors import anchor_centers, box_iou, decode_detections, weighted_nms
from playmate_core.face.config import BlazeFaceConfig, FaceMeshConfig
from playmate_core.face.layers import depth_to_space, pad_same
from playmate_core.face.weights import load_network
from tools.convert_mediapipe_face import golden_inputs

GOLDEN = Path(__file__).parent / "data" / "face_tflite_golden.safetensors"


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def golden():
    return load_file(GOLDEN)


@pytest.mark.parametrize("config", [BlazeFaceConfig.short_range(), BlazeFaceConfig.full_range()],
                         ids=lambda c: c.variant)
def test_blazeface_matches_tflite_runtime(golden, config):
    inputs = golden_inputs(golden["probe"].numpy())[config.variant]
    net = load_network(config)
    with torch.no_grad():
        boxes, logits = net(torch.from_numpy(inputs).permute(0, 3, 1, 2))
    top = golden[f"{config.variant}.top"]
    assert logits.shape == (1, config.num_boxes) and boxes.shape == (1, config.num_boxes, 16)
    assert rel_l2(logits[0], golden[f"{config.variant}.scores"]) < 1e-5
    assert rel_l2(boxes[0, top], golden[f"{config.variant}.top_boxes"]) < 1e-5
    assert torch.sigmoid(logits.max()) > 0.85  # the probe is a face: the runtime is confident, so are we


def test_facemesh_matches_tflite_runtime(golden):
    inputs = golden_inputs(golden["probe"].numpy())["facemesh"]
    net = load_network(FaceMeshConfig())
    with torch.no_grad():
        landmarks, presence = net(torch.from_numpy(inputs).permute(0, 3, 1, 2))
    assert landmarks.shape == (1, 468, 3)
    assert rel_l2(landmarks.reshape(-1), golden["facemesh.landmarks"]) < 1e-5
    assert (landmarks.reshape(-1) - golden["facemesh.landmarks"]).abs().max() < 2e-3  # input pixels
    assert abs(float(presence[0]) - float(golden["facemesh.presence"][0])) < 1e-3


def test_networks_run_batched_and_in_lower_precision(golden):
    inputs = torch.from_numpy(golden_inputs(golden["probe"].numpy())["facemesh"]).permute(0, 3, 1, 2)
    batch = torch.cat([inputs, inputs.flip(-1)])
    net = load_network(FaceMeshConfig())
    with torch.no_grad():
        together, _ = net(batch)
        alone, _ = net(batch[1:])
        half, _ = load_network(FaceMeshConfig(), dtype=torch.bfloat16)(batch.bfloat16())
    assert torch.allclose(together[1:], alone, atol=1e-3)
    assert (half.float() - together).abs().mean() < 1.0  # landmarks in 192-px units


def test_tf_same_padding_puts_the_extra_pixel_right_and_bottom():
    x = torch.ones(1, 1, 4, 4)
    padded = pad_same(x, kernel=3, stride=2)
    assert padded.shape == (1, 1, 5, 5)
    assert padded[0, 0, :4, :4].eq(1).all() and padded[0, 0, 4].eq(0).all() and padded[0, 0, :, 4].eq(0).all()
    assert pad_same(torch.ones(1, 1, 128, 128), kernel=5, stride=2)[0, 0, 0].eq(0).all()  # (1, 2) for 5x5/2
    assert pad_same(torch.ones(1, 1, 128, 128), kernel=5, stride=2).shape[-1] == 131


def test_depth_to_space_uses_tensorflow_channel_order():
    # TF: output[h*2+i, w*2+j, c] = input[h, w, (i*2 + j) * C + c]; here C = 2, one input pixel
    x = torch.arange(8.0).view(1, 8, 1, 1)
    out = depth_to_space(x, 2)
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 0].tolist() == [[0.0, 2.0], [4.0, 6.0]]
    assert out[0, 1].tolist() == [[1.0, 3.0], [5.0, 7.0]]


def test_anchor_grids_follow_mediapipe_ssd_options():
    short = anchor_centers(BlazeFaceConfig.short_range().anchors, 128)
    assert short.shape == (896, 2)
    assert torch.allclose(short[0], torch.tensor([1 / 32, 1 / 32])) and torch.equal(short[0], short[1])
    assert torch.allclose(short[2], torch.tensor([3 / 32, 1 / 32]))
    assert torch.allclose(short[512:518], torch.tensor([1 / 16, 1 / 16]).expand(6, 2))  # 8x8 grid, 6 per cell
    assert torch.allclose(short[-1], torch.tensor([15 / 16, 15 / 16]))
    full = anchor_centers(BlazeFaceConfig.full_range().anchors, 192)
    assert full.shape == (2304, 2) and torch.allclose(full[1], torch.tensor([3 / 96, 1 / 96]))


def test_decoding_is_relative_to_anchor_and_input_size():
    raw = torch.zeros(1, 1, 16)
    raw[0, 0, :4] = torch.tensor([12.8, -6.4, 32.0, 64.0])
    raw[0, 0, 4:6] = torch.tensor([1.28, 2.56])
    boxes, points, scores = decode_detections(raw, torch.tensor([[250.0]]), torch.tensor([[0.5, 0.25]]), 128.0, 100.0)
    assert torch.allclose(boxes[0, 0], torch.tensor([0.6 - 0.125, 0.2 - 0.25, 0.6 + 0.125, 0.2 + 0.25]))
    assert torch.allclose(points[0, 0, 0], torch.tensor([0.51, 0.27]))
    assert float(scores) == pytest.approx(1.0 / (1.0 + torch.exp(torch.tensor(-100.0)).item()))


def test_weighted_nms_blends_overlapping_boxes_by_score():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    points = boxes[:, None, :2].repeat(1, 6, 1)
    scores = torch.tensor([0.9, 0.6, 0.7, 0.4])
    kept, kept_points, kept_scores = weighted_nms(boxes, points, scores, min_score=0.5, iou_threshold=0.3)
    assert kept_scores.tolist() == pytest.approx([0.9, 0.7])
    assert kept[0].tolist() == pytest.approx([0.4, 0.4, 10.4, 10.4])  # (0*0.9 + 1*0.6) / 1.5 ...
    assert kept[1].tolist() == pytest.approx([20, 20, 30, 30])
    assert kept_points[0, 3].tolist() == pytest.approx([0.4, 0.4])
    assert float(box_iou(boxes[0], boxes[1:2])) == pytest.approx(81 / 119)
    empty = weighted_nms(boxes, points, scores * 0.1, 0.5, 0.3)
    assert empty[0].shape == (0, 4) and empty[1].shape == (0, 6, 2) and empty[2].shape == (0,)
