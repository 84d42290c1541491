"""The one config mechanism (playmate_core.config): every shipped JSON config and every preset round-trips, the
layout on disk is the one earlier versions wrote, and bad files fail naming the file and the key."""

import dataclasses
import glob
import json
import os

import pytest

from lp_weights import random_official_states, write_official_layout
from playmate_core.config import Config, ConfigError
from playmate_core.implicit.checkpoints import convert_renderer
from playmate_core.implicit.config import RendererConfig
from playmate_core.motion.checkpoint import load_motion_model, save_motion_model
from playmate_core.motion.models.joyvasa import JoyVASAConfig
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from playmate_core.train.config import CONFIG_DIR, TrainConfig, load_train_config
from playmate_core.train.renderer_config import RendererTrainConfig, load_renderer_config

SHIPPED = sorted(glob.glob(os.path.join(CONFIG_DIR, "*.json")))
PRESETS = {
    "renderer official": RendererConfig.official(),
    "renderer tiny": RendererConfig.tiny(),
    **{f"playmate {name}": PlaymateConfig.preset(name) for name in PlaymateConfig.PRESETS},
    "joyvasa release": JoyVASAConfig(),
    "train tiny": load_train_config("tiny"),
    "train base": load_train_config("base"),
    "train renderer": load_renderer_config("renderer"),
}
# what the previous version (FlatConfig.to_dict, sorted JSON) stored in a tiny Playmate file's "config" metadata
OLD_PLAYMATE_TINY_16 = (
    '{"audio_dim": 16, "audio_drop_prob": 0.1, "audio_encoder": "wav2vec2", "clip_sample": 8.0, "conv_kernel": 7, '
    '"dim": 64, "dropout": 0.0, "emotion_blocks": 2, "emotion_drop_prob": 0.1, "emotion_trained": false, "ff_mult": 2, '
    '"fps": 25.0, "head_hidden": 64, "heads": 4, "layers": 2, "num_prev": 8, "overlap": 2, "prev_noise_std": 0.1, '
    '"schedule": "cosine", "start_prob": 0.1, "train_steps": 100, "window": 32}')


def test_shipped_configs_are_all_known():
    assert [os.path.basename(p) for p in SHIPPED] == ["base.json", "renderer.json", "tiny.json"]


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_config_round_trips(path):
    kind = RendererTrainConfig if os.path.basename(path) == "renderer.json" else TrainConfig
    config = kind.from_json_file(path)
    with open(path, encoding="utf-8") as f:
        assert config.to_dict() == json.load(f)  # every key of the file, nothing added
    assert kind.from_dict(json.loads(json.dumps(config.to_dict())), path) == config


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_round_trips_with_the_old_layout(name):
    config = PRESETS[name]
    stored = json.dumps(config.to_dict(), sort_keys=True)
    assert stored == json.dumps(dataclasses.asdict(config), sort_keys=True)  # what earlier versions wrote
    assert type(config).from_dict(json.loads(stored), name) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1


def test_dataclass_defaults_are_the_presets():
    assert TrainConfig() == load_train_config("tiny")
    assert RendererTrainConfig() == load_renderer_config("renderer")
    assert RendererConfig() == RendererConfig.official()


def _write(tmp_path, name, values) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(values))
    return str(path)


def test_unknown_keys_name_the_file_and_the_key(tmp_path):
    values = {**load_train_config("tiny").to_dict(), "stage2": {"steps": 5, "learning_rate": 1e-3}}
    message = r"^mine\.json: stage2: unknown keys \['learning_rate'\]; valid keys: steps, lr$"
    with pytest.raises(ConfigError, match=message):
        load_train_config(_write(tmp_path, "mine.json", values))
    with pytest.raises(ConfigError, match=r"^mine\.json: model: unknown keys \['widht'\]"):
        load_train_config(_write(tmp_path, "mine.json", {"model": {"preset": "tiny", "widht": 3}}))
    with pytest.raises(ConfigError, match=r"^r\.json: unknown keys \['network'\]"):
        load_renderer_config(_write(tmp_path, "r.json", {"network": ["M"]}))
    cfg = RendererConfig.tiny().to_dict()
    cfg["warping"]["dense_motion"]["blocks"] = 3
    with pytest.raises(ConfigError, match=r"^lp\.safetensors: warping\.dense_motion: unknown keys \['blocks'\]"):
        RendererConfig.from_dict(cfg, "lp.safetensors")


def test_wrong_types_name_the_file_and_the_key(tmp_path):
    cases = [
        ({"batch_size": "16"}, r"batch_size must be int, got '16'"),
        ({"batch_size": 2.5}, r"batch_size must be int, got 2\.5"),
        ({"ema_decay": True}, r"ema_decay must be float, got True"),
        ({"optimizer": {"betas": [0.9]}}, r"optimizer\.betas must be a list of 2 values, got \[0\.9\]"),
        ({"optimizer": {"betas": [0.9, "x"]}}, r"optimizer\.betas\[1\] must be float, got 'x'"),
        ({"stage1": 5}, r"stage1: expected a JSON object, got int"),
        ({"model": "tiny"}, r"model must be a JSON object, got 'tiny'"),
        ({"model": {"preset": "tiny", "layers": "2"}}, r"model: layers must be int, got '2'"),
        ({"batch_size": 0}, r"batch_size must be at least 1, got 0"),
        ({"model": {"preset": "huge"}}, r"model needs a 'preset' \(one of tiny, base\)"),
    ]
    for values, message in cases:
        with pytest.raises(ConfigError, match=rf"^bad\.json: {message}"):
            load_train_config(_write(tmp_path, "bad.json", values))
    with pytest.raises(ConfigError, match=r"^bad\.json: not valid JSON"):
        (tmp_path / "bad.json").write_text("{")
        load_train_config(str(tmp_path / "bad.json"))
    with pytest.raises(ConfigError, match=r"^bad\.json: networks are letters among F"):
        load_renderer_config(_write(tmp_path, "bad.json", {"networks": ["X"]}))


def test_json_numbers_convert_to_the_field_type():
    config = TrainConfig.from_dict({"stage1": {"steps": 2e3, "lr": 1}, "ema_decay": 0})
    assert (config.stage1.steps, config.stage1.lr, config.ema_decay) == (2000, 1.0, 0.0)
    assert (type(config.stage1.steps), type(config.stage1.lr), type(config.ema_decay)) == (int, float, float)
    assert RendererTrainConfig.from_dict({"networks": ["W", "M", "M"]}).networks == ("M", "W")


def test_updated_merges_nested_changes_and_validates():
    config = load_train_config("tiny").updated({"stage1": {"steps": 7}, "batch_size": 2})
    assert (config.stage1.steps, config.stage1.lr, config.batch_size) == (7, 1e-3, 2)
    with pytest.raises(ConfigError, match=r"^--steps: stage1\.steps must be at least 1, got 0"):
        config.updated({"stage1": {"steps": 0}}, "--steps")


def test_motion_file_metadata_is_unchanged_and_old_files_load(tmp_path):
    config = PlaymateConfig.preset("tiny", audio_dim=16)
    path = tmp_path / "tiny.safetensors"
    save_motion_model(PlaymateMotionModel(config), str(path))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata()["config"] == OLD_PLAYMATE_TINY_16
    assert load_motion_model(str(path)).config == config


def test_motion_file_with_an_unknown_field_names_the_file(tmp_path):
    from safetensors.torch import load_file, save_file

    path = tmp_path / "newer.safetensors"
    save_motion_model(PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16)), str(path))
    config = {**json.loads(OLD_PLAYMATE_TINY_16), "rope": True}
    save_file(load_file(str(path)), str(path), metadata={"format": "playmate-motion", "format_version": "1",
                                                          "family": "playmate", "config": json.dumps(config)})
    with pytest.raises(ValueError, match=r"^newer\.safetensors \(its playmate config\): unknown keys \['rope'\].*"
                                         r"update the pack"):
        load_motion_model(str(path))


def test_liveportrait_single_file_config_round_trips(tmp_path):
    tiny = RendererConfig.tiny()
    source = write_official_layout(random_official_states(tiny), tmp_path / "official")
    out = tmp_path / "lp.safetensors"
    convert_renderer(str(source), str(out))
    from safetensors import safe_open

    with safe_open(str(out), "pt") as f:
        stored = f.metadata()["config"]
    assert stored == json.dumps(dataclasses.asdict(tiny))  # the layout earlier versions wrote
    assert RendererConfig.from_dict(json.loads(stored), "lp.safetensors") == tiny


def test_every_config_class_uses_the_one_mechanism():
    for config in PRESETS.values():
        assert isinstance(config, Config) and type(config).__dataclass_params__.frozen
