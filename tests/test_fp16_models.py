"""The audio encoder and the motion model in fp16 (their default on CUDA) against fp32, on the CPU.

As in test_render_precision.py, convolutions accumulate in fp32 and round to fp16 (what a GPU does;
torch's CPU fp16 convolutions are naive loops); everything else runs in real fp16.
"""

from __future__ import annotations

import pytest
import torch

import audio_weights as AW
from playmate_core.audio.encoders import encoder_from_hf_state_dict
from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.checkpoint import to_precision
from playmate_core.motion.generation import generate_motion
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel
from test_render_precision import Fp32AccumulatingConvolutions, rel_l2

# fp16 resolves 2^-11 relative; a transformer stack adds a few such roundings per layer, in quadrature.
ENCODER_REL_L2 = 1e-2
# The motion: a few denoising steps, each feeding its output back. Measured 2.7e-4 (fp16) and 2.5e-3 (bf16);
# before the sampler's x_t and the noise schedule were kept float32 they were 0.22 and 1.1 (see models/base.py).
MOTION_REL_L2 = {torch.float16: 5e-3, torch.bfloat16: 2e-2}


def test_fp16_audio_encoder_matches_fp32_and_stays_finite():
    config = AW.tiny_hf_config("wav2vec2")
    state = AW.hf_state_dict(config, seed=1)
    wave = 0.1 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    reference = encoder_from_hf_state_dict(state, config).encode(wave, layer=-1)
    half = encoder_from_hf_state_dict(state, config, dtype=torch.float16)
    with Fp32AccumulatingConvolutions():
        lowered = half.encode(wave, layer=-1)
    assert half.dtype == torch.float16 and bool(torch.isfinite(lowered).all())
    assert 0 < rel_l2(lowered, reference) < ENCODER_REL_L2, rel_l2(lowered, reference)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_motion_model_matches_fp32_and_keeps_statistics_fp32(dtype):
    torch.manual_seed(0)
    model = PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16)).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3),
                            torch.cat([torch.zeros(1, 63), torch.tensor([[1.5, 0, 0, 0, 2.0, 3.0, 1.0]])], 1))
    features = AudioFeatures(torch.randn(1, 30, 16, generator=torch.Generator().manual_seed(1)), 25.0, 30, 1.2,
                             "wav2vec2-base")
    reference = generate_motion(model, source, features, steps=4, seed=7).motion
    half = PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=16))
    half.load_state_dict(state)
    half = to_precision(half.eval(), "cpu", dtype)
    assert half.dtype == dtype and half.normalizer.pose_mean.dtype == torch.float32
    with Fp32AccumulatingConvolutions():
        lowered = generate_motion(half, source, features, steps=4, seed=7).motion
    assert bool(torch.isfinite(lowered).all())
    assert 0 < rel_l2(lowered, reference) < MOTION_REL_L2[dtype], rel_l2(lowered, reference)
