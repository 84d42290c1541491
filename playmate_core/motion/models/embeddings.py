"""Sinusoidal tables shared by the motion models."""

from __future__ import annotations

import math

import torch


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """[num_positions, dim] float32 interleaved table: even columns sin(p * w_i), odd columns cos(p * w_i),
    w_i = 10000^(-2i / dim). Built with float32 operations (the same values JoyVASA's buffers hold)."""
    table = torch.zeros(num_positions, dim)
    positions = torch.arange(0, num_positions, dtype=torch.float).unsqueeze(1)
    freqs = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    table[:, 0::2] = torch.sin(positions * freqs)
    table[:, 1::2] = torch.cos(positions * freqs)
    return table


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[B] diffusion steps -> [B, dim] sinusoidal features (same interleaved layout as the table)."""
    freqs = torch.exp(torch.arange(0, dim, 2, device=t.device).float() * (-math.log(10000.0) / dim))
    angles = t.float().unsqueeze(1) * freqs
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)
