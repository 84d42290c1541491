"""wav2vec2 / HuBERT encoder hyper-parameters, read from Hugging Face ``config.json`` or inferred from weights.

The public checkpoints this pack documents (both 768-d, 12 layers, 50 frames per second at 16 kHz):

- ``facebook/wav2vec2-base-960h`` (Wav2Vec2ForCTC; its feature extractor has ``do_normalize=True``:
  each clip is scaled to zero mean and unit variance before the network)
- ``TencentGameMate/chinese-hubert-base`` (HubertModel; JoyVASA feeds it the raw waveform)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

FAMILIES = ("wav2vec2", "hubert")

# Conv front-end of every public wav2vec2/HuBERT model: total stride 320 samples = 50 frames/s at 16 kHz.
STANDARD_CONV_KERNEL = (10, 3, 3, 3, 3, 2, 2)
STANDARD_CONV_STRIDE = (5, 2, 2, 2, 2, 2, 2)

# Input normalisation each family was trained with when nothing else says so:
# wav2vec2-base-960h's preprocessor_config.json sets do_normalize=True; JoyVASA feeds HuBERT raw audio.
DEFAULT_NORMALIZE_INPUT = {"wav2vec2": True, "hubert": False}

# Attention heads are not visible in the weights: the public sizes use these (else width // 64).
HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 16}


class EncoderConfigError(ValueError):
    """The configuration describes a model this loader does not build."""


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of a wav2vec2 / HuBERT encoder (the fields of HF's Wav2Vec2Config / HubertConfig we use).

    ``stable_layer_norm`` is HF's ``do_stable_layer_norm`` (pre-LN layers, final LayerNorm after the last
    layer: the "large" models); False is the post-LN "base" layout (LayerNorm before the first layer).
    """

    family: str = "wav2vec2"
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = STANDARD_CONV_KERNEL
    conv_stride: tuple[int, ...] = STANDARD_CONV_STRIDE
    conv_bias: bool = False
    feat_extract_norm: str = "group"
    feat_proj_layer_norm: bool = True
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    stable_layer_norm: bool = False
    layer_norm_eps: float = 1e-5
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise EncoderConfigError(f"unknown encoder family {self.family!r}; expected one of {FAMILIES}")
        if not (len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride)):
            raise EncoderConfigError("conv_dim, conv_kernel and conv_stride must have the same length")
        if self.feat_extract_norm not in ("group", "layer"):
            raise EncoderConfigError(f"feat_extract_norm {self.feat_extract_norm!r} is not supported (group, layer)")
        if self.hidden_size % self.num_heads:
            raise EncoderConfigError(f"hidden_size {self.hidden_size} is not divisible by {self.num_heads} heads")

    @property
    def hop_length(self) -> int:
        """Input samples per output frame (320 for every public model)."""
        hop = 1
        for s in self.conv_stride:
            hop *= s
        return hop

    @property
    def receptive_field(self) -> int:
        """Input samples one output frame sees (400 for every public model)."""
        field_, jump = 1, 1
        for k, s in zip(self.conv_kernel, self.conv_stride):
            field_ += (k - 1) * jump
            jump *= s
        return field_

    @property
    def size_name(self) -> str:
        if (self.hidden_size, self.num_layers) == (768, 12):
            return "base"
        if (self.hidden_size, self.num_layers) == (1024, 24):
            return "large"
        return f"{self.num_layers}x{self.hidden_size}"

    def num_frames(self, num_samples: int) -> int:
        """Encoder frames for ``num_samples`` input samples (0 when shorter than the receptive field)."""
        n = num_samples
        for k, s in zip(self.conv_kernel, self.conv_stride):
            n = max(0, (n - k) // s + 1)
        return n

    def torchaudio_kwargs(self) -> dict:
        """Keyword arguments for ``torchaudio.models.wav2vec2_model`` (dropouts off: inference only)."""
        return dict(
            extractor_mode=f"{self.feat_extract_norm}_norm",
            extractor_conv_layer_config=list(zip(self.conv_dim, self.conv_kernel, self.conv_stride)),
            extractor_conv_bias=self.conv_bias,
            encoder_embed_dim=self.hidden_size,
            encoder_projection_dropout=0.0,
            encoder_pos_conv_kernel=self.pos_conv_kernel,
            encoder_pos_conv_groups=self.pos_conv_groups,
            encoder_num_layers=self.num_layers,
            encoder_num_heads=self.num_heads,
            encoder_attention_dropout=0.0,
            encoder_ff_interm_features=self.intermediate_size,
            encoder_ff_interm_dropout=0.0,
            encoder_dropout=0.0,
            encoder_layer_norm_first=self.stable_layer_norm,
            encoder_layer_drop=0.0,
            aux_num_out=None,
        )

    @classmethod
    def from_hf(cls, hf: Mapping[str, Any], family: str | None = None) -> "EncoderConfig":
        """From a Hugging Face ``config.json`` dict (Wav2Vec2Config / HubertConfig fields)."""
        model_type = str(hf.get("model_type", family or "wav2vec2"))
        if model_type not in FAMILIES:
            raise EncoderConfigError(
                f"config.json has model_type {model_type!r}; only wav2vec2 and hubert encoders are supported"
            )
        for key, expected in (("hidden_act", "gelu"), ("feat_extract_activation", "gelu")):
            if hf.get(key, expected) != expected:
                raise EncoderConfigError(f"config.json {key}={hf[key]!r} is not supported (only {expected!r})")
        for key in ("add_adapter", "conv_pos_batch_norm"):
            if hf.get(key):
                raise EncoderConfigError(f"config.json {key}=true is not supported by this loader")
        if hf.get("adapter_attn_dim"):
            raise EncoderConfigError("config.json adapter_attn_dim (attention adapters) is not supported")
        base = cls()
        return cls(
            family=family or model_type,
            hidden_size=int(hf.get("hidden_size", base.hidden_size)),
            num_layers=int(hf.get("num_hidden_layers", base.num_layers)),
            num_heads=int(hf.get("num_attention_heads", base.num_heads)),
            intermediate_size=int(hf.get("intermediate_size", base.intermediate_size)),
            conv_dim=tuple(int(v) for v in hf.get("conv_dim", base.conv_dim)),
            conv_kernel=tuple(int(v) for v in hf.get("conv_kernel", base.conv_kernel)),
            conv_stride=tuple(int(v) for v in hf.get("conv_stride", base.conv_stride)),
            conv_bias=bool(hf.get("conv_bias", base.conv_bias)),
            feat_extract_norm=str(hf.get("feat_extract_norm", base.feat_extract_norm)),
            feat_proj_layer_norm=bool(hf.get("feat_proj_layer_norm", True)),
            pos_conv_kernel=int(hf.get("num_conv_pos_embeddings", base.pos_conv_kernel)),
            pos_conv_groups=int(hf.get("num_conv_pos_embedding_groups", base.pos_conv_groups)),
            stable_layer_norm=bool(hf.get("do_stable_layer_norm", base.stable_layer_norm)),
            layer_norm_eps=float(hf.get("layer_norm_eps", base.layer_norm_eps)),
            extra={k: hf[k] for k in ("architectures", "_name_or_path") if k in hf},
        )

    def to_hf(self) -> dict:
        """The Hugging Face ``config.json`` fields that describe this architecture."""
        return {
            "model_type": self.family,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "conv_dim": list(self.conv_dim),
            "conv_kernel": list(self.conv_kernel),
            "conv_stride": list(self.conv_stride),
            "conv_bias": self.conv_bias,
            "feat_extract_norm": self.feat_extract_norm,
            "feat_proj_layer_norm": self.feat_proj_layer_norm,
            "num_conv_pos_embeddings": self.pos_conv_kernel,
            "num_conv_pos_embedding_groups": self.pos_conv_groups,
            "do_stable_layer_norm": self.stable_layer_norm,
            "layer_norm_eps": self.layer_norm_eps,
            "hidden_act": "gelu",
            "feat_extract_activation": "gelu",
        }

    def with_family(self, family: str) -> "EncoderConfig":
        return replace(self, family=family)


def infer_config(shapes: Mapping[str, tuple], family: str = "wav2vec2") -> EncoderConfig:
    """Architecture from the shapes of an HF-named state dict (prefix already removed).

    Widths, layer count, FFN size, conv channels/kernels/bias, the conv norm mode and the positional
    conv come from shapes. Not visible in weights and taken from the public models: strides (standard
    kernels only), heads (``HEADS_BY_WIDTH``), and ``stable_layer_norm`` (True exactly when the conv
    front-end uses per-layer LayerNorm, as in every public large model).
    """
    def need(key: str) -> tuple:
        if key not in shapes:
            raise EncoderConfigError(f"cannot infer the encoder architecture: key {key!r} is missing")
        return tuple(shapes[key])

    conv_dim, conv_kernel = [], []
    while f"feature_extractor.conv_layers.{len(conv_dim)}.conv.weight" in shapes:
        out_ch, _, kernel = need(f"feature_extractor.conv_layers.{len(conv_dim)}.conv.weight")
        conv_dim.append(int(out_ch))
        conv_kernel.append(int(kernel))
    if not conv_dim:
        need("feature_extractor.conv_layers.0.conv.weight")
    if tuple(conv_kernel) != STANDARD_CONV_KERNEL:
        raise EncoderConfigError(
            f"conv kernels {tuple(conv_kernel)} are not the standard {STANDARD_CONV_KERNEL}: the strides "
            "cannot be inferred; put the model's config.json next to the weights"
        )
    hidden = need("feature_projection.projection.weight")[0]
    num_layers = 0
    while f"encoder.layers.{num_layers}.attention.q_proj.weight" in shapes:
        num_layers += 1
    if num_layers == 0:
        need("encoder.layers.0.attention.q_proj.weight")
    intermediate = need("encoder.layers.0.feed_forward.intermediate_dense.weight")[0]
    pos_v = None
    for name in ("parametrizations.weight.original1", "weight_v", "weight"):
        pos_v = shapes.get(f"encoder.pos_conv_embed.conv.{name}")
        if pos_v is not None:
            break
    if pos_v is None:
        need("encoder.pos_conv_embed.conv.weight_v")
    layer_mode = "feature_extractor.conv_layers.1.layer_norm.weight" in shapes
    return EncoderConfig(
        family=family,
        hidden_size=int(hidden),
        num_layers=num_layers,
        num_heads=HEADS_BY_WIDTH.get(int(hidden), max(1, int(hidden) // 64)),
        intermediate_size=int(intermediate),
        conv_dim=tuple(conv_dim),
        conv_kernel=tuple(conv_kernel),
        conv_stride=STANDARD_CONV_STRIDE,
        conv_bias="feature_extractor.conv_layers.0.conv.bias" in shapes,
        feat_extract_norm="layer" if layer_mode else "group",
        feat_proj_layer_norm="feature_projection.layer_norm.weight" in shapes,
        pos_conv_kernel=int(pos_v[2]),
        pos_conv_groups=int(hidden) // int(pos_v[1]),
        stable_layer_norm=layer_mode,
    )
