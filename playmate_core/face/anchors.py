"""SSD anchors, box decoding and weighted non-maximum suppression for BlazeFace.

Reproduces mediapipe's SsdAnchorsCalculator (fixed anchor size), TensorsToDetectionsCalculator
(sigmoid scores, boxes and keypoints relative to anchor centres) and NonMaxSuppressionCalculator
with algorithm WEIGHTED ("blending": overlapping boxes are averaged, weighted by score).
Coordinates here are normalised to the detector input square, [0, 1].
"""

from __future__ import annotations

import math

import torch

from .config import AnchorConfig


def anchor_centers(config: AnchorConfig, input_size: int) -> torch.Tensor:
    """Anchor centres [A, 2] (x, y) in [0, 1], ordered (stride group, row, column, anchor)."""
    centers = []
    layer = 0
    strides = config.strides
    while layer < len(strides):
        group_end = layer
        while group_end < len(strides) and strides[group_end] == strides[layer]:
            group_end += 1
        per_layer = len(config.aspect_ratios) + (1 if config.interpolated_scale_aspect_ratio > 0 else 0)
        per_cell = (group_end - layer) * per_layer
        cells = math.ceil(input_size / strides[layer])
        coords = (torch.arange(cells, dtype=torch.float64) + config.offset) / cells
        ys, xs = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([xs, ys], dim=-1).reshape(-1, 1, 2).expand(-1, per_cell, 2)
        centers.append(grid.reshape(-1, 2))
        layer = group_end
    return torch.cat(centers).float()


def decode_detections(regressors: torch.Tensor, logits: torch.Tensor, anchors: torch.Tensor,
                      coord_scale: float, score_clip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw head outputs -> boxes [B, A, 4] (x0, y0, x1, y1), keypoints [B, A, K, 2], scores [B, A]."""
    offsets = regressors.float() / coord_scale
    center = offsets[..., :2] + anchors
    half = offsets[..., 2:4] / 2
    boxes = torch.cat([center - half, center + half], dim=-1)
    keypoints = offsets[..., 4:].unflatten(-1, (-1, 2)) + anchors[:, None, :]
    scores = torch.sigmoid(logits.float().clamp(-score_clip, score_clip))
    return boxes, keypoints, scores


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one box [4] with boxes [N, 4] (x0, y0, x1, y1); 0 where they do not overlap."""
    lo = torch.maximum(box[:2], boxes[:, :2])
    hi = torch.minimum(box[2:], boxes[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=-1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(dim=-1)
    union = area + areas - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def weighted_nms(boxes: torch.Tensor, keypoints: torch.Tensor, scores: torch.Tensor, min_score: float,
                 iou_threshold: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Detections of one image above min_score, merged by weighted NMS, in decreasing score order.

    boxes [A, 4], keypoints [A, K, 2], scores [A] -> boxes [F, 4], keypoints [F, K, 2], scores [F].
    Each cluster (IoU > iou_threshold with its best box) becomes the score-weighted mean of its
    boxes and keypoints and keeps the best score. Boxes with negative size are dropped first.
    """
    size = boxes[:, 2:] - boxes[:, :2]
    keep = (scores >= min_score) & (size >= 0).all(dim=-1)
    boxes, keypoints, scores = boxes[keep], keypoints[keep], scores[keep]
    order = torch.argsort(scores, descending=True, stable=True)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    out_boxes, out_points, out_scores = [], [], []
    while scores.numel():
        cluster = box_iou(boxes[0], boxes) > iou_threshold
        cluster[0] = True
        weights = scores[cluster]
        total = weights.sum()
        out_boxes.append((boxes[cluster] * weights[:, None]).sum(0) / total)
        out_points.append((keypoints[cluster] * weights[:, None, None]).sum(0) / total)
        out_scores.append(scores[0])
        rest = ~cluster
        boxes, keypoints, scores = boxes[rest], keypoints[rest], scores[rest]
    if not out_scores:
        return boxes.new_zeros(0, 4), keypoints.new_zeros(0, *keypoints.shape[1:]), scores.new_zeros(0)
    return torch.stack(out_boxes), torch.stack(out_points), torch.stack(out_scores)
