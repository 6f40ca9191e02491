"""Domain adversary: a cell-line classifier on z_I behind a gradient-reversal layer.

Its own parameters learn to identify the cell from z_I; the backbone receives the
reversed (negated, scaled) gradient and so learns to make z_I -- and U_I = KAN(z_I) --
cell-invariant.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import MLP, reverse_gradient


class DomainAdversary(nn.Module):
    """forward(z_I (B, d_z), scale) -> cell logits (B, n_cells)."""

    def __init__(self, d_z: int, n_cells: int, hidden: int = 64):
        super().__init__()
        self.classifier = MLP(d_z, hidden, max(n_cells, 1))

    def forward(self, z_i: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.classifier(reverse_gradient(z_i, scale))
