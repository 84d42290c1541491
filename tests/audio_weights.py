"""Writers of small wav2vec2 / HuBERT checkpoints in the public Hugging Face layouts (no transformers needed).

The key names and shapes are written out here from the Hugging Face layout (Wav2Vec2Model /
HubertModel / Wav2Vec2ForCTC state dicts), independently of the loader under test. Values are seeded
random numbers at plausible scales, so features are non-trivial.
"""

from __future__ import annotations

import json
import os

import torch

WEIGHT_NORM_KEYS = {
    "parametrizations": ("parametrizations.weight.original0", "parametrizations.weight.original1"),
    "legacy": ("weight_g", "weight_v"),
}


def tiny_hf_config(family: str = "wav2vec2", stable_layer_norm: bool = False, layers: int = 2) -> dict:
    """A config.json for a small model with the public conv front-end (50 frames/s), 128 wide, 2 heads."""
    config = {
        "model_type": family,
        "architectures": ["HubertModel" if family == "hubert" else "Wav2Vec2Model"],
        "hidden_size": 128,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": 256,
        "conv_dim": [64] * 7,
        "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
        "conv_stride": [5, 2, 2, 2, 2, 2, 2],
        "conv_bias": stable_layer_norm,
        "feat_extract_norm": "layer" if stable_layer_norm else "group",
        "do_stable_layer_norm": stable_layer_norm,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
        "hidden_act": "gelu",
        "feat_extract_activation": "gelu",
        "layer_norm_eps": 1e-5,
        "mask_time_prob": 0.05,
        "vocab_size": 32,
    }
    if family == "hubert":
        config["feat_proj_layer_norm"] = True
    return config


def base_hf_config(family: str = "wav2vec2") -> dict:
    """The full-size base architecture (wav2vec2-base-960h / chinese-hubert-base)."""
    config = tiny_hf_config(family)
    config.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                  conv_dim=[512] * 7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)
    return config


def hf_shapes(config: dict, weight_norm: str = "parametrizations") -> dict[str, tuple]:
    """HF key -> shape for a Wav2Vec2Model / HubertModel with this config (no prefix)."""
    H, F = config["hidden_size"], config["intermediate_size"]
    layer_mode = config["feat_extract_norm"] == "layer"
    shapes = {"masked_spec_embed": (H,)}
    c_in = 1
    for i, (c, k) in enumerate(zip(config["conv_dim"], config["conv_kernel"])):
        p = f"feature_extractor.conv_layers.{i}."
        shapes[p + "conv.weight"] = (c, c_in, k)
        if config["conv_bias"]:
            shapes[p + "conv.bias"] = (c,)
        if layer_mode or i == 0:
            shapes[p + "layer_norm.weight"] = (c,)
            shapes[p + "layer_norm.bias"] = (c,)
        c_in = c
    if config.get("feat_proj_layer_norm", True):
        shapes["feature_projection.layer_norm.weight"] = (c_in,)
        shapes["feature_projection.layer_norm.bias"] = (c_in,)
    shapes["feature_projection.projection.weight"] = (H, c_in)
    shapes["feature_projection.projection.bias"] = (H,)
    K, G = config["num_conv_pos_embeddings"], config["num_conv_pos_embedding_groups"]
    g_key, v_key = WEIGHT_NORM_KEYS[weight_norm]
    shapes["encoder.pos_conv_embed.conv.bias"] = (H,)
    shapes["encoder.pos_conv_embed.conv." + g_key] = (1, 1, K)
    shapes["encoder.pos_conv_embed.conv." + v_key] = (H, H // G, K)
    shapes["encoder.layer_norm.weight"] = (H,)
    shapes["encoder.layer_norm.bias"] = (H,)
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[p + f"attention.{proj}.weight"] = (H, H)
            shapes[p + f"attention.{proj}.bias"] = (H,)
        for norm in ("layer_norm", "final_layer_norm"):
            shapes[p + f"{norm}.weight"] = (H,)
            shapes[p + f"{norm}.bias"] = (H,)
        shapes[p + "feed_forward.intermediate_dense.weight"] = (F, H)
        shapes[p + "feed_forward.intermediate_dense.bias"] = (F,)
        shapes[p + "feed_forward.output_dense.weight"] = (H, F)
        shapes[p + "feed_forward.output_dense.bias"] = (H,)
    return shapes


def _value(key: str, shape: tuple, gen: torch.Generator) -> torch.Tensor:
    z = torch.randn(shape, generator=gen)
    leaf = key.rsplit(".", 1)[-1]
    if key.endswith(("weight_g", "original0")):
        return torch.rand(shape, generator=gen) + 1.0
    if key.endswith(("weight_v", "original1")):
        return z * 0.05
    if leaf == "masked_spec_embed":
        return torch.rand(shape, generator=gen)
    if leaf == "weight" and len(shape) >= 2:
        fan_in = 1
        for s in shape[1:]:
            fan_in *= s
        gain = 1.6 if "feature_extractor" in key else 1.0
        return z * (gain / fan_in ** 0.5)
    if leaf == "weight":
        return 1.0 + 0.1 * z
    return 0.02 * z


def hf_state_dict(config: dict, seed: int = 0, weight_norm: str = "parametrizations",
                  prefix: str = "", ctc_head: bool = False) -> dict[str, torch.Tensor]:
    """Seeded random tensors under HF names. ``prefix='wav2vec2.'`` with ``ctc_head`` = Wav2Vec2ForCTC."""
    gen = torch.Generator().manual_seed(seed)
    shapes = hf_shapes(config, weight_norm)
    sd = {prefix + k: _value(k, s, gen) for k, s in shapes.items()}
    if ctc_head:
        sd["lm_head.weight"] = 0.05 * torch.randn((config["vocab_size"], config["hidden_size"]), generator=gen)
        sd["lm_head.bias"] = torch.zeros(config["vocab_size"])
    return sd


def rename_weight_norm(state_dict: dict, to: str) -> dict:
    """The same tensors with the positional conv's weight norm in the other spelling."""
    out = {}
    for key, value in state_dict.items():
        for spelling, (g, v) in WEIGHT_NORM_KEYS.items():
            if spelling != to:
                key = key.replace("conv." + g, "conv." + WEIGHT_NORM_KEYS[to][0])
                key = key.replace("conv." + v, "conv." + WEIGHT_NORM_KEYS[to][1])
        out[key] = value
    return out


def save_weights(path: str, state_dict: dict) -> str:
    """A .safetensors or a pytorch .bin (torch.save of the dict) file, by extension."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tensors = {k: v.contiguous() for k, v in state_dict.items()}
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file(tensors, path, metadata={"format": "pt"})
    else:
        torch.save(tensors, path)
    return path


def write_hf_folder(folder: str, config: dict, state_dict: dict, weights: str = "model.safetensors",
                    do_normalize: bool | None = None) -> str:
    """An HF model folder: config.json, the weights file, and preprocessor_config.json when do_normalize is set."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    if do_normalize is not None:
        with open(os.path.join(folder, "preprocessor_config.json"), "w", encoding="utf-8") as f:
            json.dump({"do_normalize": do_normalize, "feature_extractor_type": "Wav2Vec2FeatureExtractor",
                       "feature_size": 1, "padding_value": 0.0, "return_attention_mask": False,
                       "sampling_rate": 16000}, f, indent=1)
    save_weights(os.path.join(folder, weights), state_dict)
    return folder
