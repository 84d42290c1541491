"""Face frames for renderer fine-tuning, kept in the data set's shards beside the motion.

``train prepare --renderer-frames N`` keeps N frames per clip, evenly spaced: the 512 px face crop of each (the
decoder's target; the same fixed crop as the motion), JPEG-encoded. The networks' 256 px input is that crop
area-filtered to half size, exactly how the portrait path and `train prepare` make it (face.crop.network_crops),
so it is derived when read rather than stored. Per clip key k::

    k.frames_jpeg    uint8 [bytes]   the N JPEG files, concatenated
    k.frames_offset  int64 [N + 1]   where each one starts (the last entry: the total length)
    k.frames_index   int64 [N]       the frame number of each (rows of k.motion)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

JPEG_QUALITY = 95


def kept_frame_indices(num_frames: int, count: int) -> list[int]:
    """`count` frame numbers evenly spaced over 0 .. num_frames - 1 (all of them when the clip is shorter)."""
    if count >= num_frames:
        return list(range(num_frames))
    return sorted({round(k * (num_frames - 1) / max(count - 1, 1)) for k in range(count)})


def encode_frames(frames: torch.Tensor, index: list[int], quality: int = JPEG_QUALITY) -> dict[str, torch.Tensor]:
    """uint8 frames [N, S, S, 3] -> the three tensors above (without the key prefix)."""
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] != len(index):
        raise ValueError(f"renderer frames must be uint8 [N, S, S, 3] with one frame number each, got "
                         f"{tuple(frames.shape)} {frames.dtype} and {len(index)} numbers")
    blobs = []
    for frame in frames.numpy():
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        blobs.append(np.frombuffer(buffer.getvalue(), dtype=np.uint8))
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    return {"frames_jpeg": torch.from_numpy(np.concatenate(blobs).copy()),
            "frames_offset": torch.from_numpy(offsets.astype(np.int64)),
            "frames_index": torch.tensor(index, dtype=torch.int64)}


def decode_frame(jpeg: torch.Tensor, offsets: torch.Tensor, k: int) -> torch.Tensor:
    """Frame k of a clip -> float [3, S, S] in [0, 1]."""
    data = jpeg[int(offsets[k]):int(offsets[k + 1])].numpy().tobytes()
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def network_input(targets: torch.Tensor) -> torch.Tensor:
    """512 px crops [B, 3, 2S, 2S] -> the networks' 256 px input [B, 3, S, S] (area filter, as network_crops)."""
    return F.interpolate(targets, scale_factor=0.5, mode="area")


@dataclass
class PairBatch:
    """Two frames i, j of one clip per row: targets [B, 3, 2S, 2S] in [0, 1] (the 256 px inputs derive from them)."""

    target_i: torch.Tensor
    target_j: torch.Tensor

    def to(self, device) -> "PairBatch":
        return PairBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def crop_i(self) -> torch.Tensor:
        return network_input(self.target_i)

    @property
    def crop_j(self) -> torch.Tensor:
        return network_input(self.target_j)


class FramePairSampler:
    """Random pairs of distinct kept frames of one clip (clips with at least two kept frames), from a MotionDataset
    whose clips carry renderer frames."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.indices = [i for i, c in enumerate(dataset.clips) if int(c.get("renderer_frames", 0)) >= 2]
        if not self.indices:
            raise ValueError(f"{dataset.root}: no clip has renderer frames; prepare the data set with "
                             "`train prepare ... --renderer-frames 32` (renderer fine-tuning needs face frames)")

    def frames(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(jpeg bytes, offsets) of a data-set clip."""
        entry = self.dataset.clips[index]
        handle = self.dataset._shard(entry["shard"])
        return handle.get_tensor(f"{entry['key']}.frames_jpeg"), handle.get_tensor(f"{entry['key']}.frames_offset")

    def pair(self, index: int, i: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        jpeg, offsets = self.frames(index)
        return decode_frame(jpeg, offsets, i), decode_frame(jpeg, offsets, j)

    def sample(self, batch_size: int, generator: torch.Generator) -> PairBatch:
        rows = []
        for _ in range(batch_size):
            index = self.indices[int(torch.randint(len(self.indices), (1,), generator=generator))]
            count = int(self.dataset.clips[index]["renderer_frames"])
            i, j = torch.randperm(count, generator=generator)[:2].tolist()
            rows.append(self.pair(index, i, j))
        return PairBatch(torch.stack([a for a, _ in rows]), torch.stack([b for _, b in rows]))
