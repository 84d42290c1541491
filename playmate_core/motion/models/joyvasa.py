"""JoyVASA's motion generator (jdh-algo/JoyVASA, MIT), re-implemented from its published description.

A post-norm transformer decoder over P + W motion tokens (P = 25 previous frames, W = 100 current frames):
tokens = FC(cat(prev motion, noisy motion)) + positional encoding + step embedding; cross-attention to the
per-frame audio features where token i may only see audio frame i; a 256 -> 128 -> 70 head predicting the
clean motion (x0). Parameter and buffer names follow the released checkpoint (``denoising_net.*``,
``audio_feature_map``, ``start_*_feat``, ``null_audio_feat``, ``diffusion_sched.*``) so conversion is a
rename-free copy. The embedded HuBERT audio encoder is not part of this module (see joyvasa_release).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..normalization import TemplateNormalizer
from ..postprocess import anchor_to_first_frame
from ..schedulers import NoiseSchedule
from ...config import Config
from .base import MotionModel, WindowConditions
from .embeddings import sinusoid_table

POSITIONAL_ENCODINGS = ("released", "fixed")
SCHEDULE_BUFFERS = ("betas", "alphas", "alpha_bars", "sigmas_flex", "sigmas_inflex")


@dataclass(frozen=True)
class JoyVASAConfig(Config):
    motion_dim: int = 70
    window: int = 100               # n_motions
    num_prev: int = 25              # n_prev_motions
    dim: int = 256                  # feature_dim
    heads: int = 8
    layers: int = 8                 # the released code's default (args.n_layers is not used)
    mlp_ratio: int = 4
    train_steps: int = 50           # n_diff_steps
    audio_dim: int = 768
    audio_model: str = "hubert_zh"
    fps: float = 25.0
    pe_rows: int = 600
    positional_encoding: str = "released"  # 'released' = constant pe[P + W] on every token (the weights'
                                           # training behaviour); 'fixed' = pe[:P + W] per position



class PositionalTable(nn.Module):
    def __init__(self, rows: int, dim: int):
        super().__init__()
        self.register_buffer("pe", sinusoid_table(rows, dim).unsqueeze(0))


class DecoderLayer(nn.Module):
    """nn.TransformerDecoderLayer's parameters (post-norm, GELU); cross-attention with a width-1
    alignment reduces exactly to out_proj(v_proj(audio_i)), computed once per window."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.linear1 = nn.Linear(dim, dim * mlp_ratio)
        self.linear2 = nn.Linear(dim * mlp_ratio, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def aligned_cross_attention(self, memory: torch.Tensor) -> torch.Tensor:
        d = memory.shape[-1]
        attn = self.multihead_attn
        values = F.linear(memory, attn.in_proj_weight[2 * d:], attn.in_proj_bias[2 * d:])
        return attn.out_proj(values)

    def forward(self, x: torch.Tensor, cross: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        attn = self.self_attn
        qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(b, n, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = self.norm1(x + attn.out_proj(y))
        x = self.norm2(x + cross)
        return self.norm3(x + self.linear2(F.gelu(self.linear1(x))))


class DecoderStack(nn.Module):
    def __init__(self, config: JoyVASAConfig):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(config.dim, config.heads, config.mlp_ratio)
                                    for _ in range(config.layers))


class Denoiser(nn.Module):
    def __init__(self, config: JoyVASAConfig):
        super().__init__()
        d, seq = config.dim, config.num_prev + config.window
        self.diff_step_map = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.PE = PositionalTable(config.pe_rows, d)
        self.feature_proj = nn.Linear(config.motion_dim, d)
        self.transformer = DecoderStack(config)
        self.motion_dec = nn.Sequential(nn.Linear(d, d // 2), nn.GELU(), nn.Linear(d // 2, config.motion_dim))
        self.register_buffer("alignment_mask", ~torch.eye(seq, dtype=torch.bool))
        self.register_buffer("step_table", sinusoid_table(config.train_steps + 1, d), persistent=False)


class ScheduleBuffers(nn.Module):
    def __init__(self, schedule: NoiseSchedule):
        super().__init__()
        betas = schedule.betas
        ab = schedule.alpha_bars
        sigmas_inflex = torch.zeros_like(betas)
        sigmas_inflex[1:] = ((1 - ab[:-1]) / (1 - ab[1:]) * betas[1:]).sqrt()
        for name, value in zip(SCHEDULE_BUFFERS, (betas, 1 - betas, ab, betas.sqrt(), sigmas_inflex)):
            self.register_buffer(name, value.clone())


class JoyVASAMotionModel(MotionModel):
    family = "joyvasa"
    prediction = "sample"
    default_sampler = "ddpm"
    default_audio_cfg = 4.0  # what the official Gradio app sends (its CLI: 2.8)
    reuse_window_noise = True
    audio_encoder = "joyvasa-hubert"  # the features of its own embedded HuBERT (motion.joyvasa_audio), nothing else
    float32_modules = ("normalizer", "diffusion_sched")

    def __init__(self, config: JoyVASAConfig, normalizer: TemplateNormalizer):
        super().__init__()
        if config.positional_encoding not in POSITIONAL_ENCODINGS:
            raise ValueError("positional_encoding must be one of "
                             f"{POSITIONAL_ENCODINGS}, got {config.positional_encoding!r}")
        self.config = config
        self.fps, self.window, self.num_prev, self.overlap = config.fps, config.window, config.num_prev, 0
        self.audio_dim = config.audio_dim
        d = config.dim
        self.normalizer = normalizer
        self.audio_feature_map = nn.Linear(config.audio_dim, d)
        self.start_audio_feat = nn.Parameter(torch.zeros(1, config.num_prev, d))
        self.start_motion_feat = nn.Parameter(torch.zeros(1, config.num_prev, config.motion_dim))
        self.null_audio_feat = nn.Parameter(torch.zeros(1, 1, d))
        self.denoising_net = Denoiser(config)
        self.diffusion_sched = ScheduleBuffers(NoiseSchedule.cosine(config.train_steps))

    @property
    def default_steps(self) -> int:
        """Its released sampling: the full ancestral chain, one step per training step (50)."""
        return int(self.config.train_steps)

    @property
    def schedule(self) -> NoiseSchedule:
        """The schedule stored with the weights (float32 buffers, index 0 = clean)."""
        return NoiseSchedule(self.diffusion_sched.betas.detach().cpu().float(),
                             self.diffusion_sched.alpha_bars.detach().cpu().float())

    def check_buffers(self) -> None:
        """The released model only supports the one-to-one audio alignment; say so for any other mask."""
        expected = ~torch.eye(self.config.num_prev + self.config.window, dtype=torch.bool,
                              device=self.denoising_net.alignment_mask.device)
        if not torch.equal(self.denoising_net.alignment_mask, expected):
            raise ValueError("this JoyVASA file uses an audio alignment mask "
                             "other than width 1, which is not supported")

    def encode_conditions(self, cond: WindowConditions):
        net = self.denoising_net
        audio = self.audio_feature_map(cond.audio)
        b, w, d = audio.shape
        audio = torch.where(cond.drop_audio.view(b, 1, 1), self.null_audio_feat.expand(b, w, d), audio)
        if cond.prev_motion is None:
            prev_motion = self.start_motion_feat.expand(b, -1, -1)
            prev_audio = self.start_audio_feat.expand(b, -1, -1)
        else:
            prev_motion, prev_audio = cond.prev_motion, self.audio_feature_map(cond.prev_audio)
            if cond.use_start is not None:
                first = cond.use_start.view(b, 1, 1)
                prev_motion = torch.where(first, self.start_motion_feat.expand(b, -1, -1), prev_motion)
                prev_audio = torch.where(first, self.start_audio_feat.expand(b, -1, -1), prev_audio)
        memory = torch.cat([prev_audio, audio], dim=1)
        cross = [layer.aligned_cross_attention(memory) for layer in net.transformer.layers]
        length = self.config.num_prev + w
        if self.config.positional_encoding == "released":
            positions = net.PE.pe[:, self.config.num_prev + self.config.window]
        else:
            positions = net.PE.pe[:, :length]
        return net.feature_proj(prev_motion), cross, positions

    def denoise(self, x_t, t, state):
        prefix, cross, positions = state
        net = self.denoising_net
        p = prefix.shape[1]
        step = net.diff_step_map(net.step_table[t])
        h = torch.cat([prefix, net.feature_proj(x_t.to(prefix.dtype))], dim=1)
        h = (h + positions) + step.unsqueeze(1)
        for layer, cross_out in zip(net.transformer.layers, cross):
            h = layer(h, cross_out)
        return net.motion_dec(h[:, p:])

    def finalize_motion(self, motion, source_motion):
        """As JoyVASA applies its output: relative to generated frame 0, on top of the source pose."""
        return anchor_to_first_frame(motion, source_motion)
