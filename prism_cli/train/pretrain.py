"""Label-free tower pretraining: element versus shuffled element.

Every element window is paired with a copy whose 2-bp chunks are put in random order
(mono- and most di-nucleotide content kept, every motif of >= 3 bp broken).  A small head
on each tower's pooled tokens learns to tell them apart; the only way to do that well is
to detect the motifs implanted in (or evolved into) real elements, which is what the
towers need for enhancer-promoter compatibility and what pair labels alone teach slowly
(each element recurs in many pairs, labels are few).  The heads are thrown away.

Only training-chromosome elements are used, so nothing of the held-out chromosomes is
seen.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .episodes import shift_codes


def chunk_shuffle(codes: np.ndarray, rng: np.random.Generator, chunk: int = 2) -> np.ndarray:
    """Shuffle the order of ``chunk``-bp pieces of each row.  codes (n, L) -> (n, L)."""
    n, length = codes.shape
    m = length // chunk
    body = codes[:, :m * chunk].reshape(n, m, chunk)
    order = np.argsort(rng.random((n, m)), axis=1)
    out = codes.copy()
    out[:, :m * chunk] = np.take_along_axis(body, order[:, :, None], axis=1).reshape(n, -1)
    return out


class _Head(nn.Module):
    """tokens (B, n, d) -> logit (B,) from [mean, max] over tokens."""

    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(2 * d, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lin(torch.cat([tokens.mean(1), tokens.amax(1)], -1)).squeeze(-1)


def pretrain_towers(model, enhancers, promoters, enh_ids: np.ndarray, prom_ids: np.ndarray,
                    steps: int = 300, batch: int = 64, lr: float = 3e-3, max_shift: int = 10,
                    seed: int = 0, log=None) -> tuple[list[dict], nn.ModuleList]:
    """Train the model's two towers on element-vs-shuffled discrimination.

    enhancers, promoters : uint8 code arrays (n, L) (dataset memmaps);
    enh_ids, prom_ids : element indices to use (training chromosomes only).
    Returns (history, heads): history is a list of {"step", "loss", "acc", "time_s"}
    records (every 25 steps and the last); heads are the two discarded classifier heads
    (enhancer, promoter), for diagnostics.
    """
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed + 31337)
    towers = [(model.enhancer_tower, enhancers, np.asarray(enh_ids)),
              (model.promoter_tower, promoters, np.asarray(prom_ids))]
    heads = nn.ModuleList(_Head(model.cfg.d_model) for _ in towers).to(device)
    params = [p for t, _, _ in towers for p in t.parameters()] + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    was_training = model.training
    model.train()
    history, acc_sum, loss_sum, n_sum = [], 0.0, 0.0, 0
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, step / 20) * (0.55 + 0.45 * math.cos(math.pi * step / steps))
        loss = 0.0
        correct = 0.0
        for (tower, store, ids), head in zip(towers, heads):
            pick = rng.choice(ids, size=min(batch, len(ids)), replace=False)
            real = np.ascontiguousarray(store[np.sort(pick)])
            if max_shift:
                real = shift_codes(real, rng.integers(-max_shift, max_shift + 1, len(real)))
            fake = chunk_shuffle(real, rng)
            x = torch.from_numpy(np.concatenate([real, fake])).to(device)
            y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(device)
            logit = head(tower(x))
            loss = loss + F.binary_cross_entropy_with_logits(logit, y)
            correct += float(((logit > 0).float() == y).float().mean()) / len(towers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum, acc_sum, n_sum = loss_sum + loss.item() / len(towers), acc_sum + correct, \
            n_sum + 1
        if step % 25 == 0 or step == steps:
            rec = {"step": step, "loss": loss_sum / n_sum, "acc": acc_sum / n_sum,
                   "time_s": time.perf_counter() - t0}
            history.append(rec)
            if log is not None:
                log(rec)
            loss_sum, acc_sum, n_sum = 0.0, 0.0, 0
    model.train(was_training)
    return history, heads
