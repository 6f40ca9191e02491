"""Validation through the inference path (exactly what ``adapt`` + ``score`` do).

For each validated cell: a fixed support pool drawn once from the cell's labelled
training-chromosome pairs, and a query = its labelled validation-chromosome pairs.  Every
epoch the current model encodes the elements once and computes pair outputs
(predict.pairs.rows_outputs), estimates the cell's environment from the support pool exactly
as ``prism adapt`` does (student guess refined to the MAP of the support likelihood) and
scores the query.  Reported per cell:

    aupr, auroc, prevalence, spread (sd of p), bce      -- student path (the main number)
    aupr_teacher, auroc_teacher                          -- pi_T(c), training cells only
    aupr_zero_shot, auroc_zero_shot                      -- the average training
                                                            environment (score --zero-shot)
    aupr_u, auroc_u                                      -- U_I alone (R = 0)

A collapse warning is raised when the spread is ~0 or AUROC is within noise of 0.5
(2 standard errors, Hanley-McNeil) -- i.e. AUPR within noise of prevalence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import aupr, auroc
from ..predict.environment import estimate_environment, mean_environment, predict, teacher_pi
from ..predict.pairs import rows_outputs
from ..predict.support import draw_support

SPREAD_FLOOR = 0.01


@dataclass
class ValCell:
    """name; cell_index: row in the teacher table (None for a held-out cell);
    support: pair rows (support pool); query: pair rows (validation chromosomes)."""

    name: str
    cell_index: int | None
    support: np.ndarray
    query: np.ndarray


def plan_validation(pairs_cell: np.ndarray, labels: np.ndarray, split: np.ndarray,
                    cells: list[tuple[str, int | None]], support_pool: int, max_query: int,
                    seed: int = 0) -> list[ValCell]:
    """Fixed support pools and queries per cell (same every epoch)."""
    rng = np.random.default_rng(seed + 7919)
    out = []
    for name, idx in cells:
        of_cell = (pairs_cell == name) & (labels >= 0)
        sup = np.flatnonzero(of_cell & (split == "train"))
        qry = np.flatnonzero(of_cell & (split == "val"))
        if len(sup) > support_pool:
            sup = np.sort(sup[draw_support(labels[sup], support_pool, rng)])
        if len(qry) > max_query:
            qry = np.sort(rng.choice(qry, max_query, replace=False))
        out.append(ValCell(name, idx, sup, qry))
    return out


def auroc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUROC."""
    if n_pos == 0 or n_neg == 0:
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc)
           + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def collapse_reason(m: dict) -> str | None:
    """Why a cell's validation predictions look collapsed, or None."""
    if not math.isfinite(m.get("auroc", math.nan)):
        return None
    if m["spread"] < SPREAD_FLOOR:
        return f"prediction spread {m['spread']:.4f} < {SPREAD_FLOOR}"
    se = auroc_standard_error(0.5, m["n_pos"], m["n"] - m["n_pos"])
    if abs(m["auroc"] - 0.5) < 2 * se:
        return (f"AUROC {m['auroc']:.3f} within noise of 0.5 (2 SE = {2 * se:.3f}); "
                f"AUPR {m['aupr']:.3f} vs prevalence {m['prevalence']:.3f}")
    return None


def validate(model, arrays: dict, plan: list[ValCell], support_sizes=(8, 256),
             n_episodes: int = 32, seed: int = 0, batch_size: int = 256) -> dict:
    """Score every planned cell through the inference path (prism_cli/predict).

    arrays : {"enhancers", "promoters" (code memmaps), "enh_idx", "prom_idx",
              "log_distance", "labels"} of the whole pairs table.
    Returns {"cells": {name: metrics}, "mean_aupr", "mean_auroc", "collapse": {name: why}}.
    """
    rows = np.unique(np.concatenate([np.concatenate([c.support, c.query]) for c in plan]
                                    or [np.zeros(0, np.int64)]))
    out = rows_outputs(model, arrays["enhancers"], arrays["promoters"], arrays["enh_idx"][rows],
                       arrays["prom_idx"][rows], arrays["log_distance"][rows], batch_size)
    pos = {int(r): i for i, r in enumerate(rows)}
    labels = arrays["labels"]
    # the zero-shot environment (what `prism score --zero-shot` uses), once per validation
    pi_bar = mean_environment(model) if model.has_environment else None
    result: dict = {"cells": {}, "collapse": {}}
    for k, cell in enumerate(plan):
        if len(cell.query) == 0:
            continue
        qi = torch.tensor([pos[int(r)] for r in cell.query], dtype=torch.long)
        y = labels[cell.query].astype(np.int64)
        u, z_f = out["U"][qi], out["z_F"][qi]
        m: dict = {"n": int(len(y)), "n_pos": int(y.sum()), "prevalence": float(y.mean())}
        if model.has_environment and len(cell.support):
            si = torch.tensor([pos[int(r)] for r in cell.support], dtype=torch.long)
            support = {"z_F": out["z_F"][si], "U": out["U"][si], "y": labels[cell.support]}
            rng = np.random.default_rng(seed + 104729 * (k + 1))
            pi, pi_sd, _ = estimate_environment(model, support, support_sizes, 0, rng)
            p = predict(model, u, z_f, pi)["p"].numpy()
            m["pi_sd"] = float(pi_sd.mean())
        else:  # no support: zero-shot
            p = predict(model, u, z_f, pi_bar)["p"].numpy()
        m.update(aupr=aupr(y, p), auroc=auroc(y, p), spread=float(p.std()), bce=_bce(p, y))
        if model.has_environment:
            p0 = predict(model, u, z_f, pi_bar)["p"].numpy()
            m.update(aupr_zero_shot=aupr(y, p0), auroc_zero_shot=auroc(y, p0))
            pu = predict(model, u, z_f, None)["p"].numpy()
            m.update(aupr_u=aupr(y, pu), auroc_u=auroc(y, pu))
            if cell.cell_index is not None:
                pt = predict(model, u, z_f, teacher_pi(model, cell.cell_index))["p"]
                m.update(aupr_teacher=aupr(y, pt.numpy()), auroc_teacher=auroc(y, pt.numpy()))
        result["cells"][cell.name] = m
        why = collapse_reason(m)
        if why:
            result["collapse"][cell.name] = why
    vals = [m for m in result["cells"].values() if math.isfinite(m["aupr"])]
    result["mean_aupr"] = float(np.mean([m["aupr"] for m in vals])) if vals else math.nan
    result["mean_auroc"] = float(np.mean([m["auroc"] for m in vals])) if vals else math.nan
    result["mean_prevalence"] = (float(np.mean([m["prevalence"] for m in vals]))
                                 if vals else math.nan)
    return result
