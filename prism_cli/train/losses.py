"""Per-episode losses and their gradient routing (docs/model.md).

For each episode e (one cell c, support S, query Q):

    main      BCE(sigmoid((U_I - R(z_F, pi_MAP)) / T), y_Q)        -> backbone, R, T, student
              pi_MAP: the student's pi_S refined to the MAP of the support likelihood
              (model/posterior.py), Gauss-Newton steps unrolled (differentiable)
    teacher   BCE(sigmoid((U_I - R(z_F, pi_T(c))) / T), y_Q)       -> backbone, R, T, teacher
    distill   KL(pi_T(c).detach() || pi_S)   (the student's own guess) -> student only
    adversary CE(cell | GRL(z_I))                                   -> adversary; backbone reversed
    opportunist BCE with pi_O, computed on detached U_I, z_F, T and a frozen view of the
              resistance head                                        -> opportunist only
    competition  ratio_e = main_e / opportunist_e;  rho_c <- EMA over c's episodes
              push_e = max(0, rho_c - 1) * max(0, margin - TV(pi_S, pi_O.detach()))
                                                                     -> student only
              pull_e = clip(main_e / teacher_e - 1, 0, pull_max): extra distill weight
    total     mean_e [w_main main + w_teacher teacher + (w_distill + w_pull pull_e) distill
                      + w_adv adversary + w_opp opportunist + w_push push]

The student reads (z_F, sigmoid(U_I), y) of the support set DETACHED (stop_gradient
switch), so neither the main loss through pi_S, nor distill, nor push reaches the
backbone.  The support set's backbone pass even runs under no_grad then.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ..predict.cache import encode_chunks
from .config import TrainConfig
from .episodes import Batch, Side


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x (E, M) over mask (E, M) per row -> (E,)."""
    m = mask.to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def episode_bce(logit: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-episode BCE.  logit, y, mask : (E, M) -> (E,)."""
    loss = F.binary_cross_entropy_with_logits(logit.float(), y.clamp(min=0).float(),
                                              reduction="none")
    return masked_mean(loss, mask & (y >= 0))


def kl_divergence(p_target: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row.  p, q : (E, K) distributions -> (E,)."""
    p = p_target.clamp_min(1e-8)
    return (p * (p.log() - q.clamp_min(1e-8).log())).sum(-1)


class EpisodeObjective(nn.Module):
    """Wraps a model; forward(batch) -> (loss scalar, stats {name: 0-dim tensor}).

    This is the module DistributedDataParallel wraps.  Buffer ``rho`` (n_cells,) holds the
    competition EMA per training cell (neutral value 1).
    """

    def __init__(self, model: nn.Module, tcfg: TrainConfig):
        super().__init__()
        self.model = model
        self.tcfg = tcfg
        n_cells = model.cfg.n_cells
        self.register_buffer("rho", torch.ones(n_cells))
        self.register_buffer("rho_seen", torch.zeros(n_cells))

    def _tokens(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens of the batch's unique elements: query elements with gradient (in
        checkpointed chunks, so long windows do not hold every activation), support-only
        elements without (unless the stop-gradient switch is off)."""
        m = self.model
        all_grad = m.has_environment and not m.cfg.stop_gradient
        out = []
        for encode, codes, n_grad in ((m.encode_enhancers, batch.enh_codes, batch.n_enh_query),
                                      (m.encode_promoters, batch.prom_codes, batch.n_prom_query)):
            n_grad = codes.shape[0] if (all_grad or n_grad < 0) else n_grad
            parts = encode_chunks(encode, codes[:n_grad], self.tcfg.encode_chunk, grad=True)
            if n_grad < codes.shape[0]:
                parts += encode_chunks(encode, codes[n_grad:], self.tcfg.encode_chunk)
            out.append(torch.cat(parts) if len(parts) > 1 else parts[0])
        return out[0], out[1]

    def _pairs(self, tokens: tuple[torch.Tensor, torch.Tensor], side: Side, grad: bool
               ) -> dict[str, torch.Tensor]:
        """Pair outputs of one side, arranged per episode: {k: (E, M, ...)}."""
        e, p = tokens
        ctx = contextlib.nullcontext() if grad else torch.no_grad()
        with ctx:
            if not grad:
                e, p = e.detach(), p.detach()
            out = self.model.pair(e[side.enh], p[side.prom], side.log_distance)
        return {k: v[side.index] for k, v in out.items()}

    def components(self, batch: Batch) -> tuple[dict, dict]:
        """Per-episode loss terms and their weights.

        Returns (terms {name: (E,) tensor with graph}, weights {name: float or (E,)
        detached tensor}); total = mean_e sum_name weight * term.  Also updates the
        competition EMA ``rho`` when in training mode.
        """
        m, t = self.model, self.tcfg
        tokens = self._tokens(batch)
        q = self._pairs(tokens, batch.query, grad=True)
        y_q, q_mask = batch.query.y[batch.query.index], batch.query.mask
        if not m.has_environment:
            return {"main": episode_bce(q["U"], y_q, q_mask)}, {"main": 1.0}

        cfg = m.cfg
        s_side = batch.support
        s = self._pairs(tokens, s_side, grad=not cfg.stop_gradient)
        y_s, s_mask = s_side.y[s_side.index], s_side.mask
        zf_s, u_s = s["z_F"], s["U"]
        if cfg.stop_gradient:
            zf_s, u_s = zf_s.detach(), u_s.detach()
        cells = batch.cells

        env = m.support_environment(zf_s, u_s, y_s, s_mask, create_graph=True)
        pi_s = env["pi_student"]                                            # (E, K)
        main = episode_bce(m.logit(q["U"], m.resistance(q["z_F"], env["pi"][:, None])),
                           y_q, q_mask)
        pi_t = m.teacher_environment(cells)
        teacher = episode_bce(m.logit(q["U"], m.resistance(q["z_F"], pi_t[:, None])),
                              y_q, q_mask)
        terms = {"main": main, "teacher": teacher}
        weights = {"main": t.w_main, "teacher": t.w_teacher}

        if cfg.distill:
            if cfg.env_softmax:
                terms["distill"] = kl_divergence(pi_t.detach(), pi_s)
            else:
                terms["distill"] = (pi_t.detach() - pi_s).pow(2).sum(-1)
            pull = (main.detach() / teacher.detach().clamp_min(1e-6) - 1).clamp(0, t.pull_max)
            weights["distill"] = t.w_distill + t.w_pull * pull
            weights["pull"] = pull

        if m.adversary is not None:
            logits = m.adversary(q["z_I"], t.grl_scale)                    # (E, M, C)
            target = cells[:, None].expand(q_mask.shape)
            ce = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(),
                                 reduction="none").view(q_mask.shape)
            terms["adversary"] = masked_mean(ce, q_mask)
            weights["adversary"] = t.w_adversary

        if m.opportunist is not None:
            pi_o = m.opportunist_environment(s["z_I"].detach(), y_s, s_mask)
            opp = episode_bce(m.opportunist_logit(q["U"], q["z_F"], pi_o), y_q, q_mask)
            ratio = main.detach() / opp.detach().clamp_min(1e-6)
            if self.training:
                self._update_rho(cells, ratio)
            push_w = (self.rho[cells] - 1).clamp(min=0)
            if cfg.env_softmax:
                gap = 0.5 * (pi_s - pi_o.detach()).abs().sum(-1)
            else:
                gap = (pi_s - pi_o.detach()).abs().sum(-1)
            terms["opportunist"] = opp
            terms["push"] = push_w * F.relu(t.push_margin - gap)
            weights.update(opportunist=t.w_opportunist, push=t.w_push, ratio=ratio,
                           push_weight=push_w, gap=gap.detach())
        return terms, weights

    def forward(self, batch: Batch):
        terms, weights = self.components(batch)
        total = sum(weights[k] * v for k, v in terms.items())
        loss = total.mean()
        stats = {k: v.detach().mean() for k, v in terms.items()}
        if "push" in terms:
            stats["push_loss"] = stats.pop("push")
            stats["push"] = weights["push_weight"].mean()
            stats["ratio"] = weights["ratio"].mean()
            stats["gap"] = weights["gap"].mean()
        if "pull" in weights:
            stats["pull"] = weights["pull"].mean()
        if self.model.has_environment:
            seen = self.rho_seen > 0
            stats["rho"] = self.rho[seen].mean() if seen.any() else self.rho.new_ones(())
            stats["T"] = self.model.temperature.detach()
        stats["loss"] = loss.detach()
        return loss, {k: torch.as_tensor(v).detach().float() for k, v in stats.items()}

    @torch.no_grad()
    def _update_rho(self, cells: torch.Tensor, ratio: torch.Tensor) -> None:
        mom = self.tcfg.rho_momentum
        for c, r in zip(cells.tolist(), ratio.float().tolist()):
            self.rho[c] = mom * self.rho[c] + (1 - mom) * r
            self.rho_seen[c] += 1
