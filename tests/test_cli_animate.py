"""`python -m playmate_core animate` end to end on tiny weights written under the public names into a models
folder, on a real portrait and real speech; the pipeline against the node graph; the errors users meet."""

from __future__ import annotations

import math
import os
import re
import wave

import av
import numpy as np
import pytest
import torch
from PIL import Image

import audio_weights as AW
from conftest import fixture_path
from lp_weights import random_official_states, write_official_layout, write_tiny_kijai_set
from motion_weights import write_joyvasa_release, write_playmate_pair
from playmate_core.audio import load_audio_file
from playmate_core.cli import main as cli_main
from playmate_core.implicit.checkpoints import NETWORKS
from playmate_core.implicit.config import RendererConfig
from playmate_core.motion.emotion_schedule import build_emotion
from playmate_core.motion.generation import generate_motion
from playmate_core.pipeline import MissingModelsError, ModelPaths, TalkingHeadPipeline, default_encoder_for

FPS = 25


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A models folder in the host layout: tiny LivePortrait set, JoyVASA's two public files (with an embedded
    HuBERT, no transformer layers), a tiny Playmate stage-1 + stage-2 pair trained on HuBERT features and a HuBERT
    (768 wide) under chinese-hubert-base for it."""
    root = tmp_path_factory.mktemp("models")
    write_tiny_kijai_set(root / "liveportrait")
    write_tiny_kijai_set(root / "liveportrait" / "animal", seed=1)
    config = AW.tiny_hf_config("hubert", layers=1)
    config.update(hidden_size=768, num_attention_heads=4)
    AW.write_hf_folder(str(root / "audio_encoders" / "chinese-hubert-base"), config, AW.hf_state_dict(config, seed=1),
                       "pytorch_model.bin", do_normalize=False)
    write_joyvasa_release(root / "playmate")
    write_playmate_pair(root / "playmate")
    return root


def speech_clip(folder, seconds: float) -> str:
    """The first seconds of the English speech test clip as a 16-bit WAV."""
    audio = load_audio_file(str(fixture_path("media", "audio", "en_3s_22k_mono.wav")))
    rate = audio["sample_rate"]
    samples = audio["waveform"][0, 0, : int(round(seconds * rate))].numpy()
    path = os.path.join(folder, f"speech_{seconds:g}s.wav")
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def probe(path):
    with av.open(path) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        (width, height) = (video.codec_context.width, video.codec_context.height)
    with av.open(path) as container:
        audio = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(audio))
        rate = audio.rate
    return frames, width, height, samples / rate


def portrait_path():
    return str(fixture_path("media", "portraits", "astronaut_512x512.png"))


def animate(models, *extra, steps: str | None = "3"):
    return cli_main(["animate", "--models-dir", str(models), "--device", "cpu", "--precision", "fp32",
                     *(["--steps", steps] if steps else []), *extra])


def test_animate_end_to_end_with_the_default_public_models(models, tmp_path, capsys, monkeypatch):
    """Defaults everywhere: JoyVASA with its embedded HuBERT (never the stock chinese-hubert-base, which is here
    for the Playmate pair and is made unreadable), its 50 ancestral steps and the app's audio guidance 4.0."""
    monkeypatch.setattr("playmate_core.pipeline.load_audio_encoder",
                        lambda *a, **k: pytest.fail("animate loaded a stock audio encoder for JoyVASA"))
    audio = speech_clip(tmp_path, 1.0)
    out = tmp_path / "out" / "talking.mp4"
    assert animate(models, "--portrait", portrait_path(), "--audio", audio, "--out", str(out), "--seed", "3",
                   steps=None) == 0
    with wave.open(audio) as clip:
        duration = clip.getnframes() / clip.getframerate()
    frames, width, height, audio_seconds = probe(str(out))
    assert frames == math.ceil(duration * FPS) == 25
    assert (width, height) == (512, 512)  # the 512x512 photo, pasted back; even sides
    assert abs(audio_seconds - frames / FPS) < 0.03  # AAC frames round the end up by at most one 1024-sample packet
    assert os.listdir(out.parent) == ["talking.mp4"]  # the temporary file was renamed, nothing else left
    captured = capsys.readouterr()
    assert f"wrote {out}: 25 frames at 25 fps" in captured.out and "render" in captured.out
    assert ("audio features: motion_generator_hubert_chinese.pt's embedded HuBERT; motion model "
            "'motion_generator_hubert_chinese.pt' (joyvasa): 50 steps (the model's own), audio_cfg 4 (the model's own)"
            in captured.err)
    for stage in ("portrait", "audio", "motion", "render"):
        assert stage in captured.err  # a progress line per stage on stderr


def test_pipeline_gives_the_node_graphs_motion_with_emotion_schedule_and_driving_pose(pack, models, tmp_path,
                                                                                       monkeypatch):
    """Same files, seed and settings: pipeline.animate and the node graph produce identical motion."""
    monkeypatch.setenv("PLAYMATE_MODELS_DIR", str(models))
    audio, video = speech_clip(tmp_path, 0.4), str(fixture_path("media", "video", "driving_astronaut_3s_25fps_512.mp4"))
    pipe = TalkingHeadPipeline.from_files(str(models), motion_model="playmate_motion.safetensors",
                                          emotion_model="playmate_emotion.safetensors", device="cpu", precision="fp32")
    result = pipe.animate(portrait_path(), audio, str(tmp_path / "pipe.mp4"), emotion="happy",
                          emotion_schedule="0 0.2 sad", pose_video=video, seed=11, steps=3)
    assert result.num_frames == 10 and result.pose_report and set(result.seconds) >= {"portrait", "pose", "render"}

    n = pack.NODE_CLASS_MAPPINGS
    (renderer,) = n["PlaymateLoadLivePortrait"]().load(*[f"{name}.safetensors" for name in NETWORKS], "fp32", "cpu",
                                                       False)
    image = torch.from_numpy(np.asarray(Image.open(portrait_path()).convert("RGB"), np.float32) / 255)[None]
    portrait, _, _ = n["PlaymateLoadPortrait"]().load(image, 0, 2.3, 0.0, -0.125, True, "auto")
    (source,) = n["PlaymateExtractKeypoints"]().extract(renderer, portrait)
    (encoder,) = n["PlaymateLoadAudioEncoder"]().load("chinese-hubert-base", "fp32", "cpu", "auto")
    features, _, _ = n["PlaymateEncodeAudio"]().encode(load_audio_file(audio), encoder, 25.0, -1, 30.0)
    model, _ = n["PlaymateLoadMotionModel"]().load("playmate_motion.safetensors", "cpu", "fp32", "released",
                                                   "playmate_emotion.safetensors")
    (emotion,) = n["PlaymateEmotion"]().build("happy", 1.5, "none", 0.5, "0 0.2 sad")
    pose, _, _ = n["PlaymatePoseFromVideo"]().estimate(renderer, "auto", 0.3, "loop", 25.0, 25.0, video=video,
                                                      audio_features=features)
    (motion,) = n["PlaymateMotionSampler"]().sample(model, source, features, 3, 1.5, 1.5, 11, 0.2, emotion=emotion,
                                                     pose=pose)
    torch.testing.assert_close(result.motion.motion, motion.motion, rtol=0, atol=1e-5)
    # the emotion reaches the motion: another label gives another expression
    sad = pipe.generate(source, features, seed=11, steps=3, emotion=build_emotion("sad", 1.5), pose=pose)
    assert (sad.motion[..., :63] - motion.motion[..., :63]).abs().max() > 1e-3


def test_emotion_and_pose_flags_through_the_cli(models, tmp_path, capsys):
    out = tmp_path / "emotion.mp4"
    video = str(fixture_path("media", "video", "driving_astronaut_3s_25fps_512.mp4"))
    assert animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.4), "--out", str(out),
                   "--motion-model", "playmate_motion.safetensors", "--emotion-model", "playmate_emotion.safetensors",
                   "--emotion", "happy", "--emotion-schedule", "0 0.2 sad; 0.2 0.4 happy+surprised@0.5",
                   "--pose-video", video, "--no-paste-back") == 0
    frames, width, height, _ = probe(str(out))
    assert (frames, width, height) == (10, 512, 512)
    assert "pose" in capsys.readouterr().err


def test_emotion_with_joyvasa_says_what_to_train_and_choose(models, tmp_path, capsys):
    code = animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.4), "--out",
                   str(tmp_path / "x.mp4"), "--emotion", "happy")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--emotion needs a Playmate motion model with a trained emotion controller" in err
    assert "--motion-model playmate_motion.safetensors --emotion-model playmate_emotion.safetensors" in err
    code = animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.4), "--out",
                   str(tmp_path / "x.mp4"), "--emotion-schedule", "0 1 happy",
                   "--motion-model", "playmate_motion.safetensors")  # stage 1 alone: no controller
    err = capsys.readouterr().err
    assert code == 2 and "--motion-model playmate_motion.safetensors (playmate) has none" in err
    assert not (tmp_path / "x.mp4").exists()


def test_missing_models_are_listed_with_the_download_command(tmp_path, capsys):
    empty = tmp_path / "models"
    empty.mkdir()
    code = animate(empty, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.4), "--out",
                   str(tmp_path / "x.mp4"), "--no-download")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    for path in (empty / "liveportrait" / "warping_module.safetensors",
                 empty / "playmate" / "motion_generator_hubert_chinese.pt", empty / "playmate" / "motion_template.pkl"):
        assert str(path) in err
    assert "huggingface.co/Kijai/LivePortrait_safetensors" in err
    assert "hubert-base" not in err and "audio_encoders" not in err  # JoyVASA brings its own encoder
    assert f"python -m playmate_core download --models-dir {empty} --only liveportrait,joyvasa" in err


def test_missing_public_models_are_fetched_first_then_the_video_is_made(models, tmp_path, monkeypatch, capsys):
    import shutil

    import playmate_core.model_commands as model_commands

    empty = tmp_path / "models"
    asked = []

    def fake_download(args):  # stands in for the network: the files arrive in the host layout
        asked.append(args.only)
        shutil.copytree(models, args.models_dir, dirs_exist_ok=True)
        return 0

    monkeypatch.setattr(model_commands, "run_download", fake_download)
    out = tmp_path / "fetched.mp4"
    code = animate(empty, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out", str(out))
    assert code == 0 and out.is_file(), capsys.readouterr().err
    assert asked == ["liveportrait,joyvasa"]


def test_missing_public_models_offline_list_each_failed_download(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on: connection refused, like a machine without internet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PLAYMATE_HF_ENDPOINT", f"http://127.0.0.1:{port}")
    empty = tmp_path / "models"
    code = animate(empty, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out",
                   str(tmp_path / "x.mp4"))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and not (tmp_path / "x.mp4").exists()
    assert "fetching the missing public models (liveportrait, joyvasa)" in err
    assert "could not be downloaded" in err and "motion_generator_hubert_chinese.pt" in err
    assert str(empty / "liveportrait") in err


def test_default_encoder_follows_the_motion_models_training(tmp_path):
    """A Playmate model trained on wav2vec2 features asks for wav2vec2-base-960h (read from its header)."""
    write_playmate_pair(tmp_path / "playmate", audio_dim=768, audio_encoder="wav2vec2")
    with pytest.raises(MissingModelsError) as info:
        ModelPaths.locate(str(tmp_path), motion_model="playmate_motion.safetensors")
    assert info.value.groups == ["liveportrait", "wav2vec2"]
    assert str(tmp_path / "audio_encoders" / "wav2vec2-base-960h" / "config.json") in str(info.value)
    assert default_encoder_for(str(tmp_path / "playmate" / "motion_generator_hubert_chinese.pt")) is None  # its own


def test_liveportrait_set_elsewhere_in_the_official_layout(models, tmp_path):
    base = write_official_layout(random_official_states(RendererConfig.tiny()), tmp_path / "LivePortrait")
    paths = ModelPaths.locate(str(models), liveportrait=str(base))
    assert paths.renderer.layout == "official" and paths.audio_encoder is None  # JoyVASA's embedded HuBERT
    empty = tmp_path / "empty"
    (empty / "playmate").mkdir(parents=True)
    with pytest.raises(MissingModelsError) as info:  # no <models>/liveportrait needed, the rest still listed
        ModelPaths.locate(str(empty), liveportrait=str(base))
    assert info.value.groups == ["joyvasa"]


def test_no_face_and_unreadable_audio_are_one_line_errors(models, tmp_path, capsys):
    audio = speech_clip(tmp_path, 0.4)
    rocket = str(fixture_path("media", "portraits", "noface_rocket_640x427.png"))
    assert animate(models, "--portrait", rocket, "--audio", audio, "--out", str(tmp_path / "a.mp4")) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: no face found in the image")
    assert sum(line.startswith("error") for line in err) == 1
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    assert animate(models, "--portrait", portrait_path(), "--audio", str(bad), "--out", str(tmp_path / "b.mp4")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and "could not be opened" in err and err.count("\n") == 1
    assert not any(name.endswith(".mp4") for name in os.listdir(tmp_path))


def test_emotion_reference_through_the_cli_with_joyvasa(models, tmp_path, capsys, monkeypatch):
    """--emotion-reference needs no controller: the motion the render gets carries the reference's offset, lips kept."""
    import playmate_core.pipeline as pipeline

    sampled = []
    monkeypatch.setattr(pipeline, "generate_motion",
                        lambda *a, **k: sampled.append(generate_motion(*a, **k)) or sampled[-1])
    hopper = str(fixture_path("media", "portraits", "grace_hopper_512x600.png"))
    out = tmp_path / "reference.mp4"
    assert animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out", str(out),
                   "--emotion-reference", hopper, "--emotion-strength", "0.8", "--no-paste-back") == 0
    assert probe(str(out))[:3] == (5, 512, 512)
    offset = sampled[-1].expression_offset.reshape(1, 5, 21, 3)
    assert offset[:, :, [6, 12, 14, 17, 19, 20]].abs().max() == 0 and offset.abs().max() > 0
    torch.testing.assert_close(offset[0, 0], offset[0, -1], rtol=0, atol=0)  # one reference, the whole clip
    rocket = str(fixture_path("media", "portraits", "noface_rocket_640x427.png"))
    cases = [(["--emotion-reference", hopper, "--emotion-schedule", "0 0.1 ref2"],
              "emotion schedule line 1 ('0 0.1 ref2') names ref2 but"),
             (["--emotion-reference", rocket], "--emotion-reference image 1 of 1 (ref1): no face found"),
             (["--emotion-reference", str(tmp_path / "missing.png")], "missing.png does not exist"),
             (["--emotion-reference", hopper, "--emotion", "happy"], "labels other than neutral cannot apply")]
    for extra, message in cases:
        code = animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out",
                       str(tmp_path / "x.mp4"), *extra)
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err


def rocket_path():
    """640x427, no face in it: only the detector-free crop modes can use it."""
    return str(fixture_path("media", "portraits", "noface_rocket_640x427.png"))


def test_animate_crop_whole_and_box_need_no_face(models, tmp_path, capsys):
    audio = speech_clip(tmp_path, 0.2)
    whole = tmp_path / "whole.mp4"
    assert animate(models, "--portrait", rocket_path(), "--audio", audio, "--out", str(whole), "--crop", "whole",
                   "--liveportrait", str(models / "liveportrait" / "animal")) == 0, capsys.readouterr().err
    frames, width, height, _ = probe(str(whole))
    assert (frames, width, height) == (5, 640, 426)  # pasted back into the photo, even sides
    box = tmp_path / "box.mp4"
    assert animate(models, "--portrait", rocket_path(), "--audio", audio, "--out", str(box), "--crop", "box",
                   "--box", "200,50,456,306", "--letterbox", "--no-paste-back") == 0, capsys.readouterr().err
    assert probe(str(box))[:3] == (5, 512, 512)
    code = animate(models, "--portrait", portrait_path(), "--audio", audio, "--out", str(tmp_path / "x.mp4"))
    assert code == 0  # the default stays the face detector's crop


@pytest.mark.parametrize("flags,message", [
    (["--crop", "box"], "--crop box needs --box X0,Y0,X1,Y1"),
    (["--crop", "box", "--box", "1,2,3"], "--box '1,2,3' must be four whole pixel numbers"),
    (["--box", "0,0,100,100"], r"--box is used only with --crop box \(got --crop face\)"),
    (["--crop", "box", "--box", "600,0,700,100"], r"box \(600, 0, 700, 100\) reaches outside the 640x427 image"),
    (["--crop", "box", "--box", "0,0,50,300"], r"box \(0, 0, 50, 300\) is 50x300 px; the crop needs at least 64 px"),
])
def test_bad_crop_flags_are_named(models, tmp_path, capsys, flags, message):
    code = animate(models, "--portrait", rocket_path(), "--audio", speech_clip(tmp_path, 0.2), "--out",
                   str(tmp_path / "x.mp4"), *flags)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("flag, expected",
                         [((), "app"), (("--motion-mode", "cli"), "cli"), (("--motion-mode", "pack"), None)])
def test_animate_applies_joyvasa_motion_in_the_official_app_mode_by_default(models, tmp_path, monkeypatch, flag,
                                                                            expected):
    import playmate_core.render.frames as frames

    used = []
    official = frames.official_keypoints

    def spy(renderer, source, row, motion, motion_row, mode, stages=None):
        used.append(mode)
        return official(renderer, source, row, motion, motion_row, mode, stages)

    monkeypatch.setattr(frames, "official_keypoints", spy)
    out = tmp_path / "mode.mp4"
    assert animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out", str(out),
                   *flag) == 0
    assert used == ([expected] if expected else [])


def test_stock_hubert_for_joyvasa_is_refused_before_anything_is_fetched(models, tmp_path, capsys):
    code = animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.2), "--out",
                   str(tmp_path / "x.mp4"), "--audio-encoder", "chinese-hubert-base")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "fetching" not in err and not (tmp_path / "x.mp4").exists()
    assert ("audio_encoder 'chinese-hubert-base': JoyVASA (motion_generator_hubert_chinese.pt) is driven by the HuBERT "
            "embedded in its own file") in err and "drop --audio-encoder" in err


def test_compile_without_a_compiler_says_why_and_renders_uncompiled(models, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr("shutil.which", lambda name: None)
    out = tmp_path / "compiled.mp4"
    with caplog.at_level("WARNING", logger="playmate"):
        assert animate(models, "--portrait", portrait_path(), "--audio", speech_clip(tmp_path, 0.4), "--out", str(out),
                       "--compile") == 0
    assert out.exists()
    assert any("--compile: no C++ compiler was found" in r.getMessage() and "without compilation" in r.getMessage()
               for r in caplog.records)


def test_an_unavailable_device_names_the_flag_and_the_choices(models, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert cli_main(["animate", "--models-dir", str(models), "--device", "cuda", "--portrait", portrait_path(),
                     "--audio", speech_clip(tmp_path, 0.4), "--out", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "error: --device 'cuda' is not available on this machine; available: auto, cpu" in err
    assert "Torch not compiled" not in err
