"""Small building blocks shared by the towers, heads and environment modules."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """Linear -> GELU -> (dropout) -> Linear.  x : (..., d_in) -> (..., d_out)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(d_hidden, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels at every position.  x : (B, C, L) -> (B, C, L).

    Per-position normalisation keeps an element's encoding independent of the batch and
    of the rest of the window, so encoding elements one at a time or 1000 at a time gives
    the same tokens (the cache used at inference relies on it).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity forward; multiplies the gradient by ``-scale`` on the way back."""
    return _ReverseGrad.apply(x, float(scale))


class DistanceFeatures(nn.Module):
    """Standardised log10 distance -> [x, sin(f x), cos(f x)] features.

    log_distance : (B,) float -> (B, 1 + 2 * n_freq).  The standardisation constants
    (mean, sd of log10 distance over the training pairs) are buffers, so they travel with
    the checkpoint.
    """

    def __init__(self, mean: float, sd: float, n_freq: int = 4):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("sd", torch.tensor(max(float(sd), 1e-3)))
        self.register_buffer("freqs", torch.arange(1, n_freq + 1, dtype=torch.float32)
                             * (math.pi / 4))
        self.dim = 1 + 2 * n_freq

    def forward(self, log_distance: torch.Tensor) -> torch.Tensor:
        x = ((log_distance.float() - self.mean) / self.sd).clamp(-4, 4)[:, None]
        fx = x * self.freqs
        return torch.cat([x, torch.sin(fx), torch.cos(fx)], dim=-1)
