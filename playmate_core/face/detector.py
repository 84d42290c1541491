"""Face detectors: the backend interface and the bundled BlazeFace + FaceMesh backend.

The bundled backend reproduces mediapipe's static-image face mesh pipeline (FaceLandmarkFrontCpu
with use_prev_landmarks off): BlazeFace on the letterboxed image, weighted NMS, a square ROI of
1.5x the box's long side rotated by the eye line (detector keypoints 0 -> 1), FaceMesh on that
ROI, landmarks projected back. It runs batched on any torch device and imports no mediapipe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from .anchors import anchor_centers, decode_detections, weighted_nms
from .config import BlazeFaceConfig, FaceMeshConfig
from .geometry import apply, letterbox, similarity, warp
from .landmarks import FACEMESH_LAYOUT, LandmarkLayout
from .weights import load_network


@dataclass(frozen=True)
class DetectedFaces:
    """The faces of one image, largest box first, in image pixels (x right, y down).

    boxes [F, 4] (x0, y0, x1, y1), scores [F] in [0, 1], landmarks [F, N, 3] (x, y, depth in the
    unit of x; depth 0 where a backend has none), laid out as the detector's `layout` says.
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    landmarks: torch.Tensor
    found_by: tuple[tuple[str, int], ...] = ()  # (detector model, faces it found) for each model that ran

    @property
    def count(self) -> int:
        return int(self.scores.shape[0])

    def sorted_by_size(self) -> "DetectedFaces":
        area = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        order = torch.argsort(area, descending=True, stable=True)
        return DetectedFaces(self.boxes[order], self.scores[order], self.landmarks[order], self.found_by)


class FaceDetector(ABC):
    """A face detector + landmark backend (plug in InsightFace or others by subclassing).

    `detect` takes RGB images [B, H, W, 3] float in [0, 1] (any device) and returns one
    DetectedFaces per image, on the CPU; `layout` names what the landmark indices mean.
    min_faces is how many faces the caller needs per image (a backend may search harder for them).
    """

    layout: LandmarkLayout

    @abstractmethod
    def detect(self, images: torch.Tensor, min_faces: int = 1) -> list[DetectedFaces]:
        ...


class MediaPipeFaceDetector(FaceDetector):
    """BlazeFace (short and/or full range) + FaceMesh 468, our PyTorch port with bundled weights.

    model: "short_range" (faces down to ~13% of the longer image side), "full_range" (down to
    ~7%), or "auto": short range, then full range too on the images where short range found fewer
    than min_faces faces or a face smaller than SMALL_FACE_FRACTION of the longer image side (where
    smaller faces may hide); the model that found more faces wins (short range on a tie).
    """

    layout = FACEMESH_LAYOUT
    MODELS = ("auto", "short_range", "full_range")
    SMALL_FACE_FRACTION = 0.2  # short range reaches ~13%: below 20%, faces it cannot see may sit beside

    def __init__(self, model: str = "auto", device: torch.device | str = "cpu", chunk_size: int = 16):
        if model not in self.MODELS:
            raise ValueError(f"face detector model must be one of {self.MODELS}, got {model!r}")
        self.model = model
        self.device = torch.device(device)
        self.chunk_size = chunk_size
        self.mesh_config = FaceMeshConfig()
        self._networks: dict[str, torch.nn.Module] = {}

    def _network(self, config: BlazeFaceConfig | FaceMeshConfig, key: str) -> torch.nn.Module:
        if key not in self._networks:
            self._networks[key] = load_network(config, self.device)
        return self._networks[key]

    @torch.no_grad()
    def detect(self, images: torch.Tensor, min_faces: int = 1) -> list[DetectedFaces]:
        results: list[DetectedFaces] = []
        for start in range(0, images.shape[0], self.chunk_size):
            chunk = images[start:start + self.chunk_size].to(self.device, torch.float32).permute(0, 3, 1, 2)
            results += self._detect_chunk(chunk, min_faces)
        return results

    def _detect_chunk(self, images: torch.Tensor, min_faces: int) -> list[DetectedFaces]:
        variants = ["short_range", "full_range"] if self.model == "auto" else [self.model]
        found: list = [None] * images.shape[0]
        counts: list[list[tuple[str, int]]] = [[] for _ in found]
        for variant in variants:
            todo = [i for i, f in enumerate(found) if f is None or self._search_further(f[0], images, min_faces)]
            if not todo:
                break
            config = BlazeFaceConfig.short_range() if variant == "short_range" else BlazeFaceConfig.full_range()
            subset = images if len(todo) == images.shape[0] else images[todo]
            for i, detection in zip(todo, self.detect_boxes(subset, config)):
                counts[i].append((variant, int(detection[0].shape[0])))
                if found[i] is None or detection[0].shape[0] > found[i][0].shape[0]:
                    found[i] = detection
        return [DetectedFaces(f.boxes, f.scores, f.landmarks, tuple(c))
                for f, c in zip(self._add_landmarks(images, found), counts)]

    def _search_further(self, boxes: torch.Tensor, images: torch.Tensor, min_faces: int) -> bool:
        """Whether auto should run the full-range model too: too few faces, or a small one."""
        if boxes.shape[0] < min_faces:
            return True
        sides = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values
        return bool((sides < self.SMALL_FACE_FRACTION * max(images.shape[-2:])).any())

    def detect_boxes(self, images: torch.Tensor, config: BlazeFaceConfig):
        """BlazeFace on images [B, 3, H, W] in [0, 1] -> per image (boxes [F, 4], keypoints [F, 6, 2], scores [F])."""
        height, width = images.shape[-2:]
        matrix, side, corner = letterbox(height, width, config.input_size)
        size = config.input_size
        batch = warp(images, matrix.expand(images.shape[0], 3, 3), size, size) * 2 - 1
        regressors, logits = self._network(config, config.variant)(batch)
        anchors = anchor_centers(config.anchors, size).to(images.device)
        boxes, keypoints, scores = decode_detections(regressors, logits, anchors, config.coord_scale, config.score_clip)
        offset = torch.tensor(corner, device=images.device)
        out = []
        for b in range(images.shape[0]):
            kept_boxes, kept_points, kept_scores = weighted_nms(boxes[b], keypoints[b], scores[b], config.min_score,
                                                                config.nms_iou)
            out.append((kept_boxes * side + offset.repeat(2), kept_points * side + offset, kept_scores))
        return out

    def _add_landmarks(self, images: torch.Tensor, found) -> list[DetectedFaces]:
        config = self.mesh_config
        owners = [b for b, (boxes, _, _) in enumerate(found) for _ in range(boxes.shape[0])]
        if not owners:
            return [self._empty() for _ in found]
        boxes = torch.cat([f[0] for f in found]).cpu()
        keypoints = torch.cat([f[1] for f in found]).cpu().double()
        scores = torch.cat([f[2] for f in found]).cpu()
        center = (boxes[:, :2] + boxes[:, 2:]).double() / 2
        side = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values.double() * config.roi_scale
        eye_line = keypoints[:, 1] - keypoints[:, 0]
        angle = torch.atan2(eye_line[:, 1], eye_line[:, 0])
        size = config.input_size
        to_roi = similarity(size / side, angle, center, size)
        rois = torch.cat([
            warp(images[b:b + 1].expand(int(count), -1, -1, -1), to_roi[owner_mask], size, size, padding="border")
            for b, count, owner_mask in self._groups(owners)
        ])
        points, presence_logit = self._network(config, "facemesh")(rois)
        points = points.cpu().double()
        xy = apply(torch.linalg.inv(to_roi), points[..., :2])
        depth = points[..., 2:] * (side / size)[:, None, None]
        landmarks = torch.cat([xy, depth], dim=-1).float()
        present = torch.sigmoid(presence_logit.cpu()) >= config.presence_threshold
        per_image = []
        owner_tensor = torch.tensor(owners)
        for b in range(len(found)):
            keep = (owner_tensor == b) & present
            faces = DetectedFaces(boxes[keep], scores[keep], landmarks[keep])
            per_image.append(faces.sorted_by_size())
        return per_image

    @staticmethod
    def _groups(owners: list[int]):
        """(image index, face count, mask over all faces) per image that has faces, in owner order."""
        owner_tensor = torch.tensor(owners)
        for b in sorted(set(owners)):
            mask = owner_tensor == b
            yield b, int(mask.sum()), mask

    def _empty(self) -> DetectedFaces:
        n = self.layout.num_points
        return DetectedFaces(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, n, 3))
