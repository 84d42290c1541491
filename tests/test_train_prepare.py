"""Data preparation on real media: a small videos folder made from the test driving video and speech,
tiny random LivePortrait and wav2vec2 weights."""

from __future__ import annotations

import json
import os

import av
import numpy as np
import pytest
import torch

import audio_weights as AW
from lp_weights import write_tiny_kijai_set
from playmate_core.audio import encode_audio, fit_audio_to_frames, load_audio_file
from playmate_core.audio.encoders import load_audio_encoder
from playmate_core.face.crop import CropConfig, crop_matrix, network_crops
from playmate_core.face.detector import MediaPipeFaceDetector
from playmate_core.implicit.renderer import load_renderer
from playmate_core.pose.frames import FrameChunk
from playmate_core.train.dataset import MotionDataset
from playmate_core.train.extract import frames_at_rate
from playmate_core.train.labels import LabelError
from playmate_core.train.prepare import prepare_dataset
from playmate_core.train.probe import SkipVideo
from conftest import fixture_path
from train_media import DRIVING, SPEECH, build_video_folder, decoded_frames, write_video

KEPT = {"anna/talk.mp4", "ben/happy/talk.mp4", "vfr.mkv"}


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    config = AW.tiny_hf_config("wav2vec2")
    AW.write_hf_folder(str(root / "w2v"), config, AW.hf_state_dict(config, seed=1))
    return {"renderer": load_renderer(str(write_tiny_kijai_set(root / "lp"))),
            "encoder": load_audio_encoder(str(root / "w2v")),
            "detector": MediaPipeFaceDetector(), "lp": str(root / "lp"), "w2v": str(root / "w2v")}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, networks):
    root = tmp_path_factory.mktemp("prepare")
    expected = build_video_folder(root / "videos")
    report = prepare_dataset(str(root / "videos"), str(root / "set"), networks["renderer"], networks["encoder"],
                             emotion_labels="folders", detector=networks["detector"], motion_extractor="tiny@0")
    return root, expected, report


def test_videos_are_kept_or_skipped_with_their_reason(prepared):
    root, expected, report = prepared
    manifest = json.loads((root / "set" / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["motion_extractor"] == "tiny@0"
    assert {c["source"] for c in manifest["clips"]} == KEPT
    skipped = {s["source"]: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == set(expected) - KEPT
    for source, reason in skipped.items():
        assert expected[source] in reason, (source, reason)
    assert skipped["noface.mp4"].startswith("no face in 5 of 5 checked frames")
    assert report["kept_count"] == 3 and report["skipped_count"] == 4 and report["videos"] == 7
    assert report["skipped"] == manifest["skipped"]
    notes = {c["source"]: c["notes"] for c in report["kept"]}
    assert notes["anna/talk.mp4"] == [] and any("variable frame rate" in n for n in notes["vfr.mkv"])
    text = (root / "set" / "report.txt").read_text()
    assert "7 videos: 3 kept, 4 skipped" in text and "skipped silent.mp4: no audio track" in text
    assert json.loads((root / "set" / "report.json").read_text()) == report


def test_labels_from_folders_and_identities_from_the_top_folder(prepared):
    root, _, _ = prepared
    ds = MotionDataset(str(root / "set"))
    labels = {c["source"]: (c["identity"], c["emotion"]) for c in ds.clips}
    assert labels == {"anna/talk.mp4": ("anna", None), "ben/happy/talk.mp4": ("ben", "happy"), "vfr.mkv": ("vfr", None)}


def test_motion_and_audio_are_aligned_frame_for_frame(prepared, networks):
    root, _, _ = prepared
    ds = MotionDataset(str(root / "set"))
    frames = {c["source"]: c["num_frames"] for c in ds.clips}
    # anna: 3.0 s at 25 fps; vfr.mkv: sound from 0.046 s to the last picture's end at 2.38 s -> ceil(2.334 * 25)
    assert frames == {"anna/talk.mp4": 75, "ben/happy/talk.mp4": 55, "vfr.mkv": 59}
    for i, clip in enumerate(ds.clips):
        data = ds.load(i)
        n = clip["num_frames"]
        assert data.motion.shape == (n, 70) and data.kp_canonical.shape == (n, 21, 3)
        assert data.audio.shape == (n, networks["encoder"].dim) and ds.audio_dim == networks["encoder"].dim
    anna = ds.load([c["source"] for c in ds.clips].index("anna/talk.mp4"))
    speech = fit_audio_to_frames(load_audio_file(os.fspath(fixture_path(*SPEECH))), 75, 25)
    reference = encode_audio(speech, networks["encoder"], 25).features[0]  # the speech before AAC coding

    def corr(x, y):
        x, y = x - x.mean(0), y - y.mean(0)
        return float((x * y).sum() / (x.norm() * y.norm()))

    assert corr(anna.audio, reference) > 0.98
    assert corr(anna.audio[1:], reference[:-1]) < 0.9 and corr(anna.audio[:-1], reference[1:]) < 0.9


def test_motion_is_the_extractor_on_one_fixed_portrait_crop_per_video(prepared, networks):
    root, _, _ = prepared
    with av.open(os.fspath(root / "videos" / "anna" / "talk.mp4")) as container:
        frames = torch.from_numpy(np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]))
    images = frames.float() / 255
    faces = networks["detector"].detect(images[::10])  # 2.5 checks per second at 25 fps
    median = torch.stack([f.landmarks[0, :, :2] for f in faces]).float().median(0).values
    matrix = crop_matrix(median[None], networks["detector"].layout, CropConfig())
    crops = network_crops(images.permute(0, 3, 1, 2), matrix.expand(75, 3, 3), CropConfig())
    kp, motion = networks["renderer"].extract_motion(crops)
    ds = MotionDataset(str(root / "set"))
    anna = ds.load([c["source"] for c in ds.clips].index("anna/talk.mp4"))
    torch.testing.assert_close(anna.motion, motion, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(anna.kp_canonical, kp, atol=1e-4, rtol=1e-4)


def test_statistics_agree_with_the_shards(prepared):
    root, _, _ = prepared
    ds = MotionDataset(str(root / "set"))
    clips = [ds.load(i) for i in range(len(ds))]
    motion = torch.cat([c.motion for c in clips]).double()
    assert ds.num_frames == motion.shape[0] == 75 + 55 + 59
    torch.testing.assert_close(ds.statistics["exp_mean"].double(), motion[:, :63].mean(0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ds.statistics["pose_std"].double(), motion[:, 63:].std(0, unbiased=False), atol=1e-6,
                               rtol=1e-4)
    for clip in clips:  # one clip per identity here: the identity mean is the clip's mean
        torch.testing.assert_close(clip.pose_mean.double(), clip.motion[:, 63:].double().mean(0), atol=1e-6, rtol=1e-5)
    within = torch.cat([c.motion[:, 63:].double() - c.motion[:, 63:].double().mean(0) for c in clips])
    torch.testing.assert_close(ds.statistics["pose_std_identity"].double(), within.square().mean(0).sqrt(), atol=1e-6,
                               rtol=1e-4)


class Untouchable:
    """A renderer / detector stand-in that fails when a resumed run tries to do any work."""

    device = torch.device("cpu")

    def __getattr__(self, name):
        raise AssertionError(f"a finished data set was prepared again ({name} used)")


def test_a_second_run_does_no_work_and_keeps_the_clips(prepared, networks):
    root, _, first = prepared
    before = json.loads((root / "set" / "manifest.json").read_text())
    report = prepare_dataset(str(root / "videos"), str(root / "set"), Untouchable(), networks["encoder"],
                             emotion_labels="folders", detector=Untouchable(), motion_extractor="tiny@0")
    after = json.loads((root / "set" / "manifest.json").read_text())
    assert after["clips"] == before["clips"] and after["skipped"] == before["skipped"]
    assert after["statistics"] == before["statistics"]
    assert report["already_done"] == 7 and report["frames_processed"] == 0 and report["kept"] == first["kept"]

    retried = prepare_dataset(str(root / "videos"), str(root / "set"), Untouchable(), networks["encoder"],
                              emotion_labels="folders", detector=networks["detector"], motion_extractor="tiny@0",
                              retry_skipped=True)  # no face in noface.mp4 again: the renderer is never needed
    assert retried["already_done"] == 3 and retried["frames_processed"] == 50  # noface.mp4: 2.0 s decoded again
    reasons = {s["source"]: s["reason"] for s in first["skipped"]}
    assert {s["source"]: s["reason"] for s in retried["skipped"]} == reasons
    assert json.loads((root / "set" / "manifest.json").read_text())["clips"] == before["clips"]


def test_labels_from_a_csv_through_the_command_line(networks, tmp_path, capsys):
    from playmate_core import cli

    videos = tmp_path / "videos"
    speech = load_audio_file(os.fspath(fixture_path(*SPEECH)))
    write_video(videos / "s01" / "a.mp4", decoded_frames(fixture_path(*DRIVING), 256)[:50], audio=speech)  # 2 s
    (videos / "labels.csv").write_text("path,emotion,identity\ns01/a.mp4,Sad,speaker-7\n")
    code = cli.main(["train", "prepare", str(videos), str(tmp_path / "set"), "--renderer", networks["lp"],
                     "--audio-encoder", networks["w2v"], "--emotion-labels", str(videos / "labels.csv"),
                     "--identity", "csv", "--device", "cpu"])
    assert code == 0
    assert "1 videos: 1 kept, 0 skipped" in capsys.readouterr().out
    ds = MotionDataset(str(tmp_path / "set"))
    assert (ds.clips[0]["identity"], ds.clips[0]["emotion"]) == ("speaker-7", "sad")
    assert ds.motion_extractor.startswith("motion_extractor.safetensors@")
    assert len(ds.motion_extractor.split("@")[1]) == 12

    (videos / "labels.csv").write_text("path,emotion\ns01/a.mp4,joyful\n")
    with pytest.raises(LabelError, match=r"labels.csv line 2 \(s01/a.mp4\): unknown "
                                         r"emotion label 'joyful'; valid labels: neutral"):
        prepare_dataset(str(videos), str(tmp_path / "other"), Untouchable(), networks["encoder"],
                        emotion_labels=str(videos / "labels.csv"), detector=Untouchable())
    with pytest.raises(LabelError, match="identity=csv needs --emotion-labels"):
        prepare_dataset(str(videos), str(tmp_path / "other"), Untouchable(), networks["encoder"], identity="csv",
                        detector=Untouchable())


def chunks_of(times: list[float]):
    frames = torch.arange(len(times), dtype=torch.uint8).reshape(-1, 1, 1, 1).expand(-1, 2, 2, 3)
    return [FrameChunk(frames[i:i + 3], torch.tensor(times[i:i + 3], dtype=torch.float64))
            for i in range(0, len(times), 3)]


def test_frames_are_picked_by_timestamp():
    # pictures at 0, 30, 80, 110, 160, 190 ms (variable rate); output at 25 fps = every 40 ms from 0
    times = [0.0, 0.03, 0.08, 0.11, 0.16, 0.19]
    picked = torch.cat(list(frames_at_rate(chunks_of(times), 25.0, 6, batch=4)))[:, 0, 0, 0].tolist()
    # 0 ms -> #0, 40 -> #1 (30), 80 -> #2, 120 -> #3 (110), 160 -> #4, 200 -> #5 (190)
    assert picked == [0, 1, 2, 3, 4, 5]
    shifted = torch.cat(list(frames_at_rate(chunks_of(times), 25.0, 4, start=0.05)))[:, 0, 0, 0].tolist()
    assert shifted == [1, 2, 3, 4]  # 50, 90, 130, 170 ms
    thirty = torch.cat(list(frames_at_rate(chunks_of([k / 30 for k in range(9)]), 25.0, 7)))[:, 0, 0, 0].tolist()
    assert thirty == [0, 1, 2, 3, 4, 6, 7]  # 30 fps -> 25 fps drops one picture in six
    with pytest.raises(SkipVideo, match="truncated video: pictures end at 0.19 s but the file says 0.80 s"):
        list(frames_at_rate(chunks_of(times), 25.0, 20))


def test_renderer_frames_are_the_fixed_512_crops_of_evenly_spaced_frames(networks, tmp_path):
    from playmate_core.face.crop import sample_crops
    from playmate_core.train.dataset import DatasetError
    from playmate_core.train.renderer_data import FramePairSampler, decode_frame, kept_frame_indices

    faces = decoded_frames(fixture_path(*DRIVING), 256)
    write_video(tmp_path / "videos" / "anna" / "talk.mp4", faces,
                audio=load_audio_file(os.fspath(fixture_path(*SPEECH))))
    prepare_dataset(str(tmp_path / "videos"), str(tmp_path / "set"), networks["renderer"], networks["encoder"],
                    detector=networks["detector"], motion_extractor="tiny@0", renderer_frames=4)
    ds = MotionDataset(str(tmp_path / "set"))
    assert ds.clips[0]["renderer_frames"] == 4
    handle = ds._shard(ds.clips[0]["shard"])
    index = handle.get_tensor("c000000.frames_index").tolist()
    assert index == kept_frame_indices(75, 4) == [0, 25, 49, 74]
    # the same fixed crop as the motion: recompute it from the decoded video
    with av.open(os.fspath(tmp_path / "videos" / "anna" / "talk.mp4")) as container:
        images = torch.from_numpy(np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]))
    images = images.permute(0, 3, 1, 2).float() / 255
    found = networks["detector"].detect(images[::10].permute(0, 2, 3, 1))
    median = torch.stack([f.landmarks[0, :, :2] for f in found]).float().median(0).values
    matrix = crop_matrix(median[None], networks["detector"].layout, CropConfig())
    expected = sample_crops(images[index], matrix.expand(4, 3, 3), 512).clamp(0, 1)
    jpeg, offsets = handle.get_tensor("c000000.frames_jpeg"), handle.get_tensor("c000000.frames_offset")
    stored = torch.stack([decode_frame(jpeg, offsets, k) for k in range(4)])
    assert stored.shape == (4, 3, 512, 512)
    assert float((stored - expected).abs().mean()) < 0.01  # JPEG quality 95
    pairs = FramePairSampler(ds).sample(2, torch.Generator().manual_seed(0))
    assert pairs.crop_i.shape == (2, 3, 256, 256) and pairs.target_j.shape == (2, 3, 512, 512)
    # the networks' input derived from the stored crop is the motion's input (up to JPEG)
    motion = networks["renderer"].extract_motion(network_crops(images[index], matrix.expand(4, 3, 3), CropConfig()))[1]
    torch.testing.assert_close(ds.load(0).motion[index], motion, atol=1e-4, rtol=1e-4)
    with pytest.raises(DatasetError, match="renderer_frames: folder 4, now 8"):
        prepare_dataset(str(tmp_path / "videos"), str(tmp_path / "set"), networks["renderer"], networks["encoder"],
                        detector=networks["detector"], motion_extractor="tiny@0", renderer_frames=8)
