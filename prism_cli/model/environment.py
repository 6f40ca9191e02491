"""Cell environments: prototypes, resistance, teacher table, student and opportunist.

An environment is a vector pi over K learned prototypes P (K x d_env): e = pi^T P.
Resistance is per pair: R(x, pi) = softplus(g(z_F(x), e)) >= 0, so an environment can
re-rank pairs inside a cell, not just move a threshold.

Without the prototype map (``prototype_map=False``, an ablation) an environment is one
raw scalar s and R = softplus(s) is the same for every pair of the cell.

With ``env_space="vector"`` the weights over prototypes are unconstrained (e = theta^T P,
any point of the prototypes' span, not only their convex hull).

Environment vectors are produced from *logits* by :func:`env_from_logits` (softmax over
prototypes; identity for the vector space and the scalar ablation):

* teacher  : a learned table theta (n_cells x K), pi_T(c) = softmax(theta_c);
* student  : a set encoder over a support set of one cell, items (z_F, sigmoid(U_I), y);
* opportunist : the same set encoder form, items (z_I, y) plus the support base rate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import MLP

LABEL_FEATURES = 3  # one-hot of (positive, negative, unlabelled)


def env_from_logits(logits: torch.Tensor, softmax: bool) -> torch.Tensor:
    """(…, K) logits -> (…, K): a distribution over prototypes (``softmax``, the simplex
    space), else the logits themselves (vector space; the scalar ablation)."""
    return torch.softmax(logits.float(), dim=-1) if softmax else logits.float()


def label_features(y: torch.Tensor) -> torch.Tensor:
    """Labels (…,) int with -1 = unlabelled -> (…, 3) float [is_pos, is_neg, is_unlabelled]."""
    return torch.stack([y == 1, y == 0, y < 0], dim=-1).float()


class ResistanceHead(nn.Module):
    """forward(z_F (…, d_f), pi (…, K) broadcastable) -> R (…) >= 0."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.prototype_map = cfg.prototype_map
        if cfg.prototype_map:
            self.prototypes = nn.Parameter(torch.randn(cfg.n_prototypes, cfg.d_env) * 0.5)
            self.project = nn.Linear(cfg.d_f, cfg.d_env)
            self.g = MLP(cfg.d_f + 2 * cfg.d_env, cfg.student_hidden, 1)

    def environment(self, pi: torch.Tensor) -> torch.Tensor:
        """e = pi^T P.  pi (…, K) -> (…, d_env)."""
        return pi.to(self.prototypes.dtype) @ self.prototypes

    def forward(self, z_f: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        if not self.prototype_map:
            return F.softplus(pi[..., 0]).expand(z_f.shape[:-1]).to(z_f.dtype)
        e = self.environment(pi).to(z_f.dtype)
        e = e.expand(*z_f.shape[:-1], e.shape[-1])
        g = self.g(torch.cat([z_f, e, self.project(z_f) * e], dim=-1)).squeeze(-1)
        return F.softplus(g)


class TeacherTable(nn.Module):
    """theta (n_cells, K); forward(cell (…,) long) -> logits (…, K)."""

    def __init__(self, n_cells: int, env_dim: int):
        super().__init__()
        # distinct starting environments: near-uniform ones (all cells alike) barely move
        self.theta = nn.Parameter(torch.randn(max(n_cells, 1), env_dim))

    def forward(self, cell: torch.Tensor) -> torch.Tensor:
        return self.theta[cell]


class SetEncoder(nn.Module):
    """DeepSets: logits = rho([mean_i phi(item_i), log1p(n)/5, extra]).

    items (E, N, d_item), mask (E, N) bool (True = member), extra (E, d_extra) or None
    -> logits (E, d_out).  Mean pooling over members makes it permutation-invariant and
    blind to padding.
    """

    def __init__(self, d_item: int, d_extra: int, hidden: int, d_out: int):
        super().__init__()
        self.d_extra = d_extra
        self.phi = nn.Sequential(nn.Linear(d_item, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU())
        self.rho = MLP(hidden + 1 + d_extra, hidden, d_out)

    def forward(self, items: torch.Tensor, mask: torch.Tensor,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        m = mask.to(items.dtype).unsqueeze(-1)
        n = m.sum(1).clamp(min=1.0)                                  # (E, 1)
        pooled = (self.phi(items) * m).sum(1) / n
        feats = [pooled, torch.log1p(n) / 5]
        if self.d_extra:
            feats.append(extra.to(items.dtype))
        return self.rho(torch.cat(feats, dim=-1))


class Student(nn.Module):
    """Support set of one cell -> environment logits.

    forward(z_F (E, N, d_f), U (E, N), y (E, N) int (-1 = unlabelled), mask (E, N) bool)
    -> logits (E, K).  The caller detaches z_F and U (stop-gradient switch), so the
    student learns from the main loss and distillation without moving the backbone.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = SetEncoder(cfg.d_f + 1 + LABEL_FEATURES, 0, cfg.student_hidden,
                                  cfg.env_dim)

    def forward(self, z_f, u, y, mask) -> torch.Tensor:
        items = torch.cat([z_f, torch.sigmoid(u).unsqueeze(-1).to(z_f.dtype),
                           label_features(y).to(z_f.dtype)], dim=-1)
        return self.encoder(items, mask)


class Opportunist(nn.Module):
    """The shortcut student: reads z_I itself (which identifies a training cell whenever
    z_I is not cell-invariant) and the support label base rate -- information that does
    not transfer to an unseen cell.

    forward(z_I (E, N, d_z), y (E, N), mask (E, N)) -> logits (E, K).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = SetEncoder(cfg.d_z + LABEL_FEATURES, 1, cfg.student_hidden,
                                  cfg.env_dim)

    def forward(self, z_i, y, mask) -> torch.Tensor:
        items = torch.cat([z_i, label_features(y).to(z_i.dtype)], dim=-1)
        labelled = (mask & (y >= 0)).float()
        base_rate = ((y == 1).float() * labelled).sum(1) / labelled.sum(1).clamp(min=1)
        return self.encoder(items, mask, base_rate.unsqueeze(-1))
