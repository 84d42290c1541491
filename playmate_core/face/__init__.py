"""Face detection and landmarks (BlazeFace, FaceMesh), aligned crop and paste-back.

Main entry points: `MediaPipeFaceDetector` (our PyTorch port, bundled weights; subclass
`FaceDetector` to plug in another backend), `load_portraits` (photos -> `Portrait`, the
PLAYMATE_PORTRAIT payload) and `paste_back` (renders -> photos).
"""

from .crop import CropConfig
from .detector import DetectedFaces, FaceDetector, MediaPipeFaceDetector
from .landmarks import FACEMESH_LAYOUT, LandmarkLayout, eye_ratio, lip_ratio
from .portrait import Portrait, as_rgb_images, load_portraits, paste_back

__all__ = [
    "CropConfig",
    "DetectedFaces",
    "FACEMESH_LAYOUT",
    "FaceDetector",
    "LandmarkLayout",
    "MediaPipeFaceDetector",
    "Portrait",
    "as_rgb_images",
    "eye_ratio",
    "lip_ratio",
    "load_portraits",
    "paste_back",
]
