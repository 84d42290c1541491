"""End to end: videos -> `train prepare` -> `train stage1` -> `train stage2` (all through the command line)
-> Load Motion Model with the emotion controller -> Motion Sampler with an Emotion condition.

Tiny random LivePortrait and wav2vec2 weights, a few training steps: this proves the pieces fit, not
that the model learns."""

from __future__ import annotations

import os

import torch

import audio_weights as AW
from conftest import fixture_path
from lp_weights import write_tiny_kijai_set
from playmate_core import cli
from playmate_core.audio.features import AudioFeatures
from playmate_core.audio.io import load_audio_file
from playmate_core.implicit.source import SourceFeatures
from playmate_core.train import stages  # noqa: F401  (the trainers: a missing module fails, never skips)
from playmate_core.train.dataset import MotionDataset
from train_media import DRIVING, SPEECH, decoded_frames, write_video


def test_prepare_train_both_stages_load_and_sample_with_emotion(pack, models_dir, tmp_path):
    faces = decoded_frames(fixture_path(*DRIVING), 256)
    speech = load_audio_file(os.fspath(fixture_path(*SPEECH)))
    videos = tmp_path / "videos"
    write_video(videos / "m01" / "happy" / "001.mp4", faces[:55], audio=speech)  # 2.2 s
    write_video(videos / "m02" / "sad" / "001.mp4", faces[::-1][:50], audio=speech)  # 2.0 s
    config = AW.tiny_hf_config("wav2vec2")
    AW.write_hf_folder(str(tmp_path / "w2v"), config, AW.hf_state_dict(config, seed=1))
    renderer = write_tiny_kijai_set(tmp_path / "lp")
    data = tmp_path / "set"
    assert cli.main(["train", "prepare", str(videos), str(data), "--renderer", str(renderer), "--audio-encoder",
                     str(tmp_path / "w2v"), "--emotion-labels", "folders", "--device", "cpu"]) == 0
    dataset = MotionDataset(str(data))
    assert sorted(c["emotion"] for c in dataset.clips) == ["happy", "sad"]

    folder = models_dir / "playmate"
    folder.mkdir()
    stage1, stage2 = folder / "playmate_motion.safetensors", folder / "playmate_emotion.safetensors"
    common = ["--data", str(data), "--steps", "3", "--batch-size", "2", "--device", "cpu"]
    assert cli.main(["train", "stage1", "--config", "tiny", "--out", str(stage1), *common]) == 0
    assert cli.main(["train", "stage2", "--stage1", str(stage1), "--out", str(stage2), *common]) == 0

    nodes = pack.NODE_CLASS_MAPPINGS
    model, _ = nodes["PlaymateLoadMotionModel"]().load("playmate_motion.safetensors", "cpu", "fp32", "released",
                                                       "playmate_emotion.safetensors")
    clip = dataset.load(0)
    source = SourceFeatures(torch.zeros(1, 1), clip.kp_canonical[:1], clip.motion[:1])
    n = clip.audio.shape[0]
    features = AudioFeatures(clip.audio[None], dataset.fps, n, n / dataset.fps, dataset.audio_encoder)
    sampled = {}
    for label in ("happy", "sad"):
        (emotion,) = nodes["PlaymateEmotion"]().build(label, 1.5, "none", 0.5, "")
        (motion,) = nodes["PlaymateMotionSampler"]().sample(model, source, features, 3, 1.5, 1.5, 7, 0.2,
                                                            emotion=emotion)
        assert motion.motion.shape == (1, n, 70) and torch.isfinite(motion.motion).all()
        sampled[label] = motion.motion
    assert not torch.equal(sampled["happy"], sampled["sad"])  # the emotion reaches the motion
