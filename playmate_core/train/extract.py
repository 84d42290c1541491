"""One video -> per-frame motion, canonical keypoints and aligned audio features.

Frames are picked by timestamp at the data set's rate: frame k is the picture on screen at
start + k / fps (so 30 fps, 25 fps and variable-rate videos all come out at fps, in sync with the
sound). The face crop is the portrait path's crop (LivePortrait's, scale 2.3 by default), computed
ONCE per video from the median face landmarks of frames sampled a few times per second, and held
fixed: like the pre-cropped videos LivePortrait's motion extractor was trained on, the head then
moves, turns and rolls inside a still window, so the motion keeps the head's translation, scale
and roll (a crop that followed the face every frame would remove them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import av
import torch
import torch.nn.functional as F

from ..audio.encode import encode_audio
from ..audio.encoders import AudioEncoder
from ..audio.features import frame_count
from ..audio.io import load_audio_file
from ..audio.waveform import fit_audio_to_frames
from ..face.crop import CropConfig, crop_matrix, sample_crops
from ..face.detector import FaceDetector
from ..face.geometry import apply
from ..pose.frames import FrameChunk, video_chunks
from .probe import SkipVideo, VideoProbe
from .renderer_data import encode_frames, kept_frame_indices

END_TOLERANCE_S = 0.25  # the last picture may be held this long past the last decoded frame


@dataclass(frozen=True)
class ExtractSettings:
    """fps: output frame rate; crop: the face crop; detect_per_second: face checks per second of video;
    max_missing: largest fraction of checked frames allowed without a face (or with the face outside
    the fixed crop); batch: frames per motion-extractor batch; max_side: decode size (longer side)."""

    fps: float = 25.0
    crop: CropConfig = CropConfig()
    detect_per_second: float = 2.5
    max_missing: float = 0.2
    batch: int = 16
    max_side: int = 720
    renderer_frames: int = 0  # frames per clip whose 512 px crop is kept for renderer fine-tuning (0: none)


@dataclass(frozen=True)
class ClipData:
    """motion [N, 70], kp_canonical [N, 21, 3], audio [N, D]; faces_checked / faces_found in pass 1;
    frames: the kept renderer frames (renderer_data.encode_frames) or None."""

    motion: torch.Tensor
    kp_canonical: torch.Tensor
    audio: torch.Tensor
    faces_checked: int
    faces_found: int
    frames: dict | None = None


def frames_at_rate(chunks: Iterable[FrameChunk], fps: float, num_frames: int, start: float = 0.0,
                   batch: int = 16) -> Iterator[torch.Tensor]:
    """Decoded chunks (times from the first frame) -> batches [b, H, W, 3] uint8 of the pictures on screen
    at start + k / fps, k < num_frames."""
    out, k, current, last_time = [], 0, None, 0.0
    for chunk in chunks:
        for frame, time in zip(chunk.frames, chunk.times.tolist()):
            while k < num_frames and start + k / fps < time - 1e-6:
                out.append(frame if current is None else current)
                k += 1
                if len(out) == batch:
                    yield torch.stack(out)
                    out = []
            if k >= num_frames:
                break
            current, last_time = frame, time
        if k >= num_frames:
            break
    if current is None:
        raise SkipVideo("no video frame could be decoded")
    if k < num_frames and start + (num_frames - 1) / fps - last_time > END_TOLERANCE_S:
        raise SkipVideo(
            f"corrupt or truncated video: pictures end at {last_time:.2f} s but the file says "
            f"{start + num_frames / fps:.2f} s"
        )
    out.extend([current] * (num_frames - k))
    while out:
        yield torch.stack(out[:batch])
        out = out[batch:]


def _frames(path: str, probe: VideoProbe, settings: ExtractSettings, num_frames: int) -> Iterator[torch.Tensor]:
    chunks = video_chunks(path, chunk_size=settings.batch, max_side=settings.max_side)
    try:
        yield from frames_at_rate(chunks, settings.fps, num_frames, probe.start - probe.video_start, settings.batch)
    except (av.FFmpegError, OSError) as err:
        raise SkipVideo(f"corrupt file: decoding failed ({str(err).splitlines()[0]})") from err


def locate_face(path: str, probe: VideoProbe, detector: FaceDetector, settings: ExtractSettings,
                num_frames: int) -> tuple[torch.Tensor, int, int]:
    """Pass 1: the fixed crop matrix [1, 3, 3] (decoded pixels -> crop pixels) and (checked, usable) counts."""
    stride = max(1, round(settings.fps / settings.detect_per_second))
    landmarks, checked, index = [], 0, 0
    for frames in _frames(path, probe, settings, num_frames):
        picked = [i for i in range(frames.shape[0]) if (index + i) % stride == 0]
        index += frames.shape[0]
        if not picked:
            continue
        faces = detector.detect(frames[picked].float().div_(255))
        checked += len(picked)
        landmarks.extend(f.landmarks[0, :, :2].float() for f in faces if f.count > 0)
    missing = checked - len(landmarks)
    if not landmarks or missing > settings.max_missing * checked:
        raise SkipVideo(f"no face in {missing} of {checked} checked frames ({100 * missing / checked:.0f}%; "
                        f"at most {100 * settings.max_missing:.0f}% allowed)")
    points = torch.stack(landmarks)
    matrix = crop_matrix(points.median(dim=0).values[None], detector.layout, settings.crop)
    in_crop = apply(matrix.expand(points.shape[0], 3, 3), points[:, list(detector.layout.crop_points)].double())
    size = settings.crop.size
    outside = int(((in_crop < 0) | (in_crop > size - 1)).any(-1).any(-1).sum())
    if missing + outside > settings.max_missing * checked:
        raise SkipVideo(
            f"the face leaves the fixed crop in {outside} of {checked} checked frames and is missing in {missing} "
            "(a camera cut, a second person or a large head movement); cut the video into steady shots"
        )
    return matrix, checked, len(landmarks) - outside


def extract_motion(path: str, probe: VideoProbe, matrix: torch.Tensor, renderer, settings: ExtractSettings,
                   num_frames: int, progress: Callable[[int], None] | None = None,
                   keep: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Pass 2: (kp_canonical [N, 21, 3], motion [N, 70]) of the fixed crop of every frame, batched, and the
    crop.size (512 px) crops of the frames numbered in `keep` as uint8 [len(keep), 512, 512, 3] (None without)."""
    kps, motions, kept, done = [], [], [], 0
    wanted = set(keep or ())
    for frames in _frames(path, probe, settings, num_frames):
        images = frames.to(renderer.device).permute(0, 3, 1, 2).float().div_(255)
        full = sample_crops(images, matrix.expand(frames.shape[0], 3, 3).to(images.device), settings.crop.size)
        size = settings.crop.network_size  # the same crops as face.crop.network_crops
        crops = full if size == settings.crop.size else F.interpolate(full, size=(size, size), mode="area")
        crops = crops.clamp(0, 1)
        kp, motion = renderer.extract_motion(crops)
        kps.append(kp.cpu())
        motions.append(motion.cpu())
        picked = [i for i in range(frames.shape[0]) if done + i in wanted]
        if picked:
            kept.append(full[picked].clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu())
        done += frames.shape[0]
        if progress is not None:
            progress(done)
    return torch.cat(kps), torch.cat(motions), torch.cat(kept) if kept else None


def clip_audio(path: str, probe: VideoProbe, encoder: AudioEncoder, fps: float, num_frames: int) -> torch.Tensor:
    """[N, D] features of the sound from the clip's start, N / fps seconds (the last partial frame padded
    with silence), N = num_frames."""
    try:
        audio = load_audio_file(path)
    except (ValueError, av.FFmpegError) as err:
        raise SkipVideo(f"the audio track cannot be decoded ({str(err).splitlines()[0]})") from err
    rate = audio["sample_rate"]
    first = round((probe.start - probe.audio_start) * rate)
    span = fit_audio_to_frames({"waveform": audio["waveform"][..., first:], "sample_rate": rate}, num_frames, fps, path)
    features = encode_audio(span, encoder, fps, name=path)
    if features.num_frames != num_frames:
        raise RuntimeError(f"{path}: {features.num_frames} audio frames for {num_frames} video frames (alignment bug)")
    return features.features[0]


def extract_clip(path: str, probe: VideoProbe, renderer, encoder: AudioEncoder, detector: FaceDetector,
                 settings: ExtractSettings, progress: Callable[[int], None] | None = None) -> ClipData:
    """Both passes and the audio of one probed video."""
    num_frames = frame_count(probe.duration, settings.fps)
    matrix, checked, found = locate_face(path, probe, detector, settings, num_frames)
    keep = kept_frame_indices(num_frames, settings.renderer_frames) if settings.renderer_frames else None
    kp, motion, targets = extract_motion(path, probe, matrix, renderer, settings, num_frames, progress, keep)
    audio = clip_audio(path, probe, encoder, settings.fps, num_frames)
    frames = encode_frames(targets, keep) if keep else None
    return ClipData(motion, kp, audio, checked, found, frames)
