"""ComfyUI-style input and models folders for end-to-end runs: the pack's example inputs, and tiny weights
under the public model file names.

    input/playmate_portrait.jpg, playmate_portrait_2.jpg, playmate_driving.mp4, playmate_speech.flac,
          playmate_long_speech.flac (the speech cut short),
          playmate_animal.jpg (a cat)

A models folder with tiny weights under the public file names, for end-to-end runs.

    models/liveportrait/{appearance_feature_extractor,...}.safetensors      Kijai's layout (tests/lp_weights.py)
    models/liveportrait/animal/...                                          the same, another seed (the animal set)
    models/audio_encoders/wav2vec2-base-960h/                               HF folder (tests/audio_weights.py)
    models/playmate/motion_generator_hubert_chinese.pt + motion_template.pkl JoyVASA's released pickle format
    models/playmate/playmate_motion.safetensors + playmate_emotion.safetensors  Playmate stage 1 + stage 2

The JoyVASA file is written with tests/joyvasa_standin.py's key layout and value rules,
with a small denoiser (the loader reads the architecture from the file) and a small embedded HuBERT
(``audio_encoder.*``, tests/audio_weights.py's one-layer 128-wide model). There is no chinese-hubert-base:
JoyVASA runs on its own encoder, so a graph or command that asks for the stock one fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

import joyvasa_standin as mc
from audio_weights import hf_state_dict, tiny_hf_config, write_hf_folder
from conftest import FIXTURES_DIR
from lp_weights import write_tiny_kijai_set
from playmate_core.checkpoint.io import read_safetensors
from playmate_core.motion.checkpoint import load_motion_model, save_emotion_controller, save_motion_model, stage1_sha256
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel

AUDIO_DIM = 128  # tiny_hf_config's hidden size
TINY_JOYVASA = {"feature_dim": 32, "n_layers": 1}
ANIMAL_SEED = 1
ANIMAL_PHOTO = Path(__file__).resolve().parent / "fixtures" / "animal" / "chelsea_451x300.jpg"


def write_tiny_joyvasa_release(folder: Path, fixture_dir: Path = FIXTURES_DIR / "joyvasa",
                               name: str = "motion_generator_hubert_chinese.pt") -> Path:
    """{'args', 'model', 'iter'} as the released file, plus the fixture's motion_template.pkl beside it."""
    dit = dict(mc.DIT, **TINY_JOYVASA)
    hubert = dict(mc.hubert_config(0), hidden_size=AUDIO_DIM)
    state = {}
    for key, shape, dtype, canonical in mc.dit_entries(hubert, "parametrizations", dit):
        if not key.startswith("audio_encoder."):
            state[key] = mc.value_for(key, canonical, shape, dtype, 0, dit)
    embedded = hf_state_dict(tiny_hf_config("hubert", layers=1), seed=2, weight_norm="parametrizations")
    state.update({"audio_encoder." + k: v for k, v in embedded.items()})
    args = mc.released_args()
    args.feature_dim = dit["feature_dim"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save({"args": args, "model": state, "iter": mc.ITER}, path)
    shutil.copyfile(fixture_dir / "motion_template.pkl", folder / "motion_template.pkl")
    return path


def write_tiny_playmate(stage1: Path, stage2: Path, seed: int = 0) -> tuple[Path, Path]:
    """A stage-1 file and the stage-2 emotion controller trained on it (random, non-zero controller weights)."""
    torch.manual_seed(seed)
    stage1.parent.mkdir(parents=True, exist_ok=True)
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=AUDIO_DIM)), str(stage1))
    model = load_motion_model(str(stage1))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(("emotion_tokens", "emotion_controller.")):
                parameter.copy_(torch.randn_like(parameter) * 0.2)
    save_emotion_controller(model, str(stage2), stage1_sha256(read_safetensors(str(stage1))[0]), stage1.name)
    return stage1, stage2


def write_models_folder(root: Path, joyvasa_fixture: Path = FIXTURES_DIR / "joyvasa") -> Path:
    """Every model the example workflows name, tiny, in their public places."""
    write_tiny_kijai_set(root / "liveportrait")
    write_tiny_kijai_set(root / "liveportrait" / "animal", seed=ANIMAL_SEED)
    config = tiny_hf_config("wav2vec2")
    write_hf_folder(str(root / "audio_encoders" / "wav2vec2-base-960h"), config, hf_state_dict(config, seed=1),
                    do_normalize=True)
    write_tiny_joyvasa_release(root / "playmate", joyvasa_fixture)
    write_tiny_playmate(root / "playmate" / "playmate_motion.safetensors",
                        root / "playmate" / "playmate_emotion.safetensors")
    return root


def write_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit mono FLAC (PyAV)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")[None]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


def write_input_media(folder: Path, speech_seconds: float, long_seconds: float) -> Path:
    """The pack's example inputs (example_inputs/) as the host's input folder, the speech clips cut to length."""
    from conftest import REPO_ROOT
    from core_nodes import decode_audio

    folder.mkdir(parents=True, exist_ok=True)
    examples = REPO_ROOT / "example_inputs"
    for path in examples.iterdir():
        if path.suffix != ".md":
            shutil.copyfile(path, folder / path.name)
    for name, seconds in (("playmate_speech.flac", speech_seconds), ("playmate_long_speech.flac", long_seconds)):
        waveform, rate = decode_audio(str(examples / name))
        write_flac(folder / name, waveform.mean(0).numpy()[: int(seconds * rate)], rate)
    return folder
