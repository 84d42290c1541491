"""A pickle that stores Python objects is refused by every loader with a message that says what the file is,
that it was refused for safety and the safe way on, names the file once and never suggests weights_only=False."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from lp_weights import random_official_states, write_official_layout
from playmate_core.audio.encoders import load_audio_encoder
from playmate_core.checkpoint.io import CheckpointError
from playmate_core.implicit.config import RendererConfig
from playmate_core.implicit.renderer import load_renderer
from playmate_core.motion.checkpoint import load_motion_model
from playmate_core.motion.joyvasa_release import read_release_checkpoint

MARKER = "/tmp/playmate_unsafe_pickle_ran"


class Payload:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def check_refusal(message: str, file_name: str, what: str, way_on: list[str]) -> None:
    assert message.count(file_name) == 1, message
    assert message.startswith(f"{file_name}: refused for safety. This {what} is a PyTorch pickle"), message
    assert "weights_only" not in message and "trust the source" not in message and "\n" not in message
    for words in way_on:
        assert words in message, (words, message)
    assert not os.path.exists(MARKER)


def test_liveportrait_network_file(tmp_path):
    base = write_official_layout(random_official_states(RendererConfig.tiny()), tmp_path / "official")
    path = base / "motion_extractor.pth"
    torch.save({"weight": torch.zeros(1), "hook": Payload()}, path)
    with pytest.raises(CheckpointError) as refused:
        load_renderer(str(base))
    check_refusal(str(refused.value), "motion_extractor.pth", "LivePortrait network file",
                  [".safetensors", "convert-liveportrait", "source you trust", "(posix.system)"])


def test_audio_encoder_weights(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    torch.save({"args": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(CheckpointError) as refused:
        load_audio_encoder(str(path))
    check_refusal(str(refused.value), "pytorch_model.bin", "audio-encoder weights file",
                  ["model.safetensors", "(argparse.Namespace)"])


@pytest.mark.parametrize("read", [load_motion_model, read_release_checkpoint])
def test_joyvasa_motion_generator(tmp_path, read):
    path = tmp_path / "motion_generator_hubert_chinese.pt"
    torch.save({"args": Payload(), "model": {"denoising_net.x": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError) as refused:
        read(str(path))
    check_refusal(str(refused.value), "motion_generator_hubert_chinese.pt", "motion model",
                  ["convert-joyvasa", "huggingface.co/jdh-algo/JoyVASA", ".safetensors"])
