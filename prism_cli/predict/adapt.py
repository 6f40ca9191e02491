"""Adapting a trained PRISM model to an unseen cell line from a small support set.

The data flow is training's (docs/model.md): support pairs -> element features/towers -> z_I ->
(U_I, z_F) -> the student's amortised guess pi_S, refined to the MAP of the support labels'
likelihood under the frozen U_I and R with a prior from the training cells' teacher
environments (model/posterior.py) -- the function training episodes and validation call.
The registered environment is that estimate; its Laplace sd and the spread of the
estimates from random sub-supports of the training sizes are the confidence signals.

The decision threshold is chosen by cross-fitting on the support set only: the support is
split into k stratified folds, each fold is predicted with an environment estimated from
the other folds, and the threshold maximising F1 on these out-of-fold predictions is kept.
No pair that will later be scored takes part.

``support_curve`` measures, by the same cross-fitting, how AUPR on the cell's own held-out
labelled pairs grows with the support size: whether more labels are worth collecting.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import PrismInputError
from ..metrics import aupr, auroc, best_f1_threshold
from .environment import estimate_environment, mean_environment, nearest_cells, predict
from .pairs import frame_outputs
from .support import draw_support

MIN_PER_CLASS = 2      # labelled pairs of each class the support needs at least
MIN_LABELLED = 8       # labelled pairs in all


def canonical_order(pairs) -> np.ndarray:
    """Row order that does not depend on the support file's line order."""
    keys = [pairs[c].to_numpy() for c in ("name", "end2", "start2", "chrom2", "end1",
                                          "start1", "chrom1")]
    return np.lexsort(keys)


def check_support(y: np.ndarray, path: str) -> None:
    """Enough labelled pairs of both classes, or a one-line PrismInputError saying what
    is needed.  y : int, shape=(n,) (1/0, -1 = unlabelled)."""
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if pos == 0 or neg == 0:
        have = "positives" if pos else "negatives"
        raise PrismInputError(f"the support set has only {have} ({pos} positive, {neg} "
                              f"negative); adapt needs both classes, at least "
                              f"{MIN_PER_CLASS} of each", path)
    if pos < MIN_PER_CLASS or neg < MIN_PER_CLASS or pos + neg < MIN_LABELLED:
        raise PrismInputError(f"too few labelled support pairs ({pos} positive, {neg} "
                              f"negative); adapt needs at least {MIN_LABELLED} labelled pairs "
                              f"with at least {MIN_PER_CLASS} of each class (16-64 or more "
                              "recommended)", path)


def support_outputs(model, ds, order: np.ndarray, inputs=None) -> dict:
    """z_F (n, d_f), U (n,) and y (n,) of the support pairs, in canonical order, through
    the inference path.  inputs : (enhancer, promoter) ElementInputs of ``ds`` (default:
    its codes)."""
    pairs = ds.pairs.iloc[order]
    out = frame_outputs(model, inputs if inputs is not None else (ds.enhancers, ds.promoters),
                        pairs)
    return {"z_F": out["z_F"], "U": out["U"],
            "y": torch.from_numpy(pairs["label"].to_numpy().astype(np.int64))}


def _subset(support: dict, rows: np.ndarray) -> dict:
    idx = torch.from_numpy(rows)
    return {k: v[idx] for k, v in support.items()}


def cross_fit_threshold(model, support: dict, sizes, n_episodes: int, seed: int,
                        folds: int = 5) -> dict:
    """Out-of-fold probabilities of the labelled support pairs and the F1-best threshold."""
    y = support["y"].numpy()
    labelled = np.flatnonzero(y >= 0)
    yl = y[labelled]
    k = int(min(folds, (yl == 1).sum(), (yl == 0).sum()))
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labelled), dtype=np.int64)
    for cls in (0, 1):  # stratified: each class dealt round-robin over the folds
        where = np.flatnonzero(yl == cls)
        fold[rng.permutation(where)] = np.arange(len(where)) % k
    oof = np.empty(len(labelled), dtype=np.float64)
    for f in range(k):
        train_rows = np.concatenate([labelled[fold != f], np.flatnonzero(y < 0)])
        test_rows = labelled[fold == f]
        pi, _, _ = estimate_environment(
            model, _subset(support, train_rows), sizes, 0, np.random.default_rng(seed + 1 + f))
        p = predict(model, support["U"][test_rows], support["z_F"][test_rows], pi)["p"]
        oof[fold == f] = p.numpy()
    threshold, at = best_f1_threshold(yl, oof)
    return {"threshold": threshold, "folds": k, "oof_aupr": aupr(yl, oof),
            "oof_auroc": auroc(yl, oof), "oof_f1": at["f1"], "oof_precision": at["precision"],
            "oof_recall": at["recall"]}


def adapt_cell(model, ds, sizes, n_episodes: int = 64, seed: int = 0, folds: int = 5,
               cells: list[str] | None = None, path: str = "support", inputs=None,
               curve: bool = False) -> dict:
    """Estimate a cell environment from the support pairs of ``ds`` (one cell).

    Returns the record ``prism adapt`` registers: pi (K,), pi_sd (K,) (Laplace),
    threshold, cross-fit metrics, spread over sub-supports, support counts, nearest
    training cells, and with ``curve`` the support-size curve (:func:`support_curve`).
    """
    if not model.has_environment:
        raise PrismInputError("this model has no cell environment (arch crossattn); adapt "
                              "needs a PRISM model")
    order = canonical_order(ds.pairs)
    y_all = ds.pairs["label"].to_numpy()[order]
    check_support(y_all, path)
    support = support_outputs(model, ds, order, inputs)
    pi, pi_sd, pis = estimate_environment(model, support, sizes, n_episodes,
                                          np.random.default_rng(seed))
    # spread: how much a support pair's probability moves with the episode drawn
    per_episode = torch.stack([predict(model, support["U"], support["z_F"], p)["p"]
                               for p in pis])                         # (episodes, n)
    p_mean = predict(model, support["U"], support["z_F"], pi)["p"].numpy()
    fit = cross_fit_threshold(model, support, sizes, n_episodes, seed, folds)
    y = support["y"].numpy()
    lab = y >= 0
    record = {
        "pi": pi.tolist(), "pi_sd": pi_sd.tolist(),
        "threshold": fit["threshold"],
        "cross_fit": fit,
        "spread": {"pi_sd_mean": float(pi_sd.mean()),
                   "pi_sd_resample": float(pis.std(0, unbiased=False).mean()),
                   "p_sd_mean": float(per_episode.std(0, unbiased=False).mean()),
                   "episodes": int(n_episodes)},
        "support": {"pairs": int(len(y)), "labelled": int(lab.sum()),
                    "positives": int((y == 1).sum()), "negatives": int((y == 0).sum()),
                    "unlabelled_transductive": int((~lab).sum()),
                    "sizes": list(sizes) if not np.isscalar(sizes) else [int(sizes)] * 2},
        "in_sample": {"aupr": aupr(y[lab], p_mean[lab]), "auroc": auroc(y[lab], p_mean[lab]),
                      "mean_p": float(p_mean.mean()),
                      "prevalence": float((y[lab] == 1).mean())},
        "seed": int(seed),
    }
    if cells:
        record["nearest_cells"] = nearest_cells(model, pi, cells)
    if curve:
        record["support_curve"] = support_curve(model, support, seed=seed)
    if not math.isfinite(record["threshold"]):
        record["threshold"] = 0.5
    return record


CURVE_SIZES = (0, 8, 16, 32, 64, 128, 256)


def support_curve(model, support: dict, sizes=CURVE_SIZES, repeats: int = 5, seed: int = 0
                  ) -> list[dict]:
    """AUPR/AUROC on held-out labelled support pairs against the support size.

    The labelled pairs are split into two stratified halves; supports of each size are
    drawn (``repeats`` times, both classes present) from one half and the other half is
    scored, then the halves swap.  Size 0 is the prior mean environment (what the model
    assumes of a cell it knows nothing about).  A size larger than a half is skipped.
    Returns one dict per size: size, aupr, aupr_sd, auroc, auroc_sd, prevalence, draws.
    """
    y = support["y"].numpy()
    labelled = np.flatnonzero(y >= 0)
    rng = np.random.default_rng(seed)
    half = np.empty(len(labelled), dtype=np.int64)
    for cls in (0, 1):
        where = np.flatnonzero(y[labelled] == cls)
        half[rng.permutation(where)] = np.arange(len(where)) % 2
    prior = mean_environment(model)
    rows = []
    for size in sizes:
        scores = []
        for h in (0, 1):
            pool, test = labelled[half == h], labelled[half != h]
            if size > len(pool) or len(np.unique(y[test])) < 2:
                continue
            for r in range(repeats if size else 1):
                if size == 0:
                    pi = prior
                else:
                    pick = pool[draw_support(y[pool], size, rng)]
                    pi, _, _ = estimate_environment(model, _subset(support, pick), size, 0)
                p = predict(model, support["U"][test], support["z_F"][test], pi)["p"]
                scores.append((aupr(y[test], p.numpy()), auroc(y[test], p.numpy())))
        if not scores:
            continue
        a = np.array(scores)
        rows.append({"size": int(size), "aupr": float(a[:, 0].mean()),
                     "aupr_sd": float(a[:, 0].std()), "auroc": float(a[:, 1].mean()),
                     "auroc_sd": float(a[:, 1].std()),
                     "prevalence": float((y[labelled] == 1).mean()), "draws": len(a)})
    return rows
