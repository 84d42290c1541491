"""Playmate's stage-1 motion diffusion transformer (arXiv 2502.07203), with the stage-2 emotion controller.

Tokens (one per frame): FC(noisy motion) + FC(audio features) for the W frames of the window, preceded by
P prefix tokens FC(previous motion) + FC(previous audio) (a learned history for the first window).
Every token also gets a segment embedding (prefix / current), a sinusoidal position, the identity
condition FC([source canonical keypoints, normalised source motion]) and the timestep embedding.
Body: Conformer blocks. Heads on the current tokens: Pose-MLP (scale, t, angles: 7) and Exp-MLP (63), plus a
linear skip from the noisy motion; together they give F. The network outputs the noise estimate
eps = sqrt(1 - ab_t) x_t + sqrt(ab_t) F, trained with the paper's epsilon loss. This is the v-parametrisation
(F plays the role of v): the optimal estimate for unit-variance data is built in, and the x0 estimate
sqrt(ab_t) x_t - sqrt(1 - ab_t) F stays bounded at the noisiest steps, where a plain epsilon network's x0
estimate multiplies its errors by 1 / sqrt(ab_t) (about 2000 at t = T for the cosine schedule).
The emotion controller (two transformer blocks over the Conformer output plus the per-frame emotion
embedding) replaces the Exp-MLP's input only; it starts as the identity (zero-initialised) so stage 2
trains it on top of frozen stage-1 weights. Without an emotion input it is skipped (a stage-1 model is exactly
stage 1) until a trained controller is loaded; then "no emotion" is its null token, the condition stage 2 trains
for dropped labels, so guidance with w_e = 0 equals sampling without emotion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..conditions import NULL_EMOTION, NUM_EMOTION_TOKENS
from ..normalization import AdaptiveNormalizer
from ..schedulers import NoiseSchedule
from ...config import Config
from .base import MotionModel, WindowConditions
from .conformer import ConformerBlock, TransformerBlock
from .embeddings import sinusoid_table, timestep_features

MOTION_DIM = 70
IDENTITY_DIM = 63 + 70


@dataclass(frozen=True)
class PlaymateConfig(Config):
    """Hyper-parameters of a Playmate motion model (stored in the checkpoint's metadata)."""

    audio_dim: int = 768            # features per frame from the audio encoder
    audio_encoder: str = "wav2vec2"  # encoder family the features must come from
    fps: float = 25.0
    window: int = 100               # frames generated per window
    num_prev: int = 25              # previous-motion prefix frames
    overlap: int = 4                # frames cross-faded between consecutive windows
    dim: int = 256
    layers: int = 8
    heads: int = 4
    ff_mult: int = 4
    conv_kernel: int = 15
    head_hidden: int = 256
    emotion_blocks: int = 2         # emotion controller depth (0 = none)
    emotion_trained: bool = False   # stage 2 done: emotion conditions change the output
    dropout: float = 0.1
    train_steps: int = 1000
    schedule: str = "cosine"
    prev_noise_std: float = 0.1     # Gaussian noise on the prefix motion in training (normalised units)
    audio_drop_prob: float = 0.1    # classifier-free guidance dropout in training
    emotion_drop_prob: float = 0.1
    start_prob: float = 0.1         # share of training windows that use the learned first-window history
    clip_sample: float = 8.0        # bound on the x0 estimate while sampling (normalised units)

    PRESETS = {
        "tiny": dict(window=32, num_prev=8, overlap=2, dim=64, layers=2, heads=4, ff_mult=2, conv_kernel=7,
                     head_hidden=64, dropout=0.0, train_steps=100),
        "base": dict(),  # 14.4 M parameters
    }

    @classmethod
    def preset(cls, name: str, **overrides) -> "PlaymateConfig":
        if name not in cls.PRESETS:
            raise ValueError(f"unknown Playmate preset {name!r}; expected one of {', '.join(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})


    def validate(self) -> None:
        if self.window < 1 or self.num_prev < 1:
            raise ValueError("window and num_prev must be at least 1 frame")
        if not 0 <= self.overlap < self.window or self.window - self.overlap < self.num_prev:
            raise ValueError(f"window {self.window} must cover num_prev {self.num_prev} + overlap {self.overlap}")


def _mlp(dim: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, out))


class PlaymateMotionModel(MotionModel):
    family = "playmate"
    prediction = "epsilon"
    default_sampler = "ddim"

    def __init__(self, config: PlaymateConfig, normalizer: AdaptiveNormalizer | None = None):
        super().__init__()
        self.config = config
        self.fps, self.window, self.num_prev, self.overlap = config.fps, config.window, config.num_prev, config.overlap
        self.audio_dim, self.audio_encoder = config.audio_dim, config.audio_encoder
        self.supports_emotion = bool(config.emotion_blocks and config.emotion_trained)
        self.clip_sample = config.clip_sample
        self.schedule = NoiseSchedule.named(config.schedule, config.train_steps)
        d = config.dim
        self.normalizer = normalizer if normalizer is not None else AdaptiveNormalizer()
        self.motion_in = nn.Linear(MOTION_DIM, d)
        self.prev_motion_in = nn.Linear(MOTION_DIM, d)
        self.audio_in = nn.Sequential(nn.LayerNorm(config.audio_dim), nn.Linear(config.audio_dim, d))
        self.null_audio = nn.Parameter(torch.randn(d) * 0.02)
        self.start_history = nn.Parameter(torch.randn(config.num_prev, d) * 0.02)
        self.segment = nn.Parameter(torch.randn(2, d) * 0.02)
        self.identity_in = nn.Sequential(nn.Linear(IDENTITY_DIM, d), nn.SiLU(), nn.Linear(d, d))
        self.time_in = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.register_buffer("positions", sinusoid_table(config.num_prev + config.window, d), persistent=False)
        self.blocks = nn.ModuleList(
            ConformerBlock(d, config.heads, config.ff_mult, config.conv_kernel, config.dropout)
            for _ in range(config.layers)
        )
        self.noise_skip = nn.Linear(MOTION_DIM, MOTION_DIM)
        self.pose_head = _mlp(d, config.head_hidden, 7)
        self.exp_head = _mlp(d, config.head_hidden, 63)
        if config.emotion_blocks:
            self.emotion_tokens = nn.Parameter(torch.zeros(NUM_EMOTION_TOKENS, d))
            self.emotion_controller = nn.ModuleList(
                TransformerBlock(d, config.heads, config.ff_mult, config.dropout) for _ in range(config.emotion_blocks)
            )
            for block in self.emotion_controller:  # identity at initialisation
                nn.init.zeros_(block.attn.out.weight), nn.init.zeros_(block.attn.out.bias)
                nn.init.zeros_(block.ff.fc2.weight), nn.init.zeros_(block.ff.fc2.bias)

    def encode_conditions(self, cond: WindowConditions):
        audio = self.audio_in(cond.audio)
        b, w, d = audio.shape
        audio = torch.where(cond.drop_audio.view(b, 1, 1), self.null_audio.to(audio.dtype).expand(b, w, d), audio)
        start = self.start_history.to(audio.dtype).expand(b, -1, -1)
        if cond.prev_motion is None:
            prefix = start
        else:
            prefix = self.prev_motion_in(cond.prev_motion) + self.audio_in(cond.prev_audio)
            if cond.use_start is not None:
                prefix = torch.where(cond.use_start.view(b, 1, 1), start, prefix)
        identity = torch.cat([cond.kp_canonical.reshape(b, 63).float(),
                              self.normalizer.identity_features(cond.source_motion.float())], -1)
        p = prefix.shape[1]
        static = torch.cat([prefix + self.segment[0], audio + self.segment[1]], dim=1)
        static = (static + self.positions[: p + w].to(audio.dtype)
                  + self.identity_in(identity.to(audio.dtype)).unsqueeze(1))
        emotion = None
        if self.config.emotion_blocks and cond.emotion is not None:
            emotion = cond.emotion.to(audio.dtype) @ self.emotion_tokens
        return static, emotion

    def denoise(self, x_t, t, state):
        static, emotion = state
        p = static.shape[1] - x_t.shape[1]
        time = self.time_in(timestep_features(t, self.config.dim).to(static.dtype))
        x_net = x_t.to(static.dtype)
        h = torch.cat([static[:, :p], static[:, p:] + self.motion_in(x_net)], dim=1) + time.unsqueeze(1)
        for block in self.blocks:
            h = block(h)
        h = h[:, p:]
        exp_features = h
        if self.config.emotion_blocks and (emotion is not None or self.supports_emotion):
            if emotion is None:  # a trained controller without an emotion input: the null ("no emotion") token
                emotion = self.emotion_tokens[NULL_EMOTION].to(h.dtype)
            exp_features = h + emotion
            for block in self.emotion_controller:
                exp_features = block(exp_features)
        heads = torch.cat([self.exp_head(exp_features), self.pose_head(h)], dim=-1) + self.noise_skip(x_net)
        # float32: in fp16 / bf16, 1 - alpha_bar near t = 0 (about 1e-4) would round to 0 or to 2x its value
        alpha_bar = self.schedule.alpha_bars.to(x_t.device)[t].view(-1, 1, 1)
        return (1 - alpha_bar).sqrt() * x_t.float() + alpha_bar.sqrt() * heads.float()

