"""The MP4 writer and the Render Video node: decode what was written back with PyAV."""

from __future__ import annotations

import json
import os

import av
import numpy as np
import pytest
import torch

from playmate_core.render import VideoWriter
from playmate_core.render.video import temporary_path
from render_helpers import FPS, RENDER_WIDGETS, nodding_motion, renderer, sine_audio, source  # noqa: F401

WIDGETS = dict(RENDER_WIDGETS, filename_prefix="Playmate/talking_head", crf=18)


def decode(path: str) -> dict:
    """Everything a player would see: frames (uint8), audio samples, stream durations, tags."""
    with av.open(path) as container:
        video, audio = container.streams.video[0], (container.streams.audio or [None])[0]
        out = {
            "fps": float(video.average_rate),
            "video_seconds": float(video.duration * video.time_base),
            "frames": np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]),
            "tags": dict(container.metadata),
            "audio": None,
        }
        if audio is not None:
            out["audio_seconds"] = float(audio.duration * audio.time_base)
            out["audio_rate"] = audio.sample_rate
            container.seek(0)
            out["audio"] = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return out


def moving_frames(n: int, height: int = 64, width: int = 96) -> torch.Tensor:
    """Frames whose brightness encodes their index, with a gradient so the encoder has something to code."""
    ramp = torch.linspace(0, 0.3, width)[None, None, :, None].expand(n, height, width, 3)
    level = (torch.arange(n, dtype=torch.float32) / max(n - 1, 1) * 0.6)[:, None, None, None]
    return (ramp + level).clamp(0, 1)


def test_frames_and_audio_round_trip(tmp_path):
    n, rate = 30, 22050
    frames = moving_frames(n)
    audio = sine_audio(n / FPS + 0.5, rate=rate)  # longer than the video: cut at 1.2 s
    path = str(tmp_path / "clip.mp4")
    with VideoWriter(path, FPS, 96, 64, audio=audio, metadata={"prompt": {"1": {"class_type": "X"}}}) as writer:
        for start in range(0, n, 7):
            writer.write(frames[start:start + 7])
    got = decode(path)
    assert got["frames"].shape == (n, 64, 96, 3) and got["fps"] == FPS
    assert got["video_seconds"] == pytest.approx(n / FPS)
    error = np.abs(got["frames"].astype(np.float32) / 255 - frames.numpy()).mean()
    assert error < 0.01
    brightness = got["frames"].mean(axis=(1, 2, 3))
    assert np.all(np.diff(brightness) > 0)  # frame order kept
    expected = int(n * rate / FPS)
    assert got["audio_rate"] == rate and got["audio_seconds"] == pytest.approx(n / FPS, abs=1e-3)
    decoded = got["audio"][0]
    assert expected <= decoded.shape[0] < expected + 1024  # AAC pads only the last 1024-sample frame
    reference = audio["waveform"][0, 0, :expected].numpy()
    assert np.corrcoef(decoded[2048:expected - 2048], reference[2048:expected - 2048])[0, 1] > 0.99
    assert json.loads(got["tags"]["prompt"]) == {"1": {"class_type": "X"}}
    assert not os.path.exists(temporary_path(path))


def test_short_audio_is_padded_and_odd_rates_and_stereo_are_muxed(tmp_path):
    path = str(tmp_path / "stereo.mp4")
    with VideoWriter(path, 30.0, 64, 64, audio=sine_audio(0.2, rate=11000, channels=2)) as writer:
        writer.write(moving_frames(15, 64, 64))
    got = decode(path)
    assert got["audio_seconds"] == pytest.approx(0.5, abs=2e-3)
    assert got["audio"].shape[0] in (1, 2)  # planar stereo decodes as 2 rows
    assert got["frames"].shape[0] == 15


def test_an_exception_leaves_neither_the_file_nor_the_temporary(tmp_path):
    path = str(tmp_path / "broken.mp4")
    with pytest.raises(RuntimeError, match="cancelled"):
        with VideoWriter(path, FPS, 64, 64, audio=sine_audio(1.0)) as writer:
            writer.write(moving_frames(5, 64, 64))
            assert os.path.exists(temporary_path(path))
            raise RuntimeError("cancelled")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(width=63, height=64), ValueError, "even frame sides"),
        (dict(fps=0.0), ValueError, "fps must be positive"),
        (dict(crf=60), ValueError, "crf must be within 0..51"),
    ],
)
def test_bad_settings(tmp_path, kwargs, error, message):
    args = {**dict(path=str(tmp_path / "x.mp4"), fps=FPS, width=64, height=64), **kwargs}
    with pytest.raises(error, match=message):
        VideoWriter(**args)
    assert os.listdir(tmp_path) == []


def test_unwritable_destination_is_refused_before_anything_is_written(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(PermissionError, match="cannot create the output folder"):
        VideoWriter(str(blocker / "clip.mp4"), FPS, 64, 64)


def test_wrong_frame_size_and_empty_video(tmp_path):
    path = str(tmp_path / "x.mp4")
    writer = VideoWriter(path, FPS, 64, 64)
    with pytest.raises(ValueError, match=r"frames must be \[n, 64, 64, 3\]"):
        writer.write(torch.zeros(2, 64, 66, 3))
    with pytest.raises(ValueError, match="no frames were written"):
        writer.close()
    assert os.listdir(tmp_path) == []


# --- the Render Video node ---------------------------------------------------------------------

def test_render_video_node_writes_a_synced_mp4(pack, models_dir, renderer, source):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderVideo"]()
    assert node.OUTPUT_NODE and type(node).RETURN_TYPES == ("VIDEO", "STRING")
    spec = type(node).INPUT_TYPES()
    assert list(spec["required"])[-2:] == ["filename_prefix", "crf"]
    assert list(spec["optional"]) == ["portrait", "audio", "motion_mode"]
    motion = nodding_motion(source, 4)
    out = node.render(renderer, source, motion, **WIDGETS, audio=sine_audio(3.0, rate=44100, channels=2),
                      prompt={"5": {"class_type": "PlaymateRenderVideo"}})
    video, path = out["result"]
    assert video == path  # no host: the VIDEO output is the file path
    output_root = os.environ["PLAYMATE_OUTPUT_DIR"]
    assert path == os.path.join(output_root, "Playmate", "talking_head_00001_.mp4")
    assert out["ui"]["images"] == [{"filename": "talking_head_00001_.mp4", "subfolder": "Playmate", "type": "output"}]
    got = decode(path)
    assert got["frames"].shape == (4, 512, 512, 3)
    assert got["audio_seconds"] == pytest.approx(4 / FPS, abs=1e-3) and got["video_seconds"] == pytest.approx(4 / FPS)
    assert "PlaymateRenderVideo" in got["tags"]["prompt"]
    second = node.render(renderer, source, nodding_motion(source, 1), **WIDGETS)["result"][1]
    assert second.endswith("talking_head_00002_.mp4") and decode(second)["audio"] is None


def test_interrupt_mid_render_leaves_no_file(pack, models_dir, renderer, source, monkeypatch):
    from comfyui_playmate_under_test.nodes import host

    class Interrupted(Exception):
        pass

    calls = {"n": 0}

    def interrupt_on_second_chunk():
        calls["n"] += 1
        if calls["n"] == 3:  # before the render, after chunk 1, after chunk 2
            raise Interrupted("Processing interrupted")

    monkeypatch.setattr(host, "throw_if_interrupted", interrupt_on_second_chunk)
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderVideo"]()
    with pytest.raises(Interrupted):
        node.render(renderer, source, nodding_motion(source, 6), **WIDGETS, audio=sine_audio(1.0))
    folder = os.path.join(os.environ["PLAYMATE_OUTPUT_DIR"], "Playmate")
    assert calls["n"] == 3 and os.listdir(folder) == []


def test_render_video_refuses_an_unwritable_prefix(pack, models_dir, renderer, source):
    output = os.environ["PLAYMATE_OUTPUT_DIR"]
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "taken"), "w") as f:
        f.write("a file, not a folder")
    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderVideo"]()
    with pytest.raises(PermissionError, match="cannot create the output folder"):
        node.render(renderer, source, nodding_motion(source, 1), **dict(WIDGETS, filename_prefix="taken/clip"))
    with pytest.raises(ValueError, match="outside the output folder"):
        node.render(renderer, source, nodding_motion(source, 1), **dict(WIDGETS, filename_prefix="../escape"))
