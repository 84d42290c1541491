"""A folder of talking-head videos -> a training data set (``train prepare``).

Each video (mp4, mov, mkv, webm, avi; sub-folders included) is probed, then kept as one clip or
skipped with a reason: unreadable, no video stream, no audio track, shorter than min_seconds, no
face in too many frames, face leaving the fixed crop. Kept clips get per-frame 70-d motion and
canonical keypoints (LivePortrait's motion extractor on the portrait crop) and audio features
aligned to the same frame count. The output folder is resumable: a re-run skips every video
already kept or skipped and redoes only the unfinished ones. report.json / report.txt sum it up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..audio.features import frame_count
from ..download import file_sha256
from ..face.crop import CropConfig
from .dataset import SHARDS, DatasetWriter
from .extract import ExtractSettings, extract_clip
from .labels import IDENTITY_MODES, LabelError, folder_label, identity_of, read_label_csv
from .probe import SkipVideo, VideoProbe, probe_video

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
REPORT = "report"


def find_videos(videos_dir: str) -> list[str]:
    """Video files under videos_dir (recursive), as sorted relative paths with / separators."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"videos folder {videos_dir} does not exist")
    found = [p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")]
    return sorted(found)


def motion_extractor_name(path: str) -> str:
    """'<file name>@<sha256 prefix>' of the motion extractor's file (the data set's provenance)."""
    return f"{os.path.basename(path)}@{file_sha256(path).hexdigest()[:12]}"


def resolve_labels(sources: list[str], emotion_labels: str | None, identity: str) -> dict[str, tuple[str, str | None]]:
    """{source: (identity, emotion | None)} for every video; every label error is raised before any work."""
    if identity not in IDENTITY_MODES:
        raise LabelError(f"identity must be one of {', '.join(IDENTITY_MODES)}, got {identity!r}")
    table = None
    if emotion_labels not in (None, "", "folders"):
        table = read_label_csv(emotion_labels)
    elif identity == "csv":
        raise LabelError("identity=csv needs --emotion-labels to name a CSV file with an identity column")
    resolved = {}
    for source in sources:
        row = table.get(source) if table is not None else None
        emotion = folder_label(source) if emotion_labels == "folders" else (row or {}).get("emotion")
        resolved[source] = (identity_of(source, identity, row), emotion)
    return resolved


def prepare_dataset(videos_dir: str, out_dir: str, renderer, encoder, *, fps: float = 25.0,
                    emotion_labels: str | None = None, identity: str = "folder", detector=None,
                    crop_scale: float = 2.3, min_seconds: float = 2.0, max_missing: float = 0.2,
                    limit: int | None = None, retry_skipped: bool = False, motion_extractor: str = "",
                    audio_layer: int = -1, renderer_frames: int = 0,
                    flush_seconds: float = 600.0, progress: Callable[[int, int], None] | None = None,
                    log: Callable[[str], None] | None = None) -> dict:
    """Prepare (or resume) a data set; returns the report (also written to out_dir/report.json and .txt).

    emotion_labels: None, "folders" or a CSV path; identity: "folder" | "file" | "csv";
    renderer_frames: frames per clip whose 512 px face crop is kept for `train renderer` (0: none);
    limit: at most this many new videos this run; retry_skipped: try the videos an earlier run skipped again;
    progress(frames_done, frames_total); log(line).
    """
    log = log or (lambda line: None)
    if detector is None:
        from ..face.detector import MediaPipeFaceDetector

        detector = MediaPipeFaceDetector("auto", renderer.device)
    sources = find_videos(videos_dir)
    labels = resolve_labels(sources, emotion_labels, identity)
    if renderer_frames < 0 or renderer_frames == 1:
        raise ValueError(f"--renderer-frames must be 0 (none) or at least 2 (pairs are drawn), got {renderer_frames}")
    settings = ExtractSettings(fps=float(fps), crop=CropConfig(scale=crop_scale), max_missing=max_missing,
                               renderer_frames=int(renderer_frames))
    writer = DatasetWriter(out_dir, fps=float(fps), audio_encoder=_encoder_label(encoder, audio_layer),
                           audio_dim=encoder.dim, motion_extractor=motion_extractor, renderer_frames=renderer_frames)
    if retry_skipped:
        for source in writer.forget_skipped():
            log(f"retrying {source}")
    done_before = [s for s in sources if writer.has_source(s)]
    todo = [s for s in sources if not writer.has_source(s)][:limit]
    notes = _previous_notes(out_dir)
    started = time.perf_counter()

    probes: dict[str, VideoProbe] = {}
    for source in todo:
        try:
            probes[source] = probe_video(os.path.join(videos_dir, source), min_seconds)
        except SkipVideo as reason:
            writer.skip(source, str(reason))
            log(f"skipped {source}: {reason}")
    total = sum(frame_count(p.duration, fps) for p in probes.values())
    done, last_flush = 0, time.perf_counter()
    with torch.inference_mode():
        for source, probe in probes.items():
            identity_name, emotion = labels[source]
            try:
                clip_progress = None if progress is None else (lambda n, base=done: progress(base + n, total))
                clip = extract_clip(os.path.join(videos_dir, source), probe, renderer, encoder, detector, settings,
                                    progress=clip_progress)
            except SkipVideo as reason:
                writer.skip(source, str(reason))
                log(f"skipped {source}: {reason}")
                if progress is not None:
                    progress(done + frame_count(probe.duration, fps), total)
            else:
                writer.add_clip(source, identity_name, emotion, clip.motion, clip.audio, clip.kp_canonical, clip.frames)
                notes[source] = probe.notes(fps)
                for note in notes[source]:
                    log(f"{source}: {note}")
            done += frame_count(probe.duration, fps)
            if time.perf_counter() - last_flush > flush_seconds:
                writer.flush()
                last_flush = time.perf_counter()
    writer.finish()
    report = _report(writer, sources, done_before, notes, done, time.perf_counter() - started, out_dir)
    _write_report(out_dir, report)
    return report


def _encoder_label(encoder, layer: int) -> str:
    from ..audio.encode import features_label

    return features_label(encoder, layer)


def _previous_notes(out_dir: str) -> dict[str, list[str]]:
    path = os.path.join(out_dir, f"{REPORT}.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return {c["source"]: c.get("notes", []) for c in json.load(f).get("kept", [])}


def _report(writer: DatasetWriter, sources, done_before, notes, frames_processed: int, elapsed: float, out_dir) -> dict:
    shards = os.path.join(out_dir, SHARDS)
    disk = sum(os.path.getsize(os.path.join(shards, n)) for n in os.listdir(shards))
    frames = sum(c["num_frames"] for c in writer.clips)
    fps = writer.header["fps"]
    return {
        "videos": len(sources), "already_done": len(done_before), "kept_count": len(writer.clips),
        "skipped_count": len(writer.skipped), "frames": frames, "seconds": round(frames / fps, 3),
        "disk_bytes": disk, "frames_processed": frames_processed, "elapsed_s": round(elapsed, 2),
        "frames_per_s": round(frames_processed / elapsed, 2) if frames_processed and elapsed > 0 else None,
        "kept": [{"source": c["source"], "identity": c["identity"], "emotion": c["emotion"], "frames": c["num_frames"],
                  "notes": notes.get(c["source"], [])} for c in writer.clips],
        "skipped": list(writer.skipped),
    }


def report_text(report: dict) -> str:
    lines = [
        f"{report['videos']} videos: {report['kept_count']} kept, {report['skipped_count']} skipped"
        f" ({report['already_done']} were done by an earlier run)",
        f"{report['frames']} frames ({report['seconds'] / 3600:.2f} h), {report['disk_bytes'] / 1e6:.1f} MB of shards",
    ]
    if report["frames_per_s"]:
        lines.append(f"this run: {report['frames_processed']} frames in {report['elapsed_s']:.1f} s "
                     f"({report['frames_per_s']:.1f} frames/s)")
    emotions: dict[str, int] = {}
    for clip in report["kept"]:
        emotions[clip["emotion"] or "unlabelled"] = emotions.get(clip["emotion"] or "unlabelled", 0) + 1
    lines.append("emotions: " + ", ".join(f"{k} {v}" for k, v in sorted(emotions.items())))
    lines += [f"skipped {s['source']}: {s['reason']}" for s in report["skipped"]]
    lines += [f"note {c['source']}: {note}" for c in report["kept"] for note in c["notes"]]
    return "\n".join(lines)


def _write_report(out_dir: str, report: dict) -> None:
    for suffix, text in (("json", json.dumps(report, indent=1)), ("txt", report_text(report) + "\n")):
        path = os.path.join(out_dir, f"{REPORT}.{suffix}")
        with open(f"{path}.tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(f"{path}.tmp", path)


class StderrProgress:
    """progress(done, total) as one updating line on stderr: frames, percent, frames/s, time left."""

    def __init__(self, stream=None, every_s: float = 0.5):
        self.stream, self.every_s = stream if stream is not None else sys.stderr, every_s  # the stderr of now
        self.started, self.shown, self.finished = time.perf_counter(), 0.0, False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.finished or (now - self.shown < self.every_s and done < total):
            return
        self.shown, self.finished = now, done >= total
        rate = done / max(now - self.started, 1e-9)
        left = (total - done) / rate if rate > 0 else float("nan")
        self.stream.write(f"\r[prepare] {done}/{total} frames ({100 * done / max(total, 1):.0f}%), "
                          f"{rate:.1f} frames/s, {left:.0f} s left ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos_dir", help="folder of talking-head videos (searched recursively)")
    parser.add_argument("out_dir", help="data-set folder to create or resume")
    parser.add_argument("--renderer", required=True, help="LivePortrait set: a folder or one of "
                        "its files (any layout), or a fine-tuned set from `train renderer` (its "
                        "motion extractor then gives the motion)")
    parser.add_argument("--audio-encoder", required=True, help="wav2vec2/HuBERT: an HF folder or a single weights file")
    parser.add_argument("--audio-layer", type=int, default=-1, help="hidden state to keep (-1: the last)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of the data set (frames "
                                                                "picked by timestamp)")
    parser.add_argument("--emotion-labels", default=None, help="'folders' (MEAD-style label folders) "
                                                               "or a CSV path,emotion[,identity]")
    parser.add_argument("--identity", choices=IDENTITY_MODES, default="folder",
                        help="folder: top folder under VIDEOS_DIR (files at the "
                             "top: their name); file: file name; csv: CSV column")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--limit", type=int, default=None, help="process at most this many new videos in this run")
    parser.add_argument("--retry-skipped", action="store_true", help="try again the videos an earlier run skipped")
    parser.add_argument("--crop-scale", type=float, default=2.3, help="face crop scale (LivePortrait's "
                                                                      "portrait crop: 2.3)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="skip videos shorter than this")
    parser.add_argument("--max-missing", type=float, default=0.2,
                        help="skip when more of the checked frames have no face")
    parser.add_argument("--renderer-frames", type=int, default=0, help="also keep this many evenly spaced 512 px "
                        "face crops per clip (JPEG) for `train renderer` (0: none; 32 is a good start)")
    parser.add_argument("--face-detector", choices=("auto", "short_range", "full_range"), default="auto",
                        help="BlazeFace model (full_range finds smaller faces)")


def _device(choice: str) -> torch.device:
    if choice != "auto":
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")


def run_prepare(args: argparse.Namespace) -> int:
    from ..audio.encoders import load_audio_encoder
    from ..face.detector import MediaPipeFaceDetector
    from ..implicit.checkpoints import find_renderer_files
    from ..implicit.renderer import load_renderer

    device = _device(args.device)
    files = find_renderer_files(args.renderer)
    renderer = load_renderer(files, device)
    encoder = load_audio_encoder(args.audio_encoder, device=device)
    report = prepare_dataset(
        args.videos_dir, args.out_dir, renderer, encoder, fps=args.fps, emotion_labels=args.emotion_labels,
        identity=args.identity, detector=MediaPipeFaceDetector(args.face_detector, device),
        crop_scale=args.crop_scale, min_seconds=args.min_seconds, max_missing=args.max_missing, limit=args.limit,
        retry_skipped=args.retry_skipped, motion_extractor=motion_extractor_name(files.paths["motion_extractor"]),
        audio_layer=args.audio_layer, renderer_frames=args.renderer_frames,
        progress=StderrProgress(), log=lambda line: print(f"\n[prepare] {line}", file=sys.stderr),
    )
    print(report_text(report))
    print(f"data set: {args.out_dir} (report: {os.path.join(args.out_dir, REPORT + '.txt')})")
    return 0 if report["kept_count"] else 1
