"""convert-joyvasa: JoyVASA's released .pt + motion_template.pkl -> our motion .safetensors (+ its HuBERT)."""

from __future__ import annotations

import json
import os

from ..checkpoint.io import write_safetensors
from .checkpoint import save_motion_model
from .joyvasa_release import find_template, model_from_release
from .models.joyvasa import POSITIONAL_ENCODINGS


# chinese-hubert-base's architecture (HF HubertConfig fields); the layer count is read from the weights.
HUBERT_BASE_CONFIG = {
    "model_type": "hubert", "architectures": ["HubertModel"], "hidden_size": 768, "intermediate_size": 3072,
    "num_attention_heads": 12, "num_hidden_layers": 12, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group", "feat_extract_activation": "gelu", "conv_dim": [512] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_bias": False,
    "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16, "do_stable_layer_norm": False,
    "feat_proj_layer_norm": True,
}


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", help="path to motion_generator_hubert_chinese.pt")
    parser.add_argument("--template", default=None, help="motion_template.pkl (default: found next to the checkpoint)")
    parser.add_argument("--out", default=None, help="output .safetensors (default: joyvasa_motion.safetensors beside the input)")
    parser.add_argument("--audio-out", default=None,
                        help="also write the embedded (fine-tuned) HuBERT as a safetensors audio encoder, e.g. "
                             "models/audio_encoders/joyvasa_hubert.safetensors")
    parser.add_argument("--positional-encoding", choices=POSITIONAL_ENCODINGS, default="released")


def hubert_config(hubert_state: dict) -> dict:
    layers = {int(k.split(".")[2]) for k in hubert_state if k.startswith("encoder.layers.")}
    return {**HUBERT_BASE_CONFIG, "num_hidden_layers": len(layers)}


def run(args) -> int:
    template = args.template or find_template(args.checkpoint)
    model, hubert, release_args = model_from_release(args.checkpoint, None, template, args.positional_encoding,
                                                     keep_audio_encoder=bool(args.audio_out))
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "joyvasa_motion.safetensors")
    save_motion_model(model, out, source=os.path.basename(args.checkpoint), template=os.path.basename(template),
                      release_args=json.dumps({k: str(v) for k, v in release_args.items()}, sort_keys=True))
    print(f"wrote {out}: {model.describe()}")
    if args.audio_out:
        if not hubert:
            raise ValueError(f"{os.path.basename(args.checkpoint)} holds no embedded audio encoder")
        tensors = {k: v.detach() for k, v in hubert.items()}
        write_safetensors(args.audio_out, tensors, {"format": "pt", "family": "hubert", "name": "joyvasa-hubert",
                                                    "config": hubert_config(hubert)})
        print(f"wrote {args.audio_out}: HuBERT, {len(tensors)} tensors")
    return 0
