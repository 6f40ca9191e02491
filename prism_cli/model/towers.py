"""Sequence towers: uint8 base codes -> a few tokens per element.

    codes (B, L) uint8 --one_hot--> (B, 4, L)
      -> motif detectors: Conv1d(4, C, motif_width) + ReLU          (B, C, L)
      -> max-pool by ``pool``, dropout                              (B, C, L/pool)
      -> residual dilated conv blocks                               (B, C, L/pool)
      -> n_tokens bins, [mean, max] per bin -> Linear(2C, d_model)  (B, n_tokens, d_model)
      (+ with kmer_k > 0: the k-mer content token, model/kmer.py)   (B, n_tokens + 1, d_model)

Reverse complement ("max"/"mean" modes): the tower runs on both strands; the reverse
strand's tokens are flipped back into forward order and combined elementwise.  The
position embedding is symmetric (token k and token n-1-k share it), so the tokens of
rc(x) are the tokens of x in reverse order: everything downstream pools over tokens
without regard to order, so a pair's outputs do not depend on which strand an element
was read from (exactly, when L is a multiple of ``pool``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .kmer import KmerToken
from .layers import ChannelLayerNorm


class ResidualDilatedBlock(nn.Module):
    """x + Conv1x1(GELU(Conv_k3,dilation(GELU(LN(x))))).  x : (B, C, L) -> (B, C, L)."""

    def __init__(self, channels: int, dilation: int, dropout: float = 0.0):
        super().__init__()
        self.norm = ChannelLayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(F.gelu(self.norm(x)))
        return x + self.drop(self.mix(F.gelu(h)))


class SequenceTower(nn.Module):
    """One element type's tower.  forward(codes (B, L) uint8) -> tokens (B, n_tok, d_model),
    n_tok = cfg.tokens_per_element.

    Also accepts a one-hot float tensor (B, 4, L).  N bases (code 4) are all-zero columns.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.channels
        self.rc = cfg.rc
        self.n_tokens = cfg.n_tokens
        self.pool = cfg.pool
        self.motifs = nn.Conv1d(4, c, cfg.motif_width, padding=cfg.motif_width // 2)
        # cfg.motif_norm is "none" or "batch" (ModelConfig checks it)
        self.motif_norm = nn.BatchNorm1d(c) if cfg.motif_norm == "batch" else nn.Identity()
        self.motif_dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(ResidualDilatedBlock(c, d, cfg.dropout)
                                    for d in cfg.dilations)
        # standardise each pooled feature across elements (running statistics at inference,
        # so an element's tokens do not depend on its batch there)
        self.bin_norm = nn.BatchNorm1d(2 * c) if cfg.bin_norm else nn.Identity()
        self.to_token = nn.Linear(2 * c, cfg.d_model)
        self.position = nn.Parameter(torch.zeros((cfg.n_tokens + 1) // 2, cfg.d_model))
        k = torch.arange(cfg.n_tokens)
        self.register_buffer("position_index", torch.minimum(k, cfg.n_tokens - 1 - k),
                             persistent=False)
        self.kmer = KmerToken(cfg.kmer_k, cfg.d_model, cfg.dropout) if cfg.kmer_k else None
        self.norm = nn.LayerNorm(cfg.d_model)
        self.token_dropout = nn.Dropout(cfg.dropout)

    def strand(self, x: torch.Tensor) -> torch.Tensor:
        """One strand.  x : (B, 4, L) float -> (B, n_tokens, d_model), before position."""
        h = self.motif_norm(self.motifs(x))
        if self.pool > 1:  # max-pool then ReLU == ReLU then max-pool, on fewer numbers
            h = F.max_pool1d(h, self.pool, ceil_mode=True)
        h = self.motif_dropout(F.relu(h))
        for block in self.blocks:
            h = block(h)
        if h.shape[-1] < self.n_tokens:  # very short windows: repeat positions
            h = F.interpolate(h, size=self.n_tokens, mode="nearest")
        bins = torch.cat([F.adaptive_avg_pool1d(h, self.n_tokens),
                          F.adaptive_max_pool1d(h, self.n_tokens)], dim=1)
        return self.to_token(self.bin_norm(bins).transpose(1, 2))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        from ..encode import one_hot, reverse_complement_one_hot

        if codes.dtype == torch.uint8 or codes.dim() == 2:
            x = one_hot(codes, dtype=self.motifs.weight.dtype)
        else:
            x = codes.to(self.motifs.weight.dtype)
        if self.rc == "none":
            tokens = self.strand(x)
        else:
            both = self.strand(torch.cat([x, reverse_complement_one_hot(x)], dim=0))
            fwd, rev = both.chunk(2, dim=0)
            rev = rev.flip(1)
            tokens = torch.maximum(fwd, rev) if self.rc == "max" else 0.5 * (fwd + rev)
        tokens = tokens + self.position[self.position_index]
        if self.kmer is not None:  # canonical k-mers: the same token on both strands
            if codes.dtype != torch.uint8 and codes.dim() == 3:  # one-hot in: N = no base
                codes = torch.where(x.sum(1) > 0, x.argmax(1), torch.full_like(x[:, 0], 4))
            tokens = torch.cat([tokens, self.kmer(codes).unsqueeze(1)], dim=1)
        return self.token_dropout(self.norm(tokens))
