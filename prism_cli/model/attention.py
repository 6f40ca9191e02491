"""Anchor aggregation: enhancer tokens x promoter tokens x distance -> z_I.

    e (B, n_e, d), p (B, n_p, d), log10 distance (B,)
      e' = CrossAttention(e -> p), p' = CrossAttention(p -> e)
      tokens = [e' + type_e, p' + type_p, distance token + type_d]        (B, n_e+n_p+1, d)
      anchors = A learned queries attending over tokens, flattened        (B, A*d)
      bilinear = (W_e mean(e)) * (W_p mean(p))                              (B, d)
      z_I = LayerNorm(Linear([anchors, bilinear, distance features]))      (B, d_z)

The bilinear term is a low-rank product of the two elements' pooled motif content (the
compatibility of an enhancer's motifs with a promoter's); the anchors add positional and
cross-token structure.  Every step is order-free over tokens, so z_I is unchanged when a
tower's tokens come in reverse order (reverse-complemented element).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .layers import DistanceFeatures


class CrossAttentionBlock(nn.Module):
    """x attends to y, then a feed-forward step.  x (B, n, d), y (B, m, d) -> (B, n, d)."""

    def __init__(self, d: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a, _ = self.attn(x, y, y, need_weights=False)
        x = self.norm1(x + a)
        return self.norm2(x + self.ff(x))


class AnchorPooling(nn.Module):
    """A learned anchor queries attend over tokens.  tokens (B, n, d) -> (B, A, d)."""

    def __init__(self, d: int, n_anchors: int, n_heads: int):
        super().__init__()
        self.anchors = nn.Parameter(torch.randn(n_anchors, d) * 0.1)
        self.attn = nn.MultiheadAttention(d, n_heads, batch_first=True)
        self.norm = nn.LayerNorm(d)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        q = self.anchors.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        out, _ = self.attn(q, tokens, tokens, need_weights=False)
        return self.norm(out + q)


class PairEncoder(nn.Module):
    """forward(e (B, n_e, d), p (B, n_p, d), log_distance (B,)) -> z_I (B, d_z)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.distance = DistanceFeatures(cfg.distance_mean, cfg.distance_sd)
        self.distance_token = nn.Linear(self.distance.dim, d)
        self.type_embedding = nn.Parameter(torch.randn(3, d) * 0.1)
        self.e_to_p = CrossAttentionBlock(d, cfg.n_heads, cfg.dropout)
        self.p_to_e = CrossAttentionBlock(d, cfg.n_heads, cfg.dropout)
        self.pool = AnchorPooling(d, cfg.n_anchors, cfg.n_heads)
        self.bilinear_e = nn.Linear(d, d)
        self.bilinear_p = nn.Linear(d, d)
        self.out = nn.Linear(cfg.n_anchors * d + d + self.distance.dim, cfg.d_z)
        self.norm = nn.LayerNorm(cfg.d_z)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, e: torch.Tensor, p: torch.Tensor, log_distance: torch.Tensor
                ) -> torch.Tensor:
        dist = self.distance(log_distance).to(e.dtype)
        e2 = self.e_to_p(e, p) + self.type_embedding[0]
        p2 = self.p_to_e(p, e) + self.type_embedding[1]
        dtok = (self.distance_token(dist) + self.type_embedding[2]).unsqueeze(1)
        anchors = self.pool(torch.cat([e2, p2, dtok], dim=1)).flatten(1)
        bilinear = self.bilinear_e(e.mean(1)) * self.bilinear_p(p.mean(1))
        z = self.out(self.dropout(torch.cat([anchors, bilinear, dist], dim=-1)))
        return self.norm(z)
