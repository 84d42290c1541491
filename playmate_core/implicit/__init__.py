"""LivePortrait-compatible 3D implicit keypoint space: networks, keypoint math, checkpoints."""
