"""The training data set: writer, resume, reader, statistics and errors (synthetic data)."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

from playmate_core.motion.normalization import AdaptiveNormalizer
from playmate_core.train.dataset import (
    STD_FLOOR, DatasetError, DatasetWriter, MotionDataset, compute_statistics,
)

D = 8


def clip_tensors(n: int, seed: int, audio_dim: int = D):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 70, generator=g), torch.randn(n, audio_dim, generator=g), torch.randn(n, 21, 3, generator=g))


def writer(root, **overrides):
    settings = {"fps": 25.0, "audio_encoder": "wav2vec2-tiny", "audio_dim": D, "motion_extractor": "m.safetensors@abc",
                "shard_frames": 10}
    settings.update(overrides)
    return DatasetWriter(str(root), **settings)


def hand_motion(exp0, yaw, scale=1.5):
    m = torch.zeros(len(yaw), 70)
    m[:, 0] = torch.tensor(exp0, dtype=torch.float32)
    m[:, 63] = scale
    m[:, 68] = torch.tensor(yaw, dtype=torch.float32)
    return m


def test_round_trip_keeps_every_tensor_and_the_manifest_fields(tmp_path):
    w = writer(tmp_path)
    sources = {"a/one.mp4": ("a", "happy", 7), "a/two.mp4": ("a", None, 6), "b/three.mp4": ("b", "sad", 12)}
    written = {}
    for i, (source, (identity, emotion, n)) in enumerate(sources.items()):
        tensors = clip_tensors(n, i)
        key = w.add_clip(source, identity, emotion, *tensors)
        written[key] = (source, identity, emotion, tensors)
    w.skip("b/broken.mp4", "corrupt file")
    stats = w.finish()

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["format"] == "playmate-dataset" and manifest["format_version"] == 1
    assert manifest["audio_dim"] == D and manifest["motion_extractor"] == "m.safetensors@abc"
    assert manifest["skipped"] == [{"source": "b/broken.mp4", "reason": "corrupt file"}]
    assert sorted(os.listdir(tmp_path / "shards")) == ["00000.safetensors", "00001.safetensors"]  # 7+6 >= 10, then 12
    assert stats["frames"] == 25 and manifest["statistics"]["frames"] == 25
    assert manifest["identities"]["a"]["clips"] == 2 and manifest["identities"]["b"]["frames"] == 12

    ds = MotionDataset(str(tmp_path), open_shards=1)
    assert len(ds) == 3 and ds.fps == 25.0 and ds.audio_encoder == "wav2vec2-tiny" and ds.audio_dim == D
    for i in range(len(ds)):
        clip = ds.load(i)
        source, identity, emotion, (motion, audio, kp) = written[clip.key]
        assert ds.clips[i]["source"] == source and clip.identity == identity and clip.emotion == emotion
        assert ds.clips[i]["num_frames"] == motion.shape[0]
        torch.testing.assert_close(clip.motion, motion, rtol=0, atol=0)
        torch.testing.assert_close(clip.audio, audio, rtol=0, atol=0)
        torch.testing.assert_close(clip.kp_canonical, kp, rtol=0, atol=0)
        identity_frames = torch.cat([t[3][0] for t in written.values() if t[1] == identity])
        torch.testing.assert_close(clip.pose_mean, identity_frames[:, 63:70].mean(0))
    torch.testing.assert_close(ds.identity_pose_mean(2), ds.load(2).pose_mean)
    norm = ds.normalizer()
    assert isinstance(norm, AdaptiveNormalizer)
    torch.testing.assert_close(norm.pose_std_identity, torch.tensor(stats["pose_std_identity"]))
    with pytest.raises(IndexError, match="out of range"):
        ds.load(3)


def test_statistics_match_a_hand_computation():
    # exp[0] over the 4 frames: 1, 3, 5, 7 -> mean 4, population variance (9+1+1+9)/4 = 5
    # yaw: identity a 0, 2 (mean 1, std 1), identity b 10, 14 (mean 12, std 2)
    # yaw overall: mean 6.5, variance (6.5^2 + 4.5^2 + 3.5^2 + 7.5^2)/4 = 32.75
    # pooled within-identity yaw: sqrt((1 + 1 + 4 + 4) / 4) = sqrt(2.5)
    stats, identities = compute_statistics([("a", hand_motion([1, 3], [0, 2])), ("b", hand_motion([5, 7], [10, 14]))])
    assert stats["frames"] == 4
    assert stats["exp_mean"][0] == pytest.approx(4.0) and stats["exp_std"][0] == pytest.approx(math.sqrt(5))
    assert stats["exp_mean"][1] == 0.0 and stats["exp_std"][1] == STD_FLOOR
    assert stats["pose_mean"][0] == pytest.approx(1.5) and stats["pose_std"][0] == STD_FLOOR  # constant scale
    assert stats["pose_mean"][5] == pytest.approx(6.5) and stats["pose_std"][5] == pytest.approx(math.sqrt(32.75))
    assert stats["pose_std_identity"][5] == pytest.approx(math.sqrt(2.5))
    assert identities["a"]["pose_mean"][5] == pytest.approx(1.0)
    assert identities["a"]["pose_std"][5] == pytest.approx(1.0)
    assert identities["b"]["pose_mean"][5] == pytest.approx(12.0)
    assert identities["b"]["pose_std"][5] == pytest.approx(2.0)
    assert (identities["b"]["clips"], identities["b"]["frames"]) == (1, 2)
    assert len(stats["exp_mean"]) == 63 and len(stats["pose_std_identity"]) == 7


def test_statistics_of_two_clips_of_one_identity_pool_their_frames():
    stats, identities = compute_statistics([("a", hand_motion([0], [0])), ("a", hand_motion([0, 0, 0], [4, 4, 4]))])
    # yaw frames 0, 4, 4, 4: mean 3, variance (9 + 1 + 1 + 1) / 4 = 3
    assert identities["a"]["clips"] == 2 and identities["a"]["frames"] == 4
    assert identities["a"]["pose_mean"][5] == pytest.approx(3.0)
    assert stats["pose_std_identity"][5] == pytest.approx(math.sqrt(3.0))
    with pytest.raises(DatasetError, match="no clips"):
        compute_statistics([])


def test_resume_after_an_interruption_keeps_flushed_clips_and_redoes_the_rest(tmp_path):
    w = writer(tmp_path)
    w.add_clip("one.mp4", "x", None, *clip_tensors(12, 0))  # >= shard_frames: flushed to disk at once
    w.add_clip("two.mp4", "x", None, *clip_tensors(3, 1))  # still in memory when the run dies
    w.skip("bad.mp4", "no audio track")
    (tmp_path / "shards" / "00001.safetensors.tmp-999").write_bytes(b"half a shard")
    del w
    with pytest.raises(DatasetError, match="run prepare again"):
        MotionDataset(str(tmp_path))

    w = writer(tmp_path)
    assert w.has_source("one.mp4") and w.has_source("bad.mp4") and not w.has_source("two.mp4")
    assert not (tmp_path / "shards" / "00001.safetensors.tmp-999").exists()
    with pytest.raises(ValueError, match="already in the data set"):
        w.add_clip("one.mp4", "x", None, *clip_tensors(2, 5))
    assert w.add_clip("two.mp4", "x", None, *clip_tensors(3, 1)) == "c000001"
    w.finish()
    ds = MotionDataset(str(tmp_path))
    assert [c["source"] for c in ds.clips] == ["one.mp4", "two.mp4"]
    assert [c["key"] for c in ds.clips] == ["c000000", "c000001"]
    assert ds.skipped == [{"source": "bad.mp4", "reason": "no audio track"}]
    torch.testing.assert_close(ds.load(1).motion, clip_tensors(3, 1)[0])
    assert ds.num_frames == 15

    retry = writer(tmp_path)
    assert retry.forget_skipped() == ["bad.mp4"] and not retry.has_source("bad.mp4") and retry.has_source("one.mp4")
    retry.skip("bad.mp4", "no audio track")
    retry.finish()

    again = writer(tmp_path)  # a finished set re-opened: nothing to redo, same clips after finish
    assert again.has_source("two.mp4")
    again.finish()
    assert [c["key"] for c in MotionDataset(str(tmp_path)).clips] == ["c000000", "c000001"]


def test_resume_with_other_settings_is_refused(tmp_path):
    writer(tmp_path).finish()
    with pytest.raises(DatasetError, match=r"other settings \(audio_encoder: folder 'wav2vec2-tiny', now 'hubert'"):
        writer(tmp_path, audio_encoder="hubert")


def test_bad_clips_are_refused_with_the_tensor_named(tmp_path):
    w = writer(tmp_path)
    motion, audio, kp = clip_tensors(5, 0)
    with pytest.raises(ValueError, match=r"audio has shape \(4, 8\), expected \(5, 8\)"):
        w.add_clip("s.mp4", "x", None, motion, audio[:4], kp)
    with pytest.raises(ValueError, match=r"audio has shape \(5, 6\), expected \(5, 8\)"):
        w.add_clip("s.mp4", "x", None, motion, audio[:, :6], kp)
    with pytest.raises(ValueError, match="motion has shape"):
        w.add_clip("s.mp4", "x", None, motion[:, :63], audio, kp)
    bad = motion.clone()
    bad[2, 3] = float("nan")
    with pytest.raises(ValueError, match="motion has NaN"):
        w.add_clip("s.mp4", "x", None, bad, audio, kp)
    w.skip("t.mp4", "too short")
    with pytest.raises(ValueError, match="already in the data set"):
        w.skip("t.mp4", "again")


def test_reader_errors_say_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match="no manifest.json here.*train prepare"):
        MotionDataset(str(tmp_path))

    w = writer(tmp_path)
    w.skip("only.mp4", "no face in 80% of the frames")
    w.finish()
    with pytest.raises(DatasetError, match="no clips; all 1 sources were skipped"):
        MotionDataset(str(tmp_path))

    w = writer(tmp_path / "set")
    w.add_clip("a.mp4", "x", None, *clip_tensors(12, 0))
    w.finish()
    manifest_path = tmp_path / "set" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(DatasetError, match="format_version 2 is newer"):
        MotionDataset(str(tmp_path / "set"))
    manifest_path.write_text(json.dumps(manifest))
    os.remove(tmp_path / "set" / "shards" / "00000.safetensors")
    with pytest.raises(DatasetError, match="shard shards/00000.safetensors listed in manifest.json is missing"):
        MotionDataset(str(tmp_path / "set"))


def test_resume_redoes_the_clips_of_a_deleted_shard_with_fresh_keys(tmp_path):
    w = writer(tmp_path)
    w.add_clip("one.mp4", "x", None, *clip_tensors(12, 0))  # shard 00000
    w.add_clip("two.mp4", "x", None, *clip_tensors(12, 1))  # shard 00001
    w.finish()
    os.remove(tmp_path / "shards" / "00000.safetensors")
    w = writer(tmp_path)
    assert not w.has_source("one.mp4") and w.has_source("two.mp4")
    assert w.add_clip("one.mp4", "x", None, *clip_tensors(12, 0)) == "c000002"
    w.finish()
    ds = MotionDataset(str(tmp_path))
    assert [(c["key"], c["source"], c["shard"]) for c in ds.clips] == [
        ("c000001", "two.mp4", "shards/00001.safetensors"), ("c000002", "one.mp4", "shards/00002.safetensors")]
    torch.testing.assert_close(ds.load(1).motion, clip_tensors(12, 0)[0])
