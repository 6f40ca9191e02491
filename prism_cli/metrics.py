"""Ranking metrics that return nan instead of raising when a class is missing."""

from __future__ import annotations

import math

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


def aupr(y, s) -> float:
    """Area under the precision-recall curve (average precision).

    y : array, shape=(n,), labels 0/1;  s : array, shape=(n,), higher = more positive.
    Returns nan when y holds only one class (or is empty).
    """
    from sklearn.metrics import average_precision_score

    checked = _checked(y, s)
    if checked is None:
        return math.nan
    return float(average_precision_score(*checked))


def auroc(y, s) -> float:
    """Area under the ROC curve; ties count one half.

    y : array, shape=(n,), labels 0/1;  s : array, shape=(n,), higher = more positive.
    Returns nan when y holds only one class (or is empty).
    """
    from sklearn.metrics import roc_auc_score

    checked = _checked(y, s)
    if checked is None:
        return math.nan
    return float(roc_auc_score(*checked))
