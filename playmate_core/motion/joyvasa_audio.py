"""JoyVASA's audio path: the fine-tuned HuBERT embedded in its checkpoint (``audio_encoder.*``), run with the
released windowing (``audio.windowed``: 4 s windows encoded independently).

The embedded encoder is an ``AudioEncoder`` whose ``windowing`` says so; its features carry the label
``EMBEDDED_LABEL``, the only features a JoyVASA motion model accepts (stock chinese-hubert-base was not
what JoyVASA was trained with: only its CNN front end stayed frozen).
"""

from __future__ import annotations

import torch

from ..audio.encoders import AudioEncoder, encoder_from_hf_state_dict
from ..audio.windowed import WindowedEncoding
from .joyvasa_release import split_audio_encoder
from .models.joyvasa import JoyVASAMotionModel

EMBEDDED_LABEL = JoyVASAMotionModel.audio_encoder
RELEASE_WINDOWING = WindowedEncoding(EMBEDDED_LABEL, window_frames=100, reflect_pad=20)

# chinese-hubert-base's architecture (HF HubertConfig fields); widths and the layer count come from the weights.
HUBERT_BASE_CONFIG = {
    "model_type": "hubert", "architectures": ["HubertModel"], "hidden_size": 768, "intermediate_size": 3072,
    "num_attention_heads": 12, "num_hidden_layers": 12, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group", "feat_extract_activation": "gelu", "conv_dim": [512] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_bias": False,
    "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16, "do_stable_layer_norm": False,
    "feat_proj_layer_norm": True,
}
HEAD_WIDTH = 64  # chinese-hubert-base: 768 wide, 12 heads


def hubert_config(hubert_state: dict) -> dict:
    """An HF config for HuBERT tensors (HF keys, weight_g/weight_v): chinese-hubert-base's architecture with the
    widths, layer count and positional-conv size read from the tensors (heads: one per 64 channels)."""
    hidden = int(hubert_state["feature_projection.projection.weight"].shape[0])
    pos_v = hubert_state["encoder.pos_conv_embed.conv.weight_v"]
    layers = {int(k.split(".")[2]) for k in hubert_state if k.startswith("encoder.layers.")}
    conv = [int(hubert_state[f"feature_extractor.conv_layers.{i}.conv.weight"].shape[0]) for i in range(7)]
    config = {**HUBERT_BASE_CONFIG, "hidden_size": hidden, "num_hidden_layers": len(layers), "conv_dim": conv,
              "num_attention_heads": max(1, hidden // HEAD_WIDTH), "num_conv_pos_embeddings": int(pos_v.shape[-1]),
              "num_conv_pos_embedding_groups": hidden // int(pos_v.shape[1])}
    if layers:
        first_dense = hubert_state["encoder.layers.0.feed_forward.intermediate_dense.weight"]
        config["intermediate_size"] = int(first_dense.shape[0])
    return config


def joyvasa_audio_encoder(release_state_dict: dict, dtype: torch.dtype = torch.float32,
                          name: str = "JoyVASA's embedded HuBERT") -> AudioEncoder:
    """The HuBERT embedded in a released generator's state dict (either weight-norm spelling), loaded strictly,
    with the release windowing. name: how messages call it (e.g. '<file>'s embedded HuBERT')."""
    _, hubert = split_audio_encoder(release_state_dict)
    return embedded_encoder(hubert, dtype, name)


def embedded_encoder(hubert: dict, dtype: torch.dtype = torch.float32,
                     name: str = "JoyVASA's embedded HuBERT") -> AudioEncoder:
    """HuBERT tensors (HF keys, as split_audio_encoder returns them) -> the windowed encoder."""
    if not hubert:
        raise ValueError("this JoyVASA checkpoint holds no embedded audio encoder (audio_encoder.* keys)")
    encoder = encoder_from_hf_state_dict(hubert, hubert_config(hubert), "hubert", normalize_input=False, name=name,
                                         dtype=dtype)
    encoder.windowing = RELEASE_WINDOWING
    return encoder
