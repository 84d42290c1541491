"""The training data set: per-frame 70-d motion, aligned audio features and canonical keypoints.

On disk::

    <root>/manifest.json                 what is there (clips, skipped sources, statistics)
    <root>/shards/00000.safetensors ...  per clip key k: k.motion [N, 70], k.audio [N, D], k.kp_canonical [N, 21, 3]
                                         (+ k.frames_* when kept for renderer fine-tuning: train/renderer_data.py)

Shards and the manifest are written atomically (temporary file, then rename) and a clip enters the
manifest only once its shard is on disk, so an interrupted preparation resumes where it stopped:
re-opening the root with DatasetWriter keeps every finished shard and redoes only the clips that
were still in memory.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

import torch

from ..checkpoint.io import write_safetensors
from ..implicit.motion_vector import EXP, MOTION_DIM, NUM_KP, POSE
from ..motion.normalization import AdaptiveNormalizer

FORMAT = "playmate-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARDS = "shards"
STD_FLOOR = 1e-6  # smallest standard deviation written (a constant dimension must still normalise)
STATISTIC_NAMES = ("exp_mean", "exp_std", "pose_mean", "pose_std", "pose_std_identity")
PREPARE_HINT = "run `python -m playmate_core train prepare VIDEOS_DIR OUT_DIR` to make one"


class DatasetError(ValueError):
    """A data-set folder that cannot be read or extended; the message says what to do."""


def read_manifest(root: str) -> dict:
    path = os.path.join(root, MANIFEST)
    if not os.path.isfile(path):
        raise DatasetError(f"{root}: no {MANIFEST} here, so this is not a prepared data set; {PREPARE_HINT}")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable manifest ({err}); delete the folder and prepare it again") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a Playmate data-set manifest (format must be {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DatasetError(
            f"{path}: data-set format_version {version!r} is newer than this version of Playmate reads "
            f"({FORMAT_VERSION}); update ComfyUI-Playmate"
        )
    return manifest


def write_manifest(root: str, manifest: dict) -> None:
    path = os.path.join(root, MANIFEST)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def compute_statistics(motions: Iterable[tuple[str, torch.Tensor]]) -> tuple[dict, dict]:
    """Adaptive-normalisation statistics from (identity, motion [N, 70]) pairs, in one pass.

    Returns (statistics, identities):
      statistics: exp_mean/exp_std [63] and pose_mean/pose_std [7] over all frames; pose_std_identity [7]
        = the pooled within-identity spread sqrt(sum over identities and frames (pose - identity mean)^2 / frames);
        frames = total frame count. Standard deviations are population ones (divide by the count),
        floored at STD_FLOOR.
      identities: {identity: {pose_mean [7], pose_std [7], clips, frames}}.
    Values are lists of floats (JSON-ready), computed in float64.
    """
    totals = {"n": 0, "s1": torch.zeros(MOTION_DIM, dtype=torch.float64),
              "s2": torch.zeros(MOTION_DIM, dtype=torch.float64)}
    per_identity: dict[str, dict] = {}
    for identity, motion in motions:
        m = torch.as_tensor(motion).reshape(-1, MOTION_DIM).double()
        acc = per_identity.setdefault(str(identity), {"n": 0, "clips": 0, "s1": torch.zeros(7, dtype=torch.float64),
                                                      "s2": torch.zeros(7, dtype=torch.float64)})
        acc["n"] += m.shape[0]
        acc["clips"] += 1
        acc["s1"] += m[:, POSE].sum(0)
        acc["s2"] += m[:, POSE].square().sum(0)
        totals["n"] += m.shape[0]
        totals["s1"] += m.sum(0)
        totals["s2"] += m.square().sum(0)
    n = totals["n"]
    if n == 0:
        raise DatasetError("no frames to compute statistics from: the data set has no clips")

    def std(s1, s2, count):
        mean = s1 / count
        return (s2 / count - mean.square()).clamp_min(0.0).sqrt().clamp_min(STD_FLOOR)

    mean = totals["s1"] / n
    spread = std(totals["s1"], totals["s2"], n)
    identities, within = {}, torch.zeros(7, dtype=torch.float64)
    for identity, acc in sorted(per_identity.items()):
        id_mean = acc["s1"] / acc["n"]
        within += (acc["s2"] - acc["n"] * id_mean.square()).clamp_min(0.0)
        identities[identity] = {"pose_mean": id_mean.tolist(), "pose_std": std(acc["s1"], acc["s2"], acc["n"]).tolist(),
                                "clips": acc["clips"], "frames": acc["n"]}
    statistics = {
        "exp_mean": mean[EXP].tolist(), "exp_std": spread[EXP].tolist(),
        "pose_mean": mean[POSE].tolist(), "pose_std": spread[POSE].tolist(),
        "pose_std_identity": (within / n).sqrt().clamp_min(STD_FLOOR).tolist(),
        "frames": n,
    }
    return statistics, identities


def _check_clip(source: str, motion, audio, kp_canonical, audio_dim: int) -> int:
    n = motion.shape[0] if motion.dim() == 2 else -1
    expected = {"motion": (n, MOTION_DIM), "audio": (n, audio_dim), "kp_canonical": (n, NUM_KP, 3)}
    for name, tensor in (("motion", motion), ("audio", audio), ("kp_canonical", kp_canonical)):
        if tuple(tensor.shape) != expected[name] or n < 1:
            raise ValueError(
                f"add_clip({source!r}): {name} has shape {tuple(tensor.shape)}, expected {expected[name]} "
                f"(N frames >= 1, the same N for motion, audio and kp_canonical, audio dim {audio_dim})"
            )
        if not torch.isfinite(tensor).all():
            raise ValueError(f"add_clip({source!r}): {name} has NaN or infinite values")
    return n


class DatasetWriter:
    """Writes a data set; re-opening an existing root resumes it (finished shards are kept)."""

    def __init__(self, root: str, *, fps: float, audio_encoder: str, audio_dim: int, motion_extractor: str = "",
                 shard_frames: int = 20000, renderer_frames: int = 0):
        if shard_frames < 1:
            raise ValueError(f"shard_frames must be >= 1, got {shard_frames}")
        self.root = str(root)
        self.shard_frames = int(shard_frames)
        os.makedirs(os.path.join(self.root, SHARDS), exist_ok=True)
        header = {"fps": float(fps), "audio_encoder": str(audio_encoder), "audio_dim": int(audio_dim),
                  "motion_extractor": str(motion_extractor)}
        if renderer_frames:  # only then in the header, so data sets prepared without it resume unchanged
            header["renderer_frames"] = int(renderer_frames)
        if os.path.isfile(os.path.join(self.root, MANIFEST)):
            manifest = read_manifest(self.root)
            differing = [f"{k}: folder {manifest.get(k)!r}, now {v!r}"
                         for k, v in header.items() if manifest.get(k) != v]
            if differing:
                raise DatasetError(
                    f"{self.root}: this data set was prepared with other settings ({'; '.join(differing)}); "
                    "choose a new output folder, or the same settings to resume it"
                )
            # clips whose shard was deleted are dropped, so they are prepared again
            self.clips = [c for c in manifest.get("clips", []) if os.path.isfile(os.path.join(self.root, c["shard"]))]
            self.skipped = list(manifest.get("skipped", []))
        else:
            self.clips, self.skipped = [], []
        self._remove_temporary_files()
        self.header = header
        self._pending: list[tuple[dict, dict[str, torch.Tensor]]] = []
        self._pending_frames = 0
        self._next_key = 1 + max((int(c["key"][1:]) for c in self.clips), default=-1)
        self._next_shard = 1 + max((int(os.path.basename(c["shard"]).split(".")[0]) for c in self.clips), default=-1)
        self._sources = {c["source"] for c in self.clips} | {s["source"] for s in self.skipped}

    def _remove_temporary_files(self) -> None:
        for folder in (self.root, os.path.join(self.root, SHARDS)):
            for name in os.listdir(folder):
                if ".tmp-" in name:
                    os.remove(os.path.join(folder, name))

    def has_source(self, source: str) -> bool:
        """True when the source was already kept or skipped (so a resumed run does not redo it)."""
        return str(source) in self._sources

    def add_clip(self, source: str, identity: str, emotion: str | None, motion: torch.Tensor, audio: torch.Tensor,
                 kp_canonical: torch.Tensor, frames: dict[str, torch.Tensor] | None = None) -> str:
        """Queue one clip (motion [N, 70], audio [N, D], kp_canonical [N, 21, 3]; frames: renderer_data.encode_frames
        output or None); returns its key."""
        source = str(source)
        if self.has_source(source):
            raise ValueError(f"add_clip: source {source!r} is already in the data set")
        n = _check_clip(source, motion, audio, kp_canonical, self.header["audio_dim"])
        key = f"c{self._next_key:06d}"
        self._next_key += 1
        entry = {"key": key, "shard": None, "source": source, "identity": str(identity),
                 "emotion": None if emotion is None else str(emotion), "num_frames": n}
        tensors = {f"{key}.motion": motion, f"{key}.audio": audio, f"{key}.kp_canonical": kp_canonical}
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
        if frames:
            if int(frames["frames_index"].max()) >= n:
                raise ValueError(f"add_clip({source!r}): renderer frame numbers go past the clip's {n} frames")
            entry["renderer_frames"] = int(frames["frames_index"].shape[0])
            tensors.update({f"{key}.{name}": v.detach().cpu().contiguous() for name, v in frames.items()})
        self._pending.append((entry, tensors))
        self._pending_frames += n
        self._sources.add(source)
        if self._pending_frames >= self.shard_frames:
            self.flush()
        return key

    def skip(self, source: str, reason: str) -> None:
        """Record a source that is not used, with the reason (kept in the manifest; a resumed run skips it too)."""
        source = str(source)
        if self.has_source(source):
            raise ValueError(f"skip: source {source!r} is already in the data set")
        self.skipped.append({"source": source, "reason": str(reason)})
        self._sources.add(source)
        self._write(complete=False)

    def forget_skipped(self) -> list[str]:
        """Drop every skipped source (so a run retries them); returns their names."""
        forgotten = [s["source"] for s in self.skipped]
        self._sources.difference_update(forgotten)
        self.skipped = []
        return forgotten

    def flush(self) -> None:
        """Write the queued clips as one shard (atomically), then the manifest with complete=false."""
        if self._pending:
            shard = f"{SHARDS}/{self._next_shard:05d}.safetensors"
            tensors = {k: v for _, clip in self._pending for k, v in clip.items()}
            write_safetensors(os.path.join(self.root, shard), tensors,
                              {"format": FORMAT, "format_version": FORMAT_VERSION})
            for entry, _ in self._pending:
                self.clips.append({**entry, "shard": shard})
            self._pending, self._pending_frames = [], 0
            self._next_shard += 1
        self._write(complete=False)

    def finish(self) -> dict | None:
        """Flush, compute the statistics from every shard and write the manifest with complete=true.

        Returns the statistics, or None when no clip was kept (the manifest then lists only skipped sources)."""
        self.flush()
        if not self.clips:
            self._write(complete=True)
            return None
        statistics, identities = compute_statistics(self._motions())
        self._write(complete=True, statistics=statistics, identities=identities)
        return statistics

    def _motions(self):
        from safetensors import safe_open

        for shard, clips in _group_by_shard(self.clips).items():
            with safe_open(os.path.join(self.root, shard), framework="pt", device="cpu") as f:
                for clip in clips:
                    yield clip["identity"], f.get_tensor(f"{clip['key']}.motion")

    def _write(self, complete: bool, statistics: dict | None = None, identities: dict | None = None) -> None:
        write_manifest(self.root, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "complete": complete, **self.header,
            "clips": self.clips, "skipped": self.skipped, "statistics": statistics, "identities": identities or {},
        })


def _group_by_shard(clips: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for clip in clips:
        groups.setdefault(clip["shard"], []).append(clip)
    return groups


@dataclass
class Clip:
    """One training clip; N frames at the data set's fps."""

    motion: torch.Tensor  # [N, 70] absolute motion (LivePortrait units, degrees)
    audio: torch.Tensor  # [N, D] audio features aligned 1:1 with the frames
    kp_canonical: torch.Tensor  # [N, 21, 3]
    pose_mean: torch.Tensor  # [7] mean pose of the clip's identity
    emotion: str | None
    key: str
    identity: str


class MotionDataset(torch.utils.data.Dataset):
    """Reads a finished data set. Shards are opened lazily and a few stay open (least recently used closed)."""

    def __init__(self, root: str, open_shards: int = 4):
        self.root = str(root)
        manifest = read_manifest(self.root)
        if not manifest.get("complete"):
            raise DatasetError(
                f"{self.root}: the data set is not finished (complete=false in {MANIFEST}); "
                "run prepare again with the same folders to finish it"
            )
        self.clips: list[dict] = list(manifest["clips"])
        if not self.clips:
            raise DatasetError(
                f"{self.root}: the data set has no clips; all {len(manifest.get('skipped', []))} sources were "
                f"skipped (see 'skipped' in {MANIFEST} for the reasons)"
            )
        for shard in _group_by_shard(self.clips):
            if not os.path.isfile(os.path.join(self.root, shard)):
                raise DatasetError(f"{self.root}: shard {shard} listed in {MANIFEST} "
                                   "is missing; prepare the data set again")
        self.fps = float(manifest["fps"])
        self.audio_encoder = manifest["audio_encoder"]
        self.audio_dim = int(manifest["audio_dim"])
        self.motion_extractor = manifest.get("motion_extractor", "")
        self.skipped = list(manifest.get("skipped", []))
        stats = manifest["statistics"]
        self.statistics = {name: torch.tensor(stats[name], dtype=torch.float32) for name in STATISTIC_NAMES}
        self.num_frames = int(stats["frames"])
        self.identities = manifest["identities"]
        self._identity_means = {k: torch.tensor(v["pose_mean"], dtype=torch.float32)
                                for k, v in self.identities.items()}
        self._open: OrderedDict = OrderedDict()
        self._open_limit = max(1, int(open_shards))

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Clip:
        return self.load(index)

    def normalizer(self) -> AdaptiveNormalizer:
        """The adaptive normaliser with this data set's statistics."""
        return AdaptiveNormalizer(**self.statistics)

    def identity_pose_mean(self, clip: dict | int) -> torch.Tensor:
        """[7] mean pose of the identity of a clip (a manifest clip dict or an index)."""
        entry = self.clips[clip] if isinstance(clip, int) else clip
        return self._identity_means[entry["identity"]].clone()

    def _shard(self, shard: str):
        from safetensors import safe_open

        if shard in self._open:
            self._open.move_to_end(shard)
            return self._open[shard]
        handle = safe_open(os.path.join(self.root, shard), framework="pt", device="cpu")
        self._open[shard] = handle
        while len(self._open) > self._open_limit:
            self._open.popitem(last=False)
        return handle

    def load(self, index: int) -> Clip:
        if not -len(self.clips) <= index < len(self.clips):
            raise IndexError(f"clip index {index} out of range for a data set of {len(self.clips)} clips")
        entry = self.clips[index]
        handle, key = self._shard(entry["shard"]), entry["key"]
        return Clip(
            motion=handle.get_tensor(f"{key}.motion"), audio=handle.get_tensor(f"{key}.audio"),
            kp_canonical=handle.get_tensor(f"{key}.kp_canonical"), pose_mean=self.identity_pose_mean(entry),
            emotion=entry["emotion"], key=key, identity=entry["identity"],
        )
