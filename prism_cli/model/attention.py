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

Inference from element terms (``PairEncoder.element_terms`` once per element, then
``PairEncoder.from_terms`` per pair) computes the same z_I as ``forward`` in eval mode
(to float round-off), with everything that depends on one element only moved out of the
per-pair step.  For attention of queries x over keys y with head h (width c):

    score(i, j, h) = q_h(x_i) . k_h(y_j) = G_h(x_i) . y_j + (a term constant over j)
        G_h(x_i) = Wk_h^T q_h(x_i) / sqrt(c)                    (per query element)
    out(i) = sum_h sum_j softmax_j(score) VO_h(y_j) + b_o
        VO_h(y_j) = Wo_h (Wv_h y_j + bv_h)                       (per key element)

(softmax ignores terms constant over j, and the weights over j sum to 1).  So a pair costs
two small batched matrix products per block instead of four projections, and the anchor
queries (learned constants) fold into one matrix.  Training keeps ``forward``: its
attention has dropout on the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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


def _head_split(attn: nn.MultiheadAttention):
    """(heads h, head width c, Wq, bq, Wk, Wv, bv) of a MultiheadAttention's in-projection."""
    d = attn.embed_dim
    w, b = attn.in_proj_weight, attn.in_proj_bias
    h = attn.num_heads
    return h, d // h, w[:d], b[:d], w[d:2 * d], w[2 * d:], b[2 * d:]


def query_terms(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """G: x (N, n, d) queries -> (N, h * n, d), row (head, query) = Wk_h^T q_h(x_i) / sqrt(c):
    the score of key y_j is G . y_j (up to a term constant over keys)."""
    h, c, wq, bq, wk, _, _ = _head_split(attn)
    q = F.linear(x, wq, bq).view(*x.shape[:2], h, c) / math.sqrt(c)      # (N, n, h, c)
    g = torch.einsum("nihc,hcd->nhid", q, wk.view(h, c, -1))
    return g.reshape(x.shape[0], h * x.shape[1], -1)


def value_terms(attn: nn.MultiheadAttention, y: torch.Tensor) -> torch.Tensor:
    """VO: y (N, m, d) keys -> (N, h * m, d), row (head, key) = Wo_h (Wv_h y_j + bv_h)."""
    h, c, _, _, _, wv, bv = _head_split(attn)
    v = F.linear(y, wv, bv).view(*y.shape[:2], h, c)                     # (N, m, h, c)
    wo = attn.out_proj.weight.view(-1, h, c)                             # (d, h, c)
    return torch.einsum("njhc,dhc->nhjd", v, wo).reshape(y.shape[0], h * y.shape[1], -1)


def attend_terms(attn: nn.MultiheadAttention, g: torch.Tensor, keys: torch.Tensor,
                 vo: torch.Tensor) -> torch.Tensor:
    """``attn(x, y, y)`` (eval) from terms: g (B, h * n, d) of the queries x, keys y
    (B, m, d), vo (B, h * m, d) of y -> (B, n, d)."""
    h = attn.num_heads
    b, m = keys.shape[:2]
    n = g.shape[1] // h
    w = torch.softmax(torch.bmm(keys, g.transpose(1, 2)), dim=1)         # (B, m, h * n)
    w = w.view(b, m, h, n).permute(0, 3, 2, 1).reshape(b, n, h * m)      # (B, n, h * m)
    return torch.baddbmm(attn.out_proj.bias, w, vo)


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

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """``forward`` in eval mode with the anchor queries folded into the weights:
        tokens (B, n, d) -> (B, A, d)."""
        h, c, _, _, _, wv, bv = _head_split(self.attn)
        a, d = self.anchors.shape
        g = query_terms(self.attn, self.anchors[None])[0]                 # (h * A, d)
        w = torch.softmax(F.linear(tokens, g), dim=1)                      # (B, n, h * A)
        y = torch.bmm(w.transpose(1, 2), tokens)                           # (B, h * A, d)
        y = y.view(-1, h, a, d).transpose(1, 2).reshape(-1, a, h * d)      # (B, A, h * d)
        # (h, d_out, d_in) per-head value+output maps side by side: (d_out, h * d_in)
        wo = self.attn.out_proj.weight.view(d, h, c)
        u = torch.einsum("hcd,ohc->ohd", wv.view(h, c, d), wo).reshape(d, h * d)
        bias = F.linear(bv, self.attn.out_proj.weight, self.attn.out_proj.bias)
        return self.norm(F.linear(y, u, bias) + self.anchors)


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

    # ---- inference from element terms (module docstring) ---------------------------
    def element_terms(self, tokens: torch.Tensor, role: str) -> dict[str, torch.Tensor]:
        """What z_I needs of one element, computed once: tokens (N, n, d), role
        "enhancer" or "promoter" -> {"tokens" (N, n, d), "query" (N, h * n, d) of its
        block, "value" (N, h * n, d) for the other block, "bilinear" (N, d)}."""
        own, other = ((self.e_to_p, self.p_to_e) if role == "enhancer"
                      else (self.p_to_e, self.e_to_p))
        project = self.bilinear_e if role == "enhancer" else self.bilinear_p
        return {"tokens": tokens, "query": query_terms(own.attn, tokens),
                "value": value_terms(other.attn, tokens), "bilinear": project(tokens.mean(1))}

    def from_terms(self, e: dict[str, torch.Tensor], p: dict[str, torch.Tensor],
                   log_distance: torch.Tensor) -> torch.Tensor:
        """``forward`` in eval mode from the element terms of each pair's enhancer and
        promoter (dicts of :meth:`element_terms`, rows = pairs) -> z_I (B, d_z)."""
        dist = self.distance(log_distance).to(e["tokens"].dtype)
        e2 = self._block(self.e_to_p, e["tokens"], e["query"], p) + self.type_embedding[0]
        p2 = self._block(self.p_to_e, p["tokens"], p["query"], e) + self.type_embedding[1]
        dtok = (self.distance_token(dist) + self.type_embedding[2]).unsqueeze(1)
        anchors = self.pool.from_tokens(torch.cat([e2, p2, dtok], dim=1)).flatten(1)
        bilinear = e["bilinear"] * p["bilinear"]
        return self.norm(self.out(torch.cat([anchors, bilinear, dist], dim=-1)))

    @staticmethod
    def _block(block: CrossAttentionBlock, x, query, other) -> torch.Tensor:
        """``block(x, y)`` in eval mode: x (B, n, d) with its query terms, y = other's tokens."""
        a = attend_terms(block.attn, query, other["tokens"], other["value"])
        x = block.norm1(x + a)
        return block.norm2(x + block.ff(x))
