"""wav2vec2 / HuBERT encoders on torchaudio's model definitions, loaded strictly from Hugging Face layouts.

Public API (stable; the motion models code against it):

- ``AudioEncoder``: an ``nn.Module`` with ``encode(waveform_16k [B, T]) -> hidden states [B, T50, D]``
  and the attributes ``family`` ("wav2vec2" | "hubert"), ``name``, ``dim``, ``num_layers``,
  ``normalize_input``, ``config`` (``EncoderConfig``), ``windowing`` (None, or how it must be run).
- ``encoder_from_hf_state_dict(state_dict, config=None, family=None)``: build one from HF-named tensors.
- ``load_audio_encoder(path)``: from an HF folder or a single weights file.

Hidden states follow Hugging Face's ``output_hidden_states`` numbering: index 0 is the transformer input
(after the positional convolution, and after the encoder LayerNorm in post-LN "base" models), index k the
output of layer k, and index ``num_layers`` is ``last_hidden_state`` (with the final LayerNorm in
stable-layer-norm "large" models). Negative indices count from the end (-1 = last_hidden_state).
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from ..devices import ParameterPlacement
from .checkpoint import EncoderWeightsError, encoder_keys, load_strict, read_encoder_source, to_torchaudio_names
from .config import DEFAULT_NORMALIZE_INPUT, EncoderConfig, infer_config
from .waveform import ENCODER_SAMPLE_RATE, zero_mean_unit_var

CONV_BLOCK_FRAMES = 250  # conv front-end runs in blocks of 5 s of output frames (memory stays flat)
STATS_BLOCK_OUTPUTS = 16000  # first-conv outputs per block when gathering GroupNorm statistics (5 s)
DEFAULT_CONTEXT_SECONDS = 5.0  # attention context kept on each side of a chunk


class AudioEncoder(ParameterPlacement, nn.Module):
    """A wav2vec2 / HuBERT encoder (torchaudio modules) producing hidden states at 50 frames/s.

    ``normalize_input``: scale each clip to zero mean and unit variance before the network (what
    wav2vec2-base-960h's feature extractor does); False feeds the waveform as it is (HuBERT, JoyVASA).
    """

    sample_rate = ENCODER_SAMPLE_RATE
    windowing = None  # a windowed.WindowedEncoding when the encoder must run in fixed windows (JoyVASA's HuBERT)

    def __init__(self, config: EncoderConfig, name: str | None = None, normalize_input: bool | None = None):
        super().__init__()
        import torchaudio

        self.config = config
        self.family = config.family
        self.name = name or f"{config.family}-{config.size_name}"
        self.dim = config.hidden_size
        self.num_layers = config.num_layers
        if normalize_input is None:
            normalize_input = DEFAULT_NORMALIZE_INPUT[config.family]
        self.normalize_input = bool(normalize_input)
        self.model = torchaudio.models.wav2vec2_model(**config.torchaudio_kwargs())
        encoder = self.model.encoder
        if not config.feat_proj_layer_norm:
            encoder.feature_projection.layer_norm = nn.Identity()
        for module in encoder.modules():
            if isinstance(module, nn.LayerNorm):
                module.eps = config.layer_norm_eps
        self.eval().requires_grad_(False)

    @property
    def kind(self) -> str:
        """Family and size, e.g. "wav2vec2-base", "hubert-base" (``AudioFeatures.encoder``)."""
        return f"{self.family}-{self.config.size_name}"

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.config.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Encoder frames for a 16 kHz clip (clips shorter than one receptive field are padded to one frame)."""
        return self.config.num_frames(max(int(num_samples), self.config.receptive_field))

    def layer_index(self, layer: int) -> int:
        """A hidden-state index in [0, num_layers]; negative values count from the end."""
        index = int(layer) + (self.num_layers + 1 if int(layer) < 0 else 0)
        if not 0 <= index <= self.num_layers:
            raise ValueError(
                f"layer {layer} does not exist: {self.name} has hidden states 0..{self.num_layers} (or -1 for the last)"
            )
        return index

    def encode(
        self,
        waveform_16k: torch.Tensor,
        layer: int | Sequence[int] | None = None,
        *,
        chunk_seconds: float | None = None,
        context_seconds: float = DEFAULT_CONTEXT_SECONDS,
        progress: Callable[[int, int], None] | None = None,
    ):
        """Hidden states of a 16 kHz mono waveform [B, T] (or [T]) with samples in [-1, 1].

        layer: None -> tuple of all ``num_layers + 1`` hidden states; an int -> that one [B, T50, D];
        a sequence of ints -> tuple of those. Outputs are float32 on the encoder's device.
        T50 = ``num_frames(T)``. ``normalize_input`` is applied here, per clip.

        chunk_seconds: None runs the whole clip through attention at once (exact HF semantics). A value
        splits the transformer into chunks of that length, each run with ``context_seconds`` of
        neighbours on both sides, so memory and attention span stay bounded for long clips. Neighbouring
        chunks cross-fade linearly over ``min(context, chunk)`` around each seam (weights sum to one), so
        the features stay continuous. The conv front-end always runs in blocks with GroupNorm statistics
        over the whole clip, so it equals the whole-clip result either way.
        ``progress(done, total)`` is called after each chunk.
        """
        wave = waveform_16k.unsqueeze(0) if waveform_16k.ndim == 1 else waveform_16k
        if wave.ndim != 2 or wave.shape[-1] == 0:
            raise ValueError(f"waveform_16k must be [batch, samples > 0], got {tuple(waveform_16k.shape)}")
        if layer is None:
            layer_list = range(self.num_layers + 1)
        else:
            layer_list = [layer] if isinstance(layer, int) else list(layer)
        indices = [self.layer_index(i) for i in layer_list]
        if not indices:
            raise ValueError("layer: give at least one hidden-state index, or None for all")
        wave = wave.to(self.device, torch.float32)
        if self.normalize_input:
            wave = zero_mean_unit_var(wave)
        short = self.config.receptive_field - wave.shape[-1]
        if short > 0:
            wave = nn.functional.pad(wave, (0, short))
        with torch.inference_mode():
            conv = self._conv_features(wave.to(self.dtype))
            frames = conv.shape[1]
            chunk = frames if chunk_seconds is None else max(1, int(round(chunk_seconds * self.frame_rate)))
            context = int(round(context_seconds * self.frame_rate)) if chunk < frames else 0
            blend = min(context, chunk) // 2
            starts = range(0, frames, chunk)
            outputs = {i: torch.zeros(conv.shape[0], frames, self.dim, device=conv.device) for i in indices}
            for n, start in enumerate(starts, 1):
                stop = min(frames, start + chunk)
                lo, hi = max(0, start - context), min(frames, stop + context)
                states = self._hidden_states(self.model.encoder.feature_projection(conv[:, lo:hi]), set(indices))
                weight = _window_weights(lo, hi, start, stop, blend, first=start == 0, last=stop == frames)
                for i in indices:
                    outputs[i][:, lo:hi] += states[i].float() * weight.to(conv.device)[None, :, None]
                if progress is not None:
                    progress(n, len(starts))
        result = tuple(outputs[i] for i in indices)
        return result[0] if isinstance(layer, int) else result

    def _conv_features(self, wave: torch.Tensor) -> torch.Tensor:
        """Conv front-end [B, T] -> [B, F, C], in blocks of output frames (exact: blocks do not overlap in output)."""
        cfg = self.config
        frames = cfg.num_frames(wave.shape[-1])
        if frames <= CONV_BLOCK_FRAMES:
            return self.model.feature_extractor(wave, None)[0]
        stats = self._first_norm_stats(wave) if cfg.feat_extract_norm == "group" else None
        hop, field_ = cfg.hop_length, cfg.receptive_field
        blocks = []
        for start in range(0, frames, CONV_BLOCK_FRAMES):
            stop = min(frames, start + CONV_BLOCK_FRAMES)
            blocks.append(self._conv_stack(wave[:, hop * start: hop * (stop - 1) + field_], stats))
        return torch.cat(blocks, dim=1)

    def _conv_stack(self, wave: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        x = wave.unsqueeze(1)
        for i, block in enumerate(self.model.feature_extractor.conv_layers):
            x = block.conv(x)
            if i == 0 and stats is not None:
                mean, inv_std = stats
                norm = block.layer_norm
                x = ((x - mean) * inv_std) * norm.weight[:, None] + norm.bias[:, None]
            elif block.layer_norm is not None:
                x = block.layer_norm(x)
            x = nn.functional.gelu(x)
        return x.transpose(1, 2)

    def _first_norm_stats(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and 1/std over time of the first conv's output for the whole clip (GroupNorm).

        Runs the first conv in blocks and merges per-block (count, mean, M2) in float64 (Chan et al.).
        """
        conv = self.model.feature_extractor.conv_layers[0].conv
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        outputs = (wave.shape[-1] - kernel) // stride + 1
        count, mean, m2 = 0, 0.0, 0.0
        for start in range(0, outputs, STATS_BLOCK_OUTPUTS):
            stop = min(outputs, start + STATS_BLOCK_OUTPUTS)
            y = conv(wave[:, None, stride * start: stride * (stop - 1) + kernel]).float()
            var_b, mean_b = torch.var_mean(y, dim=-1, keepdim=True, correction=0)
            n_b = stop - start
            delta = mean_b.double() - mean
            total = count + n_b
            mean = mean + delta * (n_b / total)
            m2 = m2 + var_b.double() * n_b + delta * delta * (count * n_b / total)
            count = total
        eps = self.model.feature_extractor.conv_layers[0].layer_norm.eps
        return mean.to(wave.dtype), torch.rsqrt(m2 / count + eps).to(wave.dtype)

    def _hidden_states(self, x: torch.Tensor, wanted: set[int]) -> dict[int, torch.Tensor]:
        """Projected features [B, F, D] -> {index: hidden state} for the wanted indices (stops early)."""
        transformer = self.model.encoder.transformer
        norm_before = transformer.layer_norm_first  # torchaudio: True for post-LN ("base") models
        x = x + transformer.pos_conv_embed(x)
        if norm_before:
            x = transformer.layer_norm(x)
        states = {0: x} if 0 in wanted else {}
        for index, block in enumerate(transformer.layers[: max(wanted)], start=1):
            x, _ = block(x)
            if index in wanted:
                states[index] = x if norm_before or index < self.num_layers else transformer.layer_norm(x)
        return states


def encoder_from_hf_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping | EncoderConfig | None = None,
    family: str | None = None,
    *,
    prefix: str | None = None,
    normalize_input: bool | None = None,
    name: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> AudioEncoder:
    """An ``AudioEncoder`` from Hugging Face-named tensors (Wav2Vec2Model / HubertModel keys), loaded strictly.

    state_dict: HF keys, optionally under a prefix ("wav2vec2.", "hubert.", "audio_encoder.", ...). With
        ``prefix=None`` it is detected and keys outside it must be known heads (lm_head, quantizer, ...);
        with an explicit ``prefix`` other keys are ignored (e.g. the rest of a JoyVASA checkpoint).
    config: an HF ``config.json`` dict or an ``EncoderConfig``; None infers it from the tensor shapes
        (``config.infer_config``: strides, heads and layer-norm placement of the public models).
    family: "wav2vec2" or "hubert"; default from the config's model_type, else the prefix, else wav2vec2.
    normalize_input: None uses the family default (wav2vec2 True, hubert False).
    Both positional-conv weight-norm spellings (weight_g/weight_v, parametrizations.weight.original0/1)
    are accepted; missing, unexpected or misshapen keys raise ``EncoderWeightsError``.
    """
    tensors, found_prefix = encoder_keys(state_dict, prefix)
    if family is None:
        if isinstance(config, EncoderConfig):
            family = config.family
        elif isinstance(config, Mapping) and config.get("model_type"):
            family = str(config["model_type"])
        else:
            family = "hubert" if "hubert" in found_prefix else "wav2vec2"
    if isinstance(config, EncoderConfig):
        cfg = config.with_family(family)
    elif config is not None:
        cfg = EncoderConfig.from_hf(config, family)
    else:
        cfg = infer_config({k: tuple(v.shape) for k, v in tensors.items()}, family)
    encoder = AudioEncoder(cfg, name=name, normalize_input=normalize_input)
    mapped, origin = to_torchaudio_names(tensors)
    load_strict(encoder.model, mapped, origin)
    return encoder.to(dtype)


def load_audio_encoder(
    path: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    normalize_input: bool | None = None,
) -> AudioEncoder:
    """Load an HF folder (config.json + weights) or a single .safetensors / .bin file, strictly.

    normalize_input: None -> preprocessor_config.json's ``do_normalize`` when present, else the family
    default. The encoder's ``name`` is the folder or file name.
    """
    try:
        source = read_encoder_source(path)
        family = None
        if source.config is None and "hubert" in source.name.lower():
            family = "hubert"
        if normalize_input is None and source.preprocessor is not None and "do_normalize" in source.preprocessor:
            normalize_input = bool(source.preprocessor["do_normalize"])
        encoder = encoder_from_hf_state_dict(
            source.tensors, source.config, family, normalize_input=normalize_input, name=source.name, dtype=dtype
        )
    except ValueError as exc:  # CheckpointError, EncoderWeightsError, EncoderConfigError
        name = os.path.basename(os.path.normpath(path))
        raise EncoderWeightsError(str(exc) if name in str(exc) else f"{name}: {exc}") from exc
    return encoder.to(device)


def _window_weights(lo: int, hi: int, start: int, stop: int, blend: int, first: bool, last: bool) -> torch.Tensor:
    """Blend weights over frames [lo, hi) of the window whose core is [start, stop).

    Linear ramps of width 2 * blend centred on the seams at ``start`` (unless first) and ``stop``
    (unless last); the ramps of two neighbouring windows sum to one. blend = 0 is a hard cut.
    """
    t = torch.arange(lo, hi, dtype=torch.float64) + 0.5
    weight = torch.ones_like(t)
    if not first:
        weight *= ((t - start + blend) / (2 * blend)).clamp(0, 1) if blend else (t > start).double()
    if not last:
        weight *= ((stop + blend - t) / (2 * blend)).clamp(0, 1) if blend else (t < stop).double()
    return weight.float()
