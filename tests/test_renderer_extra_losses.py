"""The optional identity and GAN terms of renderer fine-tuning, on the micro LivePortrait set of the learning test:
off by default and then absent (the loss is the three original terms, no discriminator is built); the GAN's
discriminator trains and resumes exactly; the identity term is finite and its gradient reaches only the tuned
networks; frozen networks stay bit-identical."""

import pytest
import torch

from playmate_core import cli
from playmate_core.checkpoint.io import read_safetensors
from playmate_core.train.dataset import MotionDataset
from playmate_core.train.renderer_config import DiscriminatorConfig, RendererTrainConfig, load_renderer_config
from playmate_core.train.renderer_data import FramePairSampler
from playmate_core.train.renderer_stage import RendererNetworks, load_base_set, pair_losses, renderer_job, \
    run_renderer
from playmate_core.train.report import read_log
from playmate_core.train.vgg import load_vgg19
from renderer_train_data import CROP, PRETRAINED, write_narrow_vgg, write_renderer_set

STEPS = 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("extra")
    data = MotionDataset(write_renderer_set(root / "data", clips=4, frames=6, size=2 * CROP))
    vgg = load_vgg19(str(write_narrow_vgg(root / "vgg.pth")))
    return data, vgg


def _config(loss: dict, networks=("M",), discriminator_lr: float = 1e-3) -> RendererTrainConfig:
    return load_renderer_config("renderer").updated({
        "networks": list(networks), "batch_size": 2, "ema_decay": 0.0, "log_every": 1, "checkpoint_every": 3,
        "sample_every": 100, "renderer": {"steps": STEPS, "lr": 1e-3}, "optimizer": {"warmup_steps": 2},
        "loss": {"perceptual_size": 2 * CROP, **loss},
        "discriminator": {"lr": discriminator_lr, "channels": 4, "layers": 2}})


def _batch(data):
    return FramePairSampler(data).sample(2, torch.Generator().manual_seed(5))


def test_preset_has_both_terms_off_and_a_config_without_the_keys_is_the_same(capsys):
    preset = load_renderer_config("renderer")
    assert preset.loss.identity == 0.0 and preset.loss.gan == 0.0
    old_keys = preset.to_dict()
    del old_keys["discriminator"], old_keys["loss"]["identity"], old_keys["loss"]["gan"]
    assert RendererTrainConfig.from_dict(old_keys) == preset
    with pytest.raises(ValueError, match="loss.gan"):
        preset.updated({"loss": {"gan": -1.0}})
    with pytest.raises(SystemExit):
        cli.main(["train", "renderer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for key in ("loss.identity", "loss.gan", "identity proxy", "not face recognition", "discriminator.lr", ".channels"):
        assert key in text, key


def test_off_by_default_the_loss_is_the_original_three_terms(setup, tmp_path):
    data, vgg = setup
    config = _config({})
    job, _ = renderer_job(config, load_base_set(str(PRETRAINED)), vgg, data, str(tmp_path / "o.safetensors"))
    assert job.adversary is None and job.model.discriminator is None and job.model.identity_extractor is None
    with torch.no_grad():
        terms = pair_losses(job.model, _batch(data), config.loss)
    assert set(terms) == {"loss", "l1", "perceptual", "transfer"}
    # the preset weights are 1.0, so the total is exactly the sum of the three terms (no extra term, not even x 0)
    assert torch.equal(terms["loss"], terms["l1"] + terms["perceptual"] + terms["transfer"])


def test_gan_discriminator_trains_and_resumes_like_one_run(setup, tmp_path):
    data, vgg = setup
    config = _config({"gan": 0.1}, discriminator_lr=3e-2)
    one, split = tmp_path / "one.safetensors", tmp_path / "split.safetensors"
    run_renderer(config, load_base_set(str(PRETRAINED)), vgg, data, str(one), log=lambda _: None)
    run_renderer(config, load_base_set(str(PRETRAINED)), vgg, data, str(split), log=lambda _: None, stop_at=3)
    run_renderer(config, load_base_set(str(PRETRAINED)), vgg, data, str(split), log=lambda _: None, resume=True)
    records = read_log(str(tmp_path / "one.log.jsonl"), STEPS)
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    disc = [r["discriminator"] for r in records]
    # an untrained discriminator's hinge loss is about 2 (scores near 0); it learns to tell target from
    # reconstruction (measured: 2.00 at step 1, 1.68-1.69 at steps 4 and 6)
    assert abs(disc[0] - 2) < 0.05 and min(disc[3:]) < 0.9 * disc[0], disc
    assert all("gan" in r for r in records)
    state_one = torch.load(tmp_path / "one.state.pt", weights_only=True)
    state_split = torch.load(tmp_path / "split.state.pt", weights_only=True)
    weights = state_one["adversary"]["weights"]
    assert set(weights) == {k for k in weights if k.startswith("discriminator.net.")} and len(weights) == 6
    initial = renderer_job(config, load_base_set(str(PRETRAINED)), vgg, data, str(tmp_path / "x"))[0]
    assert any(not torch.equal(weights[k], p.detach()) for k, p in initial.adversary.parameters.items())
    # same process, same thread count and shapes: the resumed run is bit-identical to the uninterrupted one
    for key in ("weights", "ema"):
        for k, v in state_one[key].items():
            assert torch.equal(v, state_split[key][k]), (key, k)
    for k, v in weights.items():
        assert torch.equal(v, state_split["adversary"]["weights"][k]), k
    def timeless(log):
        return [{k: v for k, v in r.items() if k != "seconds_per_step"} for r in log]

    assert timeless(read_log(str(tmp_path / "split.log.jsonl"), STEPS)) == timeless(records)


@pytest.mark.parametrize("networks", [("M",), ("F", "M")])
def test_identity_term_is_finite_and_its_gradient_reaches_only_the_tuned_networks(setup, tmp_path, networks):
    data, vgg = setup
    config = _config({"identity": 1.0, "l1": 0.0, "perceptual": 0.0, "transfer": 0.0}, networks)
    job, frozen = renderer_job(config, load_base_set(str(PRETRAINED)), vgg, data, str(tmp_path / "o.safetensors"))
    model: RendererNetworks = job.model
    assert (model.identity_extractor is not None) == ("F" in networks)  # a frozen copy only when F trains
    terms = pair_losses(model, _batch(data), config.loss)
    assert torch.isfinite(terms["identity"]) and 0 < float(terms["identity"]) <= 2
    torch.testing.assert_close(terms["loss"], terms["identity"])
    terms["loss"].backward()
    for name, parameter in model.named_parameters():
        if name in job.trainable:
            continue
        assert parameter.grad is None, name
    tuned = {n.split(".")[0] for n, p in job.trainable.items() if p.grad is not None and p.grad.abs().sum() > 0}
    expected = {"motion_extractor"} | ({"appearance_feature_extractor"} if "F" in networks else set())
    assert tuned == expected
    # the frozen copy is among the tensors run_renderer checks for bit-identity at the end
    assert any(k.startswith("identity_extractor.") for k in frozen) == ("F" in networks)


def test_identity_run_logs_the_term_and_keeps_frozen_networks_bit_identical(setup, tmp_path):
    data, vgg = setup
    config = _config({"identity": 0.5, "gan": 0.1}, ("F", "M"))
    out = tmp_path / "o.safetensors"
    base = load_base_set(str(PRETRAINED))
    start = {f"{n}.{k}": v.clone() for n in ("appearance_feature_extractor", "warping_module", "spade_generator")
             for k, v in base.networks[n].state_dict().items()}
    run_renderer(config, base, vgg, data, str(out), log=lambda _: None)  # raises if a frozen tensor changed
    records = read_log(str(tmp_path / "o.log.jsonl"), STEPS)
    assert all(0 < r["identity"] <= 2 and 0 < r["discriminator"] < 10 for r in records), records

    tuned, _ = read_safetensors(str(out))
    for key, value in start.items():
        if not key.startswith("appearance_feature_extractor."):
            assert torch.equal(tuned[key], value.float()), key  # W and G: bit-identical
    assert any(not torch.equal(tuned[k], v.float()) for k, v in start.items()
               if k.startswith("appearance_feature_extractor."))  # F trained


def test_both_terms_run_under_bf16_autocast_as_on_cuda(setup, tmp_path):
    """CUDA trains under bf16 autocast; CPU autocast has the same dtype rules, so this catches dtype mixing in the
    discriminator and the identity features without a GPU."""
    data, vgg = setup
    config = _config({"identity": 0.5, "gan": 0.1}, ("F", "M"))
    job, _ = renderer_job(config, load_base_set(str(PRETRAINED)), vgg, data, str(tmp_path / "o.safetensors"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = pair_losses(job.model, _batch(data), config.loss)
    assert all(torch.isfinite(terms[k]) for k in ("loss", "identity", "gan", "discriminator"))
    (terms["loss"] + terms["discriminator"]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in job.adversary.parameters.values())


def test_a_state_written_before_the_new_keys_resumes(setup, tmp_path):
    """States of runs started before the identity / GAN keys existed lack them in their config; they resume (the
    stored config is read with today's defaults, 0 = off), while another config is still refused."""
    data, vgg = setup
    config = _config({}).updated({"discriminator": DiscriminatorConfig().to_dict()})  # as an old state reads
    out = tmp_path / "o.safetensors"
    run_renderer(config, load_base_set(str(PRETRAINED)), vgg, data, str(out), log=lambda _: None, stop_at=3)
    state = torch.load(tmp_path / "o.state.pt", weights_only=True)
    del state["config"]["discriminator"], state["config"]["loss"]["identity"], state["config"]["loss"]["gan"]
    torch.save(state, tmp_path / "o.state.pt")
    with pytest.raises(ValueError, match="another training config"):
        run_renderer(_config({"gan": 0.1}), load_base_set(str(PRETRAINED)), vgg, data, str(out), resume=True,
                     log=lambda _: None)
    record = run_renderer(config, load_base_set(str(PRETRAINED)), vgg, data, str(out), resume=True,
                          log=lambda _: None)
    assert record["step"] == STEPS
