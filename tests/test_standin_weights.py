"""The stand-in weight builders reproduce the weights the goldens were computed with, bit for bit.

LivePortrait: the per-namespace SHA-256 digests the fixture's authors published with the goldens (seed 0).
JoyVASA: digests recorded once from the fixture authors' own builder (make_checkpoint.py, torch 2.11 CPU) for the
configurations the tests load. Only tensors made from integer draws are digested: they are bit-identical on every
CPU. The computed buffers (sinusoid tables, cosine schedule) go through float32 sin/cos/exp, whose last bit may
depend on the CPU's vector unit; test_joyvasa compares the schedule with the golden one at 1e-6.
"""

from __future__ import annotations

import pytest
import torch

import joyvasa_standin as jv
from standin_weights import liveportrait_namespaces, normal_draw, state_digest, tensor_generator, uniform_draw

LIVEPORTRAIT_DIGESTS = {  # tests/fixtures/README.md, "Stand-in weights"
    "appearance_feature_extractor": "783a54cb7789435c8d5f7c304909643692a5b6884f5373c201cbc6e2b2733507",
    "motion_extractor": "ae9447e34e20e9118a3a094e18d8cf707fb3ed97235cf24564e30617a1d09458",
    "warping_module": "d8d41b6632db1bb5122939045bc9ceace9d9d6ea1f2e9b3dda6061271df1431d",
    "spade_generator": "50adbb7460a761057445061f1497c153641489e5a4624da2786d01ab5ff0a363",
    "retarget_shoulder": "20edd9c0deb4f14a222e824bc99ae48ba5e6175867bf63ddc34879f0e483eaa3",
    "retarget_mouth": "f7c49741a296ba293ff403939483508edd87616f0a3da44c05265bdc48c4f7da",
    "retarget_eye": "3bb05a2f37a74b93b65061486d36ceff3f317420073b52939c96bd8306ffaed7",
}
TINY_DIT = dict(jv.DIT, feature_dim=32, n_layers=1)  # tests/model_files.py's small denoiser
JOYVASA_DIGESTS = {
    "release_no_hubert": "0e8989b7efdd270bca66ee47fc084aaf72f23429018ca9321005fb93e9d2ae1e",
    "release_2_layers": "81aad58582a94c4d2bb0b6c613693354df440d26c32597748144999d7214b41d",
    "hubert_2_layers_legacy": "6d415d0cdd73416a12a4d1a75d330f9cb5c1555473964594fdd0e7c36768200f",
    "tiny_release": "7110d23a64ca6049bc020d7987c0e822ff3021ff2f8a9db3ca466ca948af321b",
}


def _tiny_release() -> dict:
    hubert = dict(jv.hubert_config(0), hidden_size=128)
    return {key: jv.value_for(key, canonical, shape, dtype, 0, TINY_DIT)
            for key, shape, dtype, canonical in jv.dit_entries(hubert, "parametrizations", TINY_DIT)}


JOYVASA_BUILDS = {
    "release_no_hubert": lambda: jv.make_state_dict(0, "parametrizations", 0),
    "release_2_layers": lambda: jv.make_state_dict(2, "parametrizations", 0),
    "hubert_2_layers_legacy": lambda: jv.make_hubert_state_dict(2, "legacy", 0),
    "tiny_release": _tiny_release,
}


def test_draws_follow_the_documented_integer_recipe():
    generator = tensor_generator("ns", "key", 0)
    integers = torch.randint(0, 1 << 24, (5,), generator=generator, dtype=torch.int64)
    expected = (integers.double() + 0.5) / 2**24
    assert torch.equal(uniform_draw(tensor_generator("ns", "key", 0), 5), expected)
    z = normal_draw(tensor_generator("ns", "other", 0), 200_000)
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01 and float(z.abs().max()) < 3.47
    assert not torch.equal(uniform_draw(tensor_generator("ns", "key", 1), 5), expected)  # the seed is in the key


@pytest.mark.slow
def test_liveportrait_weights_hash_to_the_published_digests():
    states = liveportrait_namespaces(0)
    assert {name: state_digest(state) for name, state in states.items()} == LIVEPORTRAIT_DIGESTS


@pytest.mark.parametrize("name", sorted(JOYVASA_DIGESTS))
def test_joyvasa_weights_hash_to_the_recorded_digests(name):
    state = JOYVASA_BUILDS[name]()
    assert state_digest({k: v for k, v in state.items() if jv.is_drawn(k)}) == JOYVASA_DIGESTS[name]


def test_joyvasa_layout_is_the_released_one():
    """Key order, shapes and dtypes of the full 12-layer file as the manifest records them (no values built)."""
    ours = [(key, list(shape), dtype) for key, shape, dtype, _ in jv.dit_entries(jv.hubert_config(12))]
    assert ours == [(e["key"], e["shape"], e["dtype"]) for e in jv.manifest()["state_dict_entries"]]
    legacy = [key for key, *_ in jv.dit_entries(jv.hubert_config(12), "legacy")]
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in legacy and len(legacy) == len(ours)


def test_joyvasa_buffers_are_what_the_official_constructors_compute():
    state = jv.make_state_dict(0)
    assert torch.equal(state["denoising_net.alignment_mask"], ~torch.eye(125, dtype=torch.bool))
    positions = torch.arange(600, dtype=torch.float64)[:, None]
    log_base = torch.log(torch.tensor(1e4, dtype=torch.float64))
    angles = positions * torch.exp(torch.arange(0, 256, 2, dtype=torch.float64) * (-log_base / 256))
    table = state["denoising_net.PE.pe"][0].double()
    # float32 sin/cos of float32 angles up to 600 rad: within a few float32 ulps of the angle (600 * 6e-8)
    assert float((table[:, 0::2] - angles.sin()).abs().max()) < 1e-4
    assert float((table[:, 1::2] - angles.cos()).abs().max()) < 1e-4
    # the same rows of the 501-row table: equal up to float32 rounding (vectorised and scalar sin may differ in the
    # last bit depending on an element's position, so no bit-equality here)
    assert state["denoising_net.TE.pe"].shape == (1, 501, 256)
    torch.testing.assert_close(state["denoising_net.TE.pe"][0], state["denoising_net.PE.pe"][0, :501], rtol=0,
                               atol=1e-6)
