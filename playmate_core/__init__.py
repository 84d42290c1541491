"""playmate_core: the Playmate talking-head library (pure PyTorch, no ComfyUI import).

Sub-packages: ``implicit`` (LivePortrait-compatible networks and keypoint math), ``face``
(detection, crop, paste-back), ``audio`` (encoders, frame alignment), ``motion`` (motion
diffusion models, schedulers, samplers), ``render`` (batched rendering, video writing),
``train`` (data preparation and training).
"""

__version__ = "0.1.0"
