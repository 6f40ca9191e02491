"""Feature tower: an element's precomputed feature vector -> a few tokens.

    x (B, F) float  (motif occupancies or table columns, prism_cli/features/)
      -> signed log1p -> BatchNorm (no affine: standardises each feature across elements,
         running statistics at inference) -> dropout (cfg.feature_dropout)
      -> Linear(F, n_tokens * d_model) -> (B, n_tokens, d_model) -> LayerNorm

Motif occupancies count hits on both strands, so the tokens are strand-invariant by
construction.  The element input of a model with both a feature tower and a sequence
tower is one float tensor (B, F + L): the F features, then the L base codes as exact
small integers (:func:`split_element_input`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


def split_element_input(x: torch.Tensor, n_features: int, sequence: bool
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Element input -> (features (B, F) float or None, codes (B, L) uint8 or None).

    x : (B, F) float (features only), (B, L) uint8 (codes only; also a one-hot (B, 4, L)
    float), or (B, F + L) float (both)."""
    if not n_features:
        return None, x
    if not sequence:
        return x.float(), None
    return x[:, :n_features].float(), x[:, n_features:].round().to(torch.uint8)


class FeatureTower(nn.Module):
    """forward(x (B, F) float) -> tokens (B, n_tokens, d_model)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_tokens, self.d_model = cfg.n_tokens, cfg.d_model
        self.norm_in = nn.BatchNorm1d(cfg.n_features, affine=False)
        p = cfg.dropout if cfg.feature_dropout is None else cfg.feature_dropout
        self.dropout = nn.Dropout(p)
        self.project = nn.Linear(cfg.n_features, cfg.n_tokens * cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sign(x) * torch.log1p(x.abs())
        if self.training and x.shape[0] < 2:  # one element has no spread: running stats
            x = F.batch_norm(x, self.norm_in.running_mean, self.norm_in.running_var,
                             training=False, eps=self.norm_in.eps)
        else:
            x = self.norm_in(x)
        tokens = self.project(self.dropout(x)).view(-1, self.n_tokens, self.d_model)
        return self.norm(tokens)
