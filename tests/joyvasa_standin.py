"""JoyVASA's released checkpoint layout with deterministic stand-in values (the goldens' weights).

Key list and order: ``dit_entries`` (the official DitTalkingHead.state_dict() order, checked against the
manifest in tests/fixtures/joyvasa/manifest.json). Values: tests/standin_weights.py's integer draws, seeded
per *canonical* key with crc32('joyvasa|<canonical key>|<seed>'), so both HuBERT weight-norm spellings and any
number of HuBERT layers carry the same values for the same tensor. Rules (z ~ N(0, 1) from the draws):

    linear / conv weight           gain * z / sqrt(fan_in)   (WEIGHT_GAINS, else 1)
    bias                           0.02 z;  LayerNorm / GroupNorm: weight 1 + 0.1 z, bias 0.05 z
    HuBERT pos-conv weight norm    g: 2 + u (u uniform in (0, 1)), v: 0.05 z
    masked_spec_embed              u;  start_audio_feat, null_audio_feat: z;  start_motion_feat: 0.5 z
    denoising_net.motion_dec.2     weight gain 0.3, bias 0.02 z (+ 0.5 on the min-max coded pose dims 63..69)
    TE.pe / PE.pe, alignment_mask, diffusion_sched.*: the official constructors' float32 computation.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from collections import OrderedDict
from pathlib import Path

import torch

from standin_weights import normal_draw, tensor_generator, uniform_draw

MANIFEST = Path(__file__).resolve().parent / "fixtures" / "joyvasa" / "manifest.json"
NAMESPACE = "joyvasa"
ITER = 20000
DIT = dict(motion_feat_dim=70, n_motions=100, n_prev_motions=25, feature_dim=256, n_heads=8,
           n_layers=8, mlp_ratio=4, n_diff_steps=50, te_max_len=501, pe_max_len=600)
WEIGHT_NORM = {"parametrizations": ("parametrizations.weight.original0", "parametrizations.weight.original1"),
               "legacy": ("weight_g", "weight_v")}
WEIGHT_GAINS = (("feature_extractor.conv_layers.0.conv.weight", 1.0), ("feature_extractor.conv_layers.", 1.6),
                ("denoising_net.motion_dec.2.weight", 0.3))
NORM_PARTS = ("layer_norm.", "norm1.", "norm2.", "norm3.")


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def released_args() -> argparse.Namespace:
    """The released file's ``args`` (every train.py option in order; data_root a PosixPath)."""
    args = manifest()["args"]
    args["data_root"] = pathlib.PosixPath(args["data_root"])
    return argparse.Namespace(**args)


def hf_config_json(hubert_layers: int = 12) -> dict:
    """A chinese-hubert-base config.json with ``hubert_layers`` transformer layers."""
    return dict(manifest()["hubert_config"], num_hidden_layers=int(hubert_layers))


def hubert_config(layers: int) -> dict:
    """The architecture fields hubert_entries reads (hubert-base, ``layers`` transformer layers)."""
    full = hf_config_json(layers)
    return {k: full[k] for k in ("hidden_size", "num_hidden_layers", "intermediate_size", "conv_dim", "conv_kernel",
                                 "conv_bias", "feat_extract_norm", "feat_proj_layer_norm", "num_conv_pos_embeddings",
                                 "num_conv_pos_embedding_groups")}


def hubert_entries(cfg: dict, wn: str = "parametrizations") -> list[tuple[str, tuple, str, str]]:
    """(key, shape, dtype, canonical key) of a HF HubertModel state dict, in its order."""
    hidden, inner = cfg["hidden_size"], cfg["intermediate_size"]
    rows = [("masked_spec_embed", (hidden,))]
    channels_in = 1
    for i, (channels, kernel) in enumerate(zip(cfg["conv_dim"], cfg["conv_kernel"])):
        prefix = f"feature_extractor.conv_layers.{i}."
        rows.append((prefix + "conv.weight", (channels, channels_in, kernel)))
        if cfg["conv_bias"]:
            rows.append((prefix + "conv.bias", (channels,)))
        if cfg["feat_extract_norm"] == "layer" or (cfg["feat_extract_norm"] == "group" and i == 0):
            rows += [(prefix + "layer_norm.weight", (channels,)), (prefix + "layer_norm.bias", (channels,))]
        channels_in = channels
    if cfg["feat_proj_layer_norm"]:
        rows += [("feature_projection.layer_norm.weight", (channels_in,)),
                 ("feature_projection.layer_norm.bias", (channels_in,))]
    rows += [("feature_projection.projection.weight", (hidden, channels_in)),
             ("feature_projection.projection.bias", (hidden,))]
    conv = "encoder.pos_conv_embed.conv."
    g_name, v_name = WEIGHT_NORM[wn]
    taps, groups = cfg["num_conv_pos_embeddings"], cfg["num_conv_pos_embedding_groups"]
    rows += [(conv + "bias", (hidden,)), (conv + g_name, (1, 1, taps), conv + "weight_g"),
             (conv + v_name, (hidden, hidden // groups, taps), conv + "weight_v"),
             ("encoder.layer_norm.weight", (hidden,)), ("encoder.layer_norm.bias", (hidden,))]
    for i in range(cfg["num_hidden_layers"]):
        layer = f"encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            rows += [(layer + f"attention.{proj}.weight", (hidden, hidden)),
                     (layer + f"attention.{proj}.bias", (hidden,))]
        rows += [(layer + "layer_norm.weight", (hidden,)), (layer + "layer_norm.bias", (hidden,)),
                 (layer + "feed_forward.intermediate_dense.weight", (inner, hidden)),
                 (layer + "feed_forward.intermediate_dense.bias", (inner,)),
                 (layer + "feed_forward.output_dense.weight", (hidden, inner)),
                 (layer + "feed_forward.output_dense.bias", (hidden,)),
                 (layer + "final_layer_norm.weight", (hidden,)), (layer + "final_layer_norm.bias", (hidden,))]
    return [(row[0], row[1], "float32", row[2] if len(row) > 2 else row[0]) for row in rows]


def dit_entries(hubert_cfg: dict, wn: str = "parametrizations", dit: dict = DIT) -> list[tuple[str, tuple, str, str]]:
    """(key, shape, dtype, canonical key) of the released 'model' state dict, in DitTalkingHead's order."""
    width, motion, prev, current = dit["feature_dim"], dit["motion_feat_dim"], dit["n_prev_motions"], dit["n_motions"]
    rows = [("start_audio_feat", (1, prev, width)), ("start_motion_feat", (1, prev, motion)),
            ("null_audio_feat", (1, 1, width))]
    rows += [("audio_encoder." + key, shape, "audio_encoder." + canonical)
             for key, shape, _, canonical in hubert_entries(hubert_cfg, wn)]
    rows += [("audio_feature_map.weight", (width, hubert_cfg["hidden_size"])), ("audio_feature_map.bias", (width,)),
             ("denoising_net.alignment_mask", (prev + current, prev + current)),
             ("denoising_net.TE.pe", (1, dit["te_max_len"], width)),
             ("denoising_net.diff_step_map.0.weight", (width, width)), ("denoising_net.diff_step_map.0.bias", (width,)),
             ("denoising_net.diff_step_map.2.weight", (width, width)), ("denoising_net.diff_step_map.2.bias", (width,)),
             ("denoising_net.PE.pe", (1, dit["pe_max_len"], width)),
             ("denoising_net.feature_proj.weight", (width, motion)), ("denoising_net.feature_proj.bias", (width,))]
    hidden = dit["mlp_ratio"] * width
    for i in range(dit["n_layers"]):
        layer = f"denoising_net.transformer.layers.{i}."
        for attention in ("self_attn", "multihead_attn"):
            rows += [(layer + f"{attention}.in_proj_weight", (3 * width, width)),
                     (layer + f"{attention}.in_proj_bias", (3 * width,)),
                     (layer + f"{attention}.out_proj.weight", (width, width)),
                     (layer + f"{attention}.out_proj.bias", (width,))]
        rows += [(layer + "linear1.weight", (hidden, width)), (layer + "linear1.bias", (hidden,)),
                 (layer + "linear2.weight", (width, hidden)), (layer + "linear2.bias", (width,))]
        rows += [(layer + f"{norm}.{leaf}", (width,))
                 for norm in ("norm1", "norm2", "norm3") for leaf in ("weight", "bias")]
    rows += [("denoising_net.motion_dec.0.weight", (width // 2, width)),
             ("denoising_net.motion_dec.0.bias", (width // 2,)),
             ("denoising_net.motion_dec.2.weight", (motion, width // 2)),
             ("denoising_net.motion_dec.2.bias", (motion,))]
    rows += [(f"diffusion_sched.{name}", (dit["n_diff_steps"] + 1,))
             for name in ("betas", "alphas", "alpha_bars", "sigmas_flex", "sigmas_inflex")]
    return [(row[0], row[1], "bool" if row[0].endswith("alignment_mask") else "float32",
             row[2] if len(row) > 2 else row[0])
            for row in rows]


def sinusoid_table(length: int, width: int) -> torch.Tensor:
    """(1, length, width) interleaved sin/cos table, in the official float32 operations."""
    table = torch.zeros(length, width)
    position = torch.arange(0, length, dtype=torch.float).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2).float() * (-math.log(10000.0) / width))
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table.unsqueeze(0)


def cosine_schedule(steps: int, offset: float = 0.008) -> dict[str, torch.Tensor]:
    """The cosine DDPM buffers, (steps + 1,) each (step 0: beta 0), in the official float32 operations."""
    x = torch.linspace(0, steps, steps + 1)
    alpha_bar = torch.cos(((x / steps) + offset) / (1 + offset) * torch.pi * 0.5) ** 2
    alpha_bar = alpha_bar / alpha_bar[0]
    betas = torch.cat([torch.zeros(1), torch.clip(1 - (alpha_bar[1:] / alpha_bar[:-1]), 0.0001, 0.999)])
    alphas = 1 - betas
    log_alphas = torch.log(alphas)
    for i in range(1, steps + 1):  # a sequential float32 cumulative sum, the official summation order
        log_alphas[i] += log_alphas[i - 1]
    alpha_bars = log_alphas.exp()
    inflex = torch.zeros_like(betas)
    for i in range(1, steps + 1):
        inflex[i] = ((1 - alpha_bars[i - 1]) / (1 - alpha_bars[i])) * betas[i]
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars, "sigmas_flex": torch.sqrt(betas),
            "sigmas_inflex": torch.sqrt(inflex)}


def is_drawn(key: str) -> bool:
    """True for the tensors made from integer draws (bit-identical on every CPU); False for the computed buffers."""
    return not (key.endswith(("alignment_mask", "TE.pe", "PE.pe")) or key.startswith("diffusion_sched."))


def value_for(key: str, canonical: str, shape, dtype: str, seed: int, dit: dict = DIT) -> torch.Tensor:
    """The stand-in value of one state-dict entry."""
    leaf, count = canonical.rsplit(".", 1)[-1], math.prod(shape)
    if key.endswith("alignment_mask"):
        return ~torch.eye(shape[0], dtype=torch.bool)  # True = masked: motion token i sees audio token i only
    if key.endswith(("TE.pe", "PE.pe")):
        return sinusoid_table(shape[1], shape[2])
    if key.startswith("diffusion_sched."):
        return cosine_schedule(dit["n_diff_steps"])[leaf].clone()
    generator = tensor_generator(NAMESPACE, canonical, seed)
    if leaf == "masked_spec_embed":
        values = uniform_draw(generator, count)
    elif leaf == "weight_g":
        values = uniform_draw(generator, count) + 2.0
    elif leaf == "weight_v":
        values = normal_draw(generator, count, 0.05)
    elif canonical in ("start_audio_feat", "null_audio_feat", "start_motion_feat"):
        values = normal_draw(generator, count, 0.5 if canonical == "start_motion_feat" else 1.0)
    elif canonical == "denoising_net.motion_dec.2.bias":
        values = normal_draw(generator, count, 0.02)
        values[63:] += 0.5
    elif leaf in ("weight", "in_proj_weight") and len(shape) >= 2:
        gain = next((g for pattern, g in WEIGHT_GAINS if pattern in canonical), 1.0)
        values = normal_draw(generator, count, gain / math.sqrt(math.prod(shape[1:])))
    elif leaf == "weight":
        values = normal_draw(generator, count, 0.1) + 1.0
    elif leaf == "bias" and any(part in canonical for part in NORM_PARTS):
        values = normal_draw(generator, count, 0.05)
    elif leaf in ("bias", "in_proj_bias"):
        values = normal_draw(generator, count, 0.02)
    else:
        raise KeyError(f"no stand-in rule for {key}")
    return values.to(torch.float32).reshape(shape)


def make_state_dict(hubert_layers: int = 12, wn: str = "parametrizations",
                    seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """The released 'model' state dict (``hubert_layers`` HuBERT layers embedded; 0 = none, fast)."""
    return OrderedDict((key, value_for(key, canonical, shape, dtype, seed))
                       for key, shape, dtype, canonical in dit_entries(hubert_config(hubert_layers), wn))


def make_hubert_state_dict(hubert_layers: int = 12, wn: str = "parametrizations",
                           seed: int = 1) -> "OrderedDict[str, torch.Tensor]":
    """The audio encoder alone, HF HubertModel keys (no prefix), values as under 'audio_encoder.'."""
    return OrderedDict((key, value_for("audio_encoder." + key, "audio_encoder." + canonical, shape, dtype, seed))
                       for key, shape, dtype, canonical in hubert_entries(hubert_config(hubert_layers), wn))
