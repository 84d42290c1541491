"""convert-joyvasa: JoyVASA's released .pt + motion_template.pkl -> our motion .safetensors
(with its embedded HuBERT)."""

from __future__ import annotations

import json
import os

from ..checkpoint.io import write_safetensors
from .checkpoint import save_motion_model
from .joyvasa_audio import hubert_config
from .joyvasa_release import find_template, model_from_release
from .models.joyvasa import POSITIONAL_ENCODINGS


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", help="path to motion_generator_hubert_chinese.pt")
    parser.add_argument("--template", default=None, help="motion_template.pkl (default: found next to the checkpoint)")
    parser.add_argument("--out", default=None, help="output .safetensors (default: "
                                                    "joyvasa_motion.safetensors beside the input)")
    parser.add_argument("--audio-out", default=None,
                        help="also write the embedded (fine-tuned) HuBERT alone as a safetensors audio encoder, e.g. "
                             "for feature extraction (the motion file keeps its own copy, which drives it)")
    parser.add_argument("--positional-encoding", choices=POSITIONAL_ENCODINGS, default="released")


def run(args) -> int:
    template = args.template or find_template(args.checkpoint)
    model, hubert, release_args = model_from_release(args.checkpoint, None, template, args.positional_encoding,
                                                     keep_audio_encoder=True)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "joyvasa_motion.safetensors")
    save_motion_model(model, out, audio_encoder=hubert, source=os.path.basename(args.checkpoint),
                      template=os.path.basename(template),
                      release_args=json.dumps({k: str(v) for k, v in release_args.items()}, sort_keys=True))
    print(f"wrote {out}: {model.describe()}" + (", with its embedded HuBERT" if hubert else ""))
    if args.audio_out:
        if not hubert:
            raise ValueError(f"{os.path.basename(args.checkpoint)} holds no embedded audio encoder")
        tensors = {k: v.detach() for k, v in hubert.items()}
        write_safetensors(args.audio_out, tensors, {"format": "pt", "family": "hubert", "name": "joyvasa-hubert",
                                                    "config": hubert_config(hubert)})
        print(f"wrote {args.audio_out}: HuBERT, {len(tensors)} tensors")
    return 0
