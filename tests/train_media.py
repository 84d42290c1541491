"""Small training-video folders made with PyAV from the test media in tests/fixtures
(for the data-preparation tests)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from conftest import fixture_path
from playmate_core.audio.io import load_audio_file

DRIVING = ("media", "video", "driving_astronaut_3s_25fps_512.mp4")
SPEECH = ("media", "audio", "en_3s_22k_mono.wav")


def decoded_frames(path: Path, size: int) -> list[np.ndarray]:
    with av.open(os.fspath(path)) as container:
        return [f.reformat(width=size, height=size, format="rgb24").to_ndarray() for f in container.decode(video=0)]


def write_video(path: Path, frames: list[np.ndarray], times: list[float] | None = None, fps: int = 25,
                audio: dict | None = None, audio_seconds: float | None = None) -> Path:
    """H.264 frames at `times` seconds (default k / fps) with an optional AAC track cut to audio_seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    times = times if times is not None else [k / fps for k in range(len(frames))]
    with av.open(os.fspath(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        video.options = {"preset": "ultrafast"}
        sound = None
        if audio is not None:
            rate = audio["sample_rate"]
            sound = out.add_stream("aac", rate=rate, layout="mono")
        for image, time in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(time * 1000), Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = audio["waveform"][0, :1].numpy()
            if audio_seconds is not None:
                samples = samples[:, :round(audio_seconds * audio["sample_rate"])]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = audio["sample_rate"], 0
            out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return path


def build_video_folder(root: Path, size: int = 256) -> dict[str, str]:
    """A videos folder and what each file is for: {relative path: expected outcome}."""
    faces = decoded_frames(fixture_path(*DRIVING), size)
    speech = load_audio_file(os.fspath(fixture_path(*SPEECH)))
    write_video(root / "anna" / "talk.mp4", faces, audio=speech)
    write_video(root / "ben" / "happy" / "talk.mp4", faces[::-1][:55], audio=speech)  # 2.2 s
    write_video(root / "silent.mp4", faces, audio=None)
    gradient = [np.broadcast_to(np.linspace(0, 255, size, dtype=np.uint8)[None, :, None] // (1 + k % 3),
                                (size, size, 3)).copy()
                for k in range(50)]
    write_video(root / "noface.mp4", gradient, audio=speech)
    write_video(root / "short.mp4", faces[:20], audio=speech)
    # variable frame rate: intervals alternate 30 ms and 50 ms (on average 25 fps), 2.4 s
    write_video(root / "vfr.mkv", faces[:60], times=[0.04 * (k // 2) * 2 + (0.03 if k % 2 else 0.0) for k in range(60)],
                audio=speech, audio_seconds=2.5)
    good = (root / "anna" / "talk.mp4").read_bytes()
    (root / "broken.mp4").write_bytes(good[: len(good) // 3])
    return {"anna/talk.mp4": "kept", "ben/happy/talk.mp4": "kept", "vfr.mkv": "kept", "silent.mp4": "no audio track",
            "noface.mp4": "no face", "short.mp4": "too short", "broken.mp4": "corrupt"}
