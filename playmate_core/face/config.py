"""Hyper-parameters of the face detection and landmark networks and of their pre/post-processing.

The values are those of mediapipe 0.10.21 (the graph configs compiled into its wheel:
FaceDetectionShortRange, FaceDetectionFullRange, FaceDetection, FaceLandmarkCpu,
FaceDetectionFrontDetectionToRoi), recorded here as facts; tools/convert_mediapipe_face.py names
the source of each weight file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnchorConfig:
    """SSD anchor grid (mediapipe SsdAnchorsCalculator with fixed_anchor_size: every anchor is 1x1).

    Layers with the same stride share one feature map; each layer gives len(aspect_ratios) anchors
    per cell, plus one more when interpolated_scale_aspect_ratio > 0.
    """

    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    aspect_ratios: tuple[float, ...] = (1.0,)
    offset: float = 0.5


@dataclass(frozen=True)
class BlazeFaceConfig:
    """One BlazeFace detector: network layout, input tensor, anchors and box decoding.

    Input: the whole image letterboxed (aspect kept, zero border) to input_size, RGB in [-1, 1].
    Output per anchor: 16 regressors (box centre x, y, width, height, then 6 keypoints x, y, in
    input pixels relative to the anchor centre) and one score logit (sigmoid, clipped to
    +-score_clip first). Detections above min_score are merged by weighted NMS at nms_iou.
    """

    variant: str
    weights_file: str
    input_size: int
    anchors: AnchorConfig
    num_boxes: int
    min_score: float
    nms_iou: float = 0.3
    score_clip: float = 100.0
    num_keypoints: int = 6
    # short-range layout: stem width, then (in, out, stride) BlazeBlocks; heads read two taps
    stem_channels: int = 24
    blocks: tuple[tuple[int, int, int], ...] = ()
    head_taps: tuple[int, ...] = ()
    anchors_per_cell: tuple[int, ...] = ()
    # full-range layout: stages (out, mid, residual blocks; every stage but the first opens with a
    # stride-2 block), FPN lateral widths (stages 1..3) and top-down levels (width, mid, blocks)
    stages: tuple[tuple[int, int, int], ...] = ()
    laterals: tuple[int, ...] = ()
    top_down: tuple[tuple[int, int, int], ...] = ()

    @property
    def coord_scale(self) -> float:
        """Regressors are in input pixels: divide by this to get anchor-relative units."""
        return float(self.input_size)

    @classmethod
    def short_range(cls) -> "BlazeFaceConfig":
        """face_detection_short_range.tflite: faces within ~2 m, at least ~13% of the longer image side."""
        widths = (24, 24, 28, 32, 36, 42, 48, 56, 64, 72, 80, 88, 96, 96, 96, 96, 96)
        downsample = {2, 5, 11}
        blocks = tuple((widths[i], widths[i + 1], 2 if i in downsample else 1) for i in range(16))
        return cls(
            variant="short_range",
            weights_file="blazeface_short_range.safetensors",
            input_size=128,
            anchors=AnchorConfig(strides=(8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0),
            num_boxes=896,
            min_score=0.5,
            stem_channels=24,
            blocks=blocks,
            head_taps=(10, 15),
            anchors_per_cell=(2, 6),
        )

    @classmethod
    def full_range(cls) -> "BlazeFaceConfig":
        """face_detection_full_range_sparse.tflite: faces within ~5 m, down to ~7% of the image side."""
        return cls(
            variant="full_range",
            weights_file="blazeface_full_range.safetensors",
            input_size=192,
            anchors=AnchorConfig(strides=(4,), interpolated_scale_aspect_ratio=0.0),
            num_boxes=2304,
            min_score=0.6,
            stem_channels=32,
            stages=((32, 8, 2), (64, 16, 2), (128, 32, 2), (192, 48, 2), (384, 96, 3)),
            laterals=(48, 64, 96),
            top_down=((96, 48, 2), (64, 32, 2), (48, 24, 1)),
            anchors_per_cell=(1,),
        )


@dataclass(frozen=True)
class FaceMeshConfig:
    """FaceMesh (face_landmark.tflite): 468 3-D landmarks and a face-presence logit.

    Input: a square ROI around the detection (roi_scale x the detector box, long side, rotated so
    the eye line is horizontal), sampled to input_size with replicated borders, RGB in [0, 1].
    Landmarks come in input pixels (z in the same unit as x).
    """

    weights_file: str = "facemesh.safetensors"
    input_size: int = 192
    num_landmarks: int = 468
    stem_channels: int = 16
    trunk: tuple[tuple[int, int, int], ...] = (
        (16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1),
        (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1),
    )
    landmark_blocks: tuple[tuple[int, int, int], ...] = ((128, 128, 2), (128, 128, 1), (128, 128, 1))
    presence_blocks: tuple[tuple[int, int, int], ...] = ((128, 128, 2),)
    head_channels: int = 32
    roi_scale: float = 1.5
    presence_threshold: float = 0.5
