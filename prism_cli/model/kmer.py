"""K-mer content token: an element's canonical k-mer spectrum as one extra tower token.

    codes (B, L) uint8 -> canonical k-mer counts (B, n_canonical) / valid k-mers
      -> BatchNorm (no affine; standardises each k-mer across elements) -> dropout
      -> Linear(n_canonical, d_model)                                    (B, d_model)

A k-mer and its reverse complement share one column, so the token is the same on both
strands (the towers stay exactly strand-invariant).  k-mers containing N are skipped.
The token gives the pair encoder the element's motif content directly, the input of the
logistic-regression baselines, beside what the convolution learns to detect.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def canonical_columns(k: int) -> tuple[torch.Tensor, int]:
    """Column of every k-mer index (base-4, A=0 C=1 G=2 T=3) among the canonical k-mers:
    (4**k,) long, and the number of canonical k-mers."""
    n = 4 ** k
    idx = torch.arange(n)
    digits = torch.stack([(idx // 4 ** (k - 1 - i)) % 4 for i in range(k)], dim=1)  # (n, k)
    rc_digits = (3 - digits).flip(1)
    rc = (rc_digits * (4 ** torch.arange(k - 1, -1, -1))).sum(1)
    canon = torch.minimum(idx, rc)
    _, column = torch.unique(canon, return_inverse=True)
    return column, int(column.max()) + 1


def kmer_spectrum(codes: torch.Tensor, k: int, column: torch.Tensor, n_columns: int
                  ) -> torch.Tensor:
    """Canonical k-mer frequencies of each window; k-mers containing N (code 4) skipped.

    codes (B, L) uint8/long; column, n_columns = :func:`canonical_columns` (k).
    Returns float32 (B, n_columns); each row sums to 1 (0 when the window has no k-mer
    free of N).
    """
    c = codes.long()
    b, length = c.shape
    if length < k:
        return torch.zeros(b, n_columns, device=c.device)
    place = 4 ** torch.arange(k - 1, -1, -1, device=c.device)
    windows = c.unfold(1, k, 1)                                   # (B, L-k+1, k)
    valid = (windows < 4).all(-1)                                 # (B, L-k+1)
    index = (windows.clamp(max=3) * place).sum(-1)                # (B, L-k+1)
    cols = torch.where(valid, column[index], torch.zeros_like(index))
    counts = torch.zeros(b, n_columns, device=c.device)
    counts.scatter_add_(1, cols, valid.float())
    return counts / valid.sum(1, keepdim=True).clamp(min=1)


class KmerToken(nn.Module):
    """forward(codes (B, L) uint8) -> (B, d_model)."""

    def __init__(self, k: int, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.k = k
        column, self.n_columns = canonical_columns(k)
        self.register_buffer("column", column, persistent=False)
        self.norm = nn.BatchNorm1d(self.n_columns, affine=False)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(self.n_columns, d_model)

    def spectrum(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, L) uint8/long -> k-mer frequencies (B, n_columns), rows sum to <= 1."""
        return kmer_spectrum(codes, self.k, self.column, self.n_columns)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.spectrum(codes) * self.n_columns                 # mean 1 per column
        if self.training and x.shape[0] < 2:  # one element has no spread: running stats
            x = F.batch_norm(x, self.norm.running_mean, self.norm.running_var,
                             training=False, eps=self.norm.eps)
        else:
            x = self.norm(x)
        return self.project(self.dropout(x))
