"""Reading audio files with PyAV into the host's AUDIO layout (the same result as ComfyUI's Load Audio)."""

from __future__ import annotations

import os

import numpy as np
import torch


def load_audio_file(path: str) -> dict:
    """Decode the first audio stream of any file PyAV/FFmpeg reads (wav, flac, mp3, mp4, ...).

    Returns ``{"waveform": [1, C, T] float32 in [-1, 1], "sample_rate": int}`` at the file's own rate
    and channel count (MP3 gapless headers are honoured, so encoder padding is not included).
    """
    import av

    if not os.path.isfile(path):
        raise FileNotFoundError(f"audio file {path} does not exist")
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ValueError(f"{path} could not be opened as a media file ({exc})") from exc
    with container:
        streams = container.streams.audio
        if not streams:
            raise ValueError(f"{path} has no audio stream")
        stream = streams[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=stream.rate)
        chunks = []
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray())
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray())
        rate = int(stream.rate)
    if not chunks:
        raise ValueError(f"{path} has an audio stream with no samples")
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return {"waveform": torch.from_numpy(np.ascontiguousarray(samples)).unsqueeze(0), "sample_rate": rate}
