"""FourierEnergyKAN: z_I -> U_I with Kolmogorov-Arnold layers of Fourier edge functions.

A KAN layer puts a learned univariate function on every edge (input i -> output j) and
sums them at the output:

    y_j = bias_j + sum_i phi_ji(x_i),
    phi_ji(x) = sum_{k=1..K} a_jik cos(k x) + b_jik sin(k x)

(a truncated Fourier series).  Inputs are layer-normalised first so they sit where the
series has resolution; coefficients start small and decay as 1/k (a smoothness prior).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierKANLayer(nn.Module):
    """x (B, d_in) -> y (B, d_out); coefficients ``coef`` shape=(2, d_out, d_in, K)
    (index 0 = cosine a_jik, 1 = sine b_jik), ``bias`` shape=(d_out,)."""

    def __init__(self, d_in: int, d_out: int, n_frequencies: int = 4):
        super().__init__()
        self.n_frequencies = n_frequencies
        decay = 1.0 / torch.arange(1, n_frequencies + 1, dtype=torch.float32)
        scale = 1.0 / math.sqrt(d_in * n_frequencies)
        self.coef = nn.Parameter(torch.randn(2, d_out, d_in, n_frequencies) * scale * decay)
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.register_buffer("k", torch.arange(1, n_frequencies + 1, dtype=torch.float32),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kx = x.unsqueeze(-1) * self.k.to(x.dtype)                   # (B, d_in, K)
        y = torch.einsum("bik,oik->bo", torch.cos(kx), self.coef[0].to(x.dtype))
        y = y + torch.einsum("bik,oik->bo", torch.sin(kx), self.coef[1].to(x.dtype))
        return y + self.bias.to(x.dtype)


class FourierEnergyKAN(nn.Module):
    """U_I = KAN(z_I).  z (B, d_z) -> U (B,).

    LayerNorm -> FourierKANLayer(d_z, hidden) -> LayerNorm -> FourierKANLayer(hidden, 1).
    """

    def __init__(self, d_z: int, hidden: int = 16, n_frequencies: int = 4):
        super().__init__()
        self.norm_in = nn.LayerNorm(d_z)
        self.layer1 = FourierKANLayer(d_z, hidden, n_frequencies)
        self.norm_mid = nn.LayerNorm(hidden, elementwise_affine=False)
        self.layer2 = FourierKANLayer(hidden, 1, n_frequencies)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.layer1(self.norm_in(z))
        return self.layer2(self.norm_mid(h)).squeeze(-1)
