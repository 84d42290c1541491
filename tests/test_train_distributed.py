"""The one trainer under torchrun (gloo, 2 CPU processes): the same weights as one process over the same global
batch, and a 2-process state resumed in 1 process continues the same run."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lp_weights import random_official_states, write_kijai_layout
from playmate_core import cli
from playmate_core.train.trainer import output_paths
from renderer_train_data import CROP, micro_renderer_config, write_narrow_vgg, write_renderer_set

ROOT = Path(__file__).resolve().parents[1]
# float tolerance: gloo sums the two ranks' gradients, one process adds the two chunks' halves (other rounding)
TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


@pytest.fixture(autouse=True)
def one_thread():
    """The in-process runs use one thread, as the torchrun workers do (OMP_NUM_THREADS=1): another thread count
    splits the kernels' reductions differently, and Adam's first steps amplify such rounding past the tolerance."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(path: Path, extra_loss: dict) -> Path:
    values = json.loads((ROOT / "playmate_core" / "train" / "configs" / "renderer.json").read_text())
    values.update(networks=["M", "G"], batch_size=1, ema_decay=0.5, checkpoint_every=100, sample_every=100,
                  log_every=1)
    values["renderer"] = {"steps": 4, "lr": 1e-3}
    values["optimizer"]["warmup_steps"] = 1
    values["loss"].update(perceptual_size=2 * CROP, **extra_loss)
    values["discriminator"].update(channels=4, layers=2, lr=1e-3)
    path.write_text(json.dumps(values))
    return path


def _arguments(tmp: Path, out: Path) -> list[str]:
    return ["train", "renderer", "--data", str(tmp / "data"), "--renderer", str(tmp / "lp"), "--vgg",
            str(tmp / "vgg.pth"), "--config", str(tmp / "config.json"), "--out", str(out), "--device", "cpu"]


def _torchrun(arguments: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "playmate_core", *arguments], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _state(out: Path) -> dict:
    return torch.load(output_paths(str(out))["state"], weights_only=True)


def _assert_same_run(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for part in ("weights", "ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], **TOLERANCE, msg=f"{part} {key}")
    assert ("adversary" in a) == ("adversary" in b)
    for key, value in a.get("adversary", {}).get("weights", {}).items():  # the GAN's discriminator, when on
        torch.testing.assert_close(value, b["adversary"]["weights"][key], **TOLERANCE, msg=f"discriminator {key}")


@pytest.mark.parametrize("extra_loss", [{}, {"gan": 0.1, "identity": 0.5}], ids=["default", "gan_identity"])
def test_two_processes_equal_one_and_resume_in_one(tmp_path, extra_loss):
    write_renderer_set(tmp_path / "data", clips=3, frames=4, size=2 * CROP)
    write_kijai_layout(random_official_states(micro_renderer_config(), 0), tmp_path / "lp")
    write_narrow_vgg(tmp_path / "vgg.pth")
    _config(tmp_path / "config.json", extra_loss)

    single = tmp_path / "single.safetensors"  # 1 process, 2 chunks of 1 row per step
    assert cli.main(_arguments(tmp_path, single) + ["--accumulate", "2", "--stop-at", "2"]) == 0
    at_two = _state(single)
    assert cli.main(_arguments(tmp_path, single) + ["--accumulate", "2", "--resume"]) == 0

    pair = tmp_path / "pair.safetensors"  # 2 processes of 1 row each, stopped after step 2
    _torchrun(_arguments(tmp_path, pair) + ["--stop-at", "2"])
    _assert_same_run(_state(pair), at_two)
    assert _state(pair)["global_batch"] == 2
    # the training really moved the weights (else the comparison would be empty)
    assert any(not torch.equal(at_two["weights"][k], _state(single)["weights"][k]) for k in at_two["weights"])
    assert ("adversary" in at_two) == ("gan" in extra_loss)

    shutil.copy(output_paths(str(pair))["log"], tmp_path / "pair_log_at_two.jsonl")
    assert cli.main(_arguments(tmp_path, pair) + ["--accumulate", "2", "--resume"]) == 0  # 1 process now
    _assert_same_run(_state(pair), _state(single))
    logged = [json.loads(line) for line in open(output_paths(str(pair))["log"])]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    first_half = [json.loads(line) for line in open(tmp_path / "pair_log_at_two.jsonl")]
    single_log = [json.loads(line) for line in open(output_paths(str(single))["log"])]
    for a, b in zip(first_half, single_log):  # rank 0 logs the mean over both ranks = the global batch's mean
        assert abs(a["loss"] - b["loss"]) <= 1e-5 * abs(b["loss"]), (a, b)


def test_motion_stage1_under_torchrun_equals_one_process(tmp_path):
    from train_data import write_synthetic_set

    talk = write_synthetic_set(tmp_path / "talk", identities=2, labels=(None,), clips_per_label=2, frames=45)
    arguments = ["train", "stage1", "--config", "tiny", "--data", talk, "--steps", "2", "--batch-size", "2", "--device",
                 "cpu"]
    assert cli.main(arguments + ["--out", str(tmp_path / "single.safetensors"), "--accumulate", "2"]) == 0
    _torchrun(arguments + ["--out", str(tmp_path / "pair.safetensors")])
    _assert_same_run(_state(tmp_path / "pair.safetensors"), _state(tmp_path / "single.safetensors"))
