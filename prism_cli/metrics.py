"""Metrics of labelled scores: AUPR and AUROC (nan, not an error, when a class is missing),
balanced AUPR, Brier score, precision/recall/F1 at a threshold and at the F1-optimal one,
the per-group row of `prism evaluate`, PR and ROC curve points."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _checked(y, s) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and scores as 1-D arrays; None when both classes are not present."""
    y = np.asarray(y).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape[0]} != {s.shape[0]}")
    y = y.astype(bool) if y.dtype != bool else y
    if y.size == 0 or y.all() or not y.any():
        return None
    return y, s


def _two_class(metric, y, s) -> float:
    """metric(y, s) as a float; nan when y does not hold both classes."""
    checked = _checked(y, s)
    if checked is None:
        return math.nan
    return float(metric(*checked))


def aupr(y, s) -> float:
    """Area under the precision-recall curve (average precision).

    y : array, shape=(n,), labels 0/1;  s : array, shape=(n,), higher = more positive.
    Returns nan when y holds only one class (or is empty).
    """
    from sklearn.metrics import average_precision_score

    return _two_class(average_precision_score, y, s)


def auroc(y, s) -> float:
    """Area under the ROC curve; ties count one half.

    y : array, shape=(n,), labels 0/1;  s : array, shape=(n,), higher = more positive.
    Returns nan when y holds only one class (or is empty).
    """
    from sklearn.metrics import roc_auc_score

    return _two_class(roc_auc_score, y, s)


def balanced_aupr(y: np.ndarray, s: np.ndarray, draws: int = 10, seed: int = 0) -> float:
    """AUPR on class-balanced subsamples, averaged over ``draws`` draws.

    Each draw keeps every pair of the minority class and as many pairs, drawn without
    replacement, of the majority class, so the AUPR of a random ranking is 0.5 whatever
    the group's prevalence. Deterministic for a given ``seed``. nan with one class.
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if pos.size == 0 or neg.size == 0:
        return math.nan
    minority, majority = (pos, neg) if pos.size <= neg.size else (neg, pos)
    if minority.size == majority.size:
        return aupr(y, s)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        keep = np.concatenate([minority, rng.choice(majority, minority.size, replace=False)])
        values.append(aupr(y[keep], s[keep]))
    return float(np.mean(values))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of probabilities: mean((p - y)^2); nan if p leaves [0, 1] or n = 0.

    y : array, shape=(n,), 0/1;  p : array, shape=(n,), probabilities.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0 or (p < 0).any() or (p > 1).any():
        return math.nan
    return float(np.mean((p - y) ** 2))


def confusion_at(y: np.ndarray, s: np.ndarray, threshold) -> dict:
    """Precision, recall and F1 when pairs with ``s >= threshold`` are called positive.

    threshold : float, or array shape=(n,) (one threshold per pair, e.g. per cell).
    precision is nan when nothing is called positive; recall and F1 are nan when there
    are no positives; F1 = 2TP / (2TP + FP + FN).
    """
    y = np.asarray(y).astype(bool)
    called = np.asarray(s, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)
    tp = int(np.sum(called & y))
    fp = int(np.sum(called & ~y))
    fn = int(np.sum(~called & y))
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fn else math.nan
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(y: np.ndarray, s: np.ndarray) -> tuple[float, dict]:
    """The score threshold t maximising F1 of the rule ``s >= t``, and the metrics there.

    Candidate thresholds are the distinct scores. Ties in F1 go to the highest threshold
    (fewest pairs called positive). Returns (nan, nan metrics) without positives.
    y : array, shape=(n,), 0/1;  s : array, shape=(n,).
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0 or y.size == 0:
        return math.nan, {"precision": math.nan, "recall": math.nan, "f1": math.nan}
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    tp = np.cumsum(y_desc)
    fp = np.cumsum(~y_desc)
    # the rule s >= t with t = s_desc[i] calls every pair up to the last tie of s_desc[i]
    last_of_tie = np.r_[s_desc[1:] != s_desc[:-1], True]
    tp, fp, thresholds = tp[last_of_tie], fp[last_of_tie], s_desc[last_of_tie]
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    best = int(np.argmax(f1))  # thresholds descend, so the first maximum is the highest t
    return float(thresholds[best]), {
        "precision": float(tp[best] / (tp[best] + fp[best])),
        "recall": float(tp[best] / n_pos),
        "f1": float(f1[best]),
    }


# Output columns, in order (the group column, named after --by, comes first).
METRIC_COLUMNS = [
    "n", "excluded", "positives", "prevalence", "aupr", "auroc", "aupr_balanced", "brier",
    "threshold", "precision_at_t", "recall_at_t", "f1_at_t",
    "best_f1_threshold", "precision_at_best", "recall_at_best", "best_f1",
]


def group_metrics(y: np.ndarray, s: np.ndarray, threshold=None, excluded: int = 0,
                  draws: int = 10, seed: int = 0) -> dict:
    """Every metric of one group (keys = METRIC_COLUMNS).

    y : array, shape=(n,), 0/1 labels (missing labels already removed; ``excluded`` says
        how many were);  s : array, shape=(n,), scores (probabilities for Brier);
    threshold : None, a float, or an array shape=(n,) with nan where a pair has none.
        The at-threshold metrics are computed only when every pair has a threshold.
    """
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s, dtype=np.float64)
    n, n_pos = int(y.size), int(y.sum())
    out = {"n": n, "excluded": int(excluded), "positives": n_pos,
           "prevalence": n_pos / n if n else math.nan,
           "aupr": aupr(y, s), "auroc": auroc(y, s),
           "aupr_balanced": balanced_aupr(y, s, draws=draws, seed=seed),
           "brier": brier_score(y, s)}
    t_used = _threshold_label(threshold, n)
    out["threshold"] = t_used
    if t_used is None:
        out.update(precision_at_t=None, recall_at_t=None, f1_at_t=None)
    else:
        at = confusion_at(y, s, threshold)
        out.update(precision_at_t=at["precision"], recall_at_t=at["recall"], f1_at_t=at["f1"])
    t_best, best = best_f1_threshold(y, s)
    if n_pos in (0, n):  # one class: no F1-optimal threshold (the warning says nan)
        t_best, best = math.nan, {"precision": math.nan, "recall": math.nan, "f1": math.nan}
    out.update(best_f1_threshold=t_best, precision_at_best=best["precision"],
               recall_at_best=best["recall"], best_f1=best["f1"])
    return out


def _threshold_label(threshold, n: int):
    """What the threshold column shows: the value, 'per-cell' for several, None for none."""
    if threshold is None:
        return None
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n,))
    if n == 0 or np.isnan(t).any():
        return None
    uniq = np.unique(t)
    return float(uniq[0]) if uniq.size == 1 else "per-cell"


@dataclass
class GroupCurves:
    """PR and ROC curve points of one group, for plotting."""

    name: str
    prevalence: float
    aupr: float
    auroc: float
    precision: np.ndarray = field(repr=False)
    recall: np.ndarray = field(repr=False)
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)


def curves(name: str, y: np.ndarray, s: np.ndarray) -> GroupCurves | None:
    """PR and ROC curve points of one group; None when it lacks a class."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y).astype(np.int64)
    if y.size == 0 or y.min() == y.max():
        return None
    precision, recall, _ = precision_recall_curve(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    return GroupCurves(name, float(y.mean()), aupr(y, s), auroc(y, s),
                       precision, recall, fpr, tpr)

