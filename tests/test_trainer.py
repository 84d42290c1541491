"""The training loop and the train command: resume equals an uninterrupted run, EMA, clipping, checkpoint metadata,
and the errors for mismatched inputs."""

import contextlib
import json
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

from playmate_core import cli
from playmate_core.checkpoint.io import read_safetensors
from playmate_core.motion.checkpoint import load_motion_model, save_motion_model
from playmate_core.motion.models.joyvasa import JoyVASAConfig, JoyVASAMotionModel
from playmate_core.motion.normalization import TemplateNormalizer
from playmate_core.train.config import TrainConfig, load_train_config
from playmate_core.train.dataset import MotionDataset
from playmate_core.train.stages import check_stage1_untouched, stage1_job, stage2_job
from playmate_core.train.trainer import Trainer, learning_rate, output_paths
from train_data import write_synthetic_set


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return {"talk": write_synthetic_set(root / "talk", identities=2, labels=(None,), clips_per_label=2, frames=45),
            "mead": write_synthetic_set(root / "mead", identities=2, labels=("happy", None), clips_per_label=1,
                                        frames=40, seed=3)}


def small_config(steps=6, **changes) -> TrainConfig:
    config = load_train_config("tiny").updated({
        "batch_size": 4, "stage1": {"steps": steps}, "stage2": {"steps": steps},
        "checkpoint_every": 3, "sample_every": 1000,  # samples only at the end (the slow part)
        "log_every": 1})
    return replace(config, **changes)


def run(config, data, out, resume=False, interrupt_at=None):
    job = stage1_job(config, MotionDataset(data["talk"]), str(out))
    if interrupt_at is not None:
        sample = job.sample

        def stop(model):  # after the checkpoint of that step, like a killed run
            if trainer.step == interrupt_at:
                raise Interrupted
            return sample(model)

        job.sample = stop
    trainer = Trainer(job, "cpu", log=lambda _: None)
    with pytest.raises(Interrupted) if interrupt_at is not None else contextlib.nullcontext():
        trainer.run(resume)
    return trainer


def test_resume_gives_the_same_weights_as_one_run(data, tmp_path):
    config = small_config(sample_every=3)
    run(config, data, tmp_path / "one.safetensors")
    run(config, data, tmp_path / "two.safetensors", interrupt_at=3)
    assert read_safetensors(str(tmp_path / "two.safetensors"))[1]["trained_steps"] == "3"
    run(config, data, tmp_path / "two.safetensors", resume=True)
    one, meta_one = read_safetensors(str(tmp_path / "one.safetensors"))
    two, meta_two = read_safetensors(str(tmp_path / "two.safetensors"))
    assert meta_two["trained_steps"] == "6"
    for key, value in one.items():
        assert torch.equal(value, two[key]), key
    # the log of the resumed run holds each step once, and the loss curve and samples exist
    paths = output_paths(str(tmp_path / "two.safetensors"))
    steps = [json.loads(line)["step"] for line in open(paths["log"])]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "two.loss.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "one.samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    with pytest.raises(ValueError, match="another training config"):
        run(small_config(ema_decay=0.5), data, tmp_path / "two.safetensors", resume=True)


def test_saved_model_is_the_ema_and_metadata_round_trips(data, tmp_path):
    config = small_config(steps=4)
    out = tmp_path / "m.safetensors"
    trainer = run(config, data, out)
    state = torch.load(output_paths(str(out))["state"], weights_only=True)
    saved = read_safetensors(str(out))[0]
    assert state["step"] == 4
    for key, ema in state["ema"].items():
        assert torch.equal(saved[key], ema), key
    assert any(not torch.equal(state["weights"][k], state["ema"][k]) for k in state["ema"])  # EMA lags the weights
    # with decay 0 the EMA is the weights themselves
    out0 = tmp_path / "m0.safetensors"
    run(small_config(steps=4, ema_decay=0.0), data, out0)
    state0 = torch.load(output_paths(str(out0))["state"], weights_only=True)
    for key, weight in state0["weights"].items():
        assert torch.equal(read_safetensors(str(out0))[0][key], weight), key
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    assert TrainConfig.from_dict(json.loads(meta["train_config"])) == config
    assert meta["stage"] == "1" and meta["trained_steps"] == "4" and float(meta["last_loss"]) > 0
    model = load_motion_model(str(out))
    assert model.config == trainer.job.model.config and model.audio_dim == 8 and model.audio_encoder == "wav2vec2"
    torch.testing.assert_close(model.normalizer.exp_std, MotionDataset(data["talk"]).statistics["exp_std"])


def test_gradients_are_clipped(data, tmp_path):
    trainer = run(small_config(steps=2, optimizer=load_train_config("tiny").optimizer), data,
                  tmp_path / "c.safetensors")
    trainer.job.config = trainer.job.config.updated({"optimizer": {"grad_clip": 1e-3}})
    trainer.job.stage = replace(trainer.job.stage, steps=3)
    trainer.run(resume=False)
    logged = [json.loads(line) for line in open(tmp_path / "c.log.jsonl")]
    assert logged[-1]["grad_norm"] > 1e-3  # the norm before clipping is logged
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in trainer.params if p.grad is not None]))
    assert float(norm) <= 1e-3 * (1 + 1e-5)  # the step used the clipped gradient


def test_learning_rate_schedule():
    config = small_config(steps=100).updated({"optimizer": {"warmup_steps": 10}})
    lr = [learning_rate(s, config.stage1, config.optimizer) for s in range(100)]
    assert lr[0] == pytest.approx(config.stage1.lr / 10) and lr[9] == pytest.approx(config.stage1.lr)
    assert lr[-1] == pytest.approx(config.stage1.lr * config.optimizer.min_lr_ratio, rel=1e-2)
    assert all(a >= b for a, b in zip(lr[9:], lr[10:]))


def test_stage2_errors(data, tmp_path):
    config = small_config()
    joy = tmp_path / "joyvasa.safetensors"
    c = JoyVASAConfig(window=8, num_prev=2, dim=16, heads=2, layers=1, audio_dim=8, pe_rows=32)
    save_motion_model(JoyVASAMotionModel(c, TemplateNormalizer(torch.zeros(63), torch.ones(63), torch.zeros(7),
                                                               torch.ones(7))), str(joy))
    mead = MotionDataset(data["mead"])
    with pytest.raises(ValueError, match="stage 2 trains the emotion controller of a Playmate stage-1 model, but "
                                         "joyvasa.safetensors is a joyvasa model"):
        stage2_job(config, str(joy), mead, str(tmp_path / "e.safetensors"))
    stage1 = tmp_path / "s1.safetensors"
    run(small_config(steps=1), data, stage1)
    with pytest.raises(ValueError, match="no clip of this data set has one"):
        stage2_job(config, str(stage1), MotionDataset(data["talk"]), str(tmp_path / "e.safetensors"))
    job, frozen = stage2_job(config, str(stage1), mead, str(tmp_path / "e.safetensors"))
    with torch.no_grad():
        job.model.pose_head[1].bias.add_(1.0)
    with pytest.raises(RuntimeError, match="changed frozen stage-1 weights: \\['pose_head.1.bias'\\]"):
        check_stage1_untouched(job.model, frozen)


def test_data_set_must_match_the_model(data, tmp_path):
    talk = MotionDataset(data["talk"])
    with pytest.raises(ValueError, match="8 values per frame \\(synthetic-wav2vec2\\) "
                                         "but the training config expects 16"):
        stage1_job(small_config(model={"preset": "tiny", "audio_dim": 16}), talk, str(tmp_path / "m.safetensors"))
    with pytest.raises(ValueError, match="come from 'synthetic-wav2vec2' but the training config uses hubert"):
        stage1_job(small_config(model={"preset": "tiny", "audio_encoder": "hubert"}), talk,
                   str(tmp_path / "m.safetensors"))
    other = write_synthetic_set(tmp_path / "hubert", identities=1, labels=("sad",), clips_per_label=1, frames=40,
                                encoder="chinese-hubert-base")
    stage1 = tmp_path / "s1.safetensors"
    run(small_config(steps=1), data, stage1)
    with pytest.raises(ValueError, match="but the stage-1 model s1.safetensors uses wav2vec2 features"):
        stage2_job(small_config(), str(stage1), MotionDataset(other), str(tmp_path / "e.safetensors"))
    with pytest.raises(ValueError, match=r"unknown keys \['learning_rate'\]"):
        TrainConfig.from_dict({"model": {"preset": "tiny"}, "stage1": {"learning_rate": 1}})


def test_cli_trains_both_stages(data, tmp_path, capsys):
    s1, s2 = tmp_path / "playmate_motion.safetensors", tmp_path / "playmate_emotion.safetensors"
    assert cli.main(["train", "stage1", "--config", "tiny", "--data", data["talk"], "--out", str(s1), "--steps", "2",
                     "--batch-size", "2"]) == 0
    assert cli.main(["train", "stage2", "--stage1", str(s1), "--data", data["mead"], "--out", str(s2), "--steps",
                     "2"]) == 0
    assert "load it as emotion_model together with playmate_motion.safetensors" in capsys.readouterr().out
    assert load_motion_model(str(s1), emotion_path=str(s2)).supports_emotion
    assert cli.main(["train", "stage2", "--stage1", str(tmp_path / "none.safetensors"), "--data", data["mead"]]) == 2
    assert "--stage1" in capsys.readouterr().err
