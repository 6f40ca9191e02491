"""Logistic-regression baselines of the cross-cell benchmark: distance only, and k-mer
frequencies of both windows (with and without distance).

Features are computed once per unique element from the dataset's uint8 base codes
(A=0 C=1 G=2 T=3 N=4), so a k-mer never spans an N.  k-mers are counted on both strands
(canonical k-mers: a k-mer and its reverse complement share one feature) and turned into
frequencies per window.  Pair features = [enhancer frequencies, promoter frequencies]
(+ [log10 d, (log10 d)^2] for ``kmer+dist``); L2 logistic regression.  k-mer columns are
scaled by their maximum (MaxAbsScaler: sparse 6-mer columns keep their sparsity; z-scoring
them inflates rare k-mers and made k=6 much worse in tests); distance columns are z-scored.

Selection (k in 3..6 and the L2 strength C) uses the training cells only: fit on their
training-chromosome pairs, score their validation-chromosome pairs, keep the setting with
the best mean per-cell AUPR.  The held-out cell is never looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prism_cli.metrics import aupr

KMER_SIZES = (3, 4, 5, 6)
C_GRID = (0.01, 0.1, 1.0, 10.0)


def canonical_index(k: int) -> tuple[np.ndarray, int]:
    """Map every k-mer code (base-4, first base most significant) to a canonical column.

    Returns (column of each of the 4**k codes, number of canonical k-mers).
    """
    codes = np.arange(4 ** k, dtype=np.int64)
    digits = (codes[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4       # (4**k, k)
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(1)
    canon = np.minimum(codes, rc)
    uniq, column = np.unique(canon, return_inverse=True)
    return column.astype(np.int64), len(uniq)


def kmer_frequencies(codes: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Canonical k-mer frequencies of each window.

    codes : uint8, shape=(n, L) base codes (4 = N).  Returns float32, shape=(n, n_canonical);
    each row sums to 1 (or 0 when the window has no k-mer free of N).
    """
    column, n_col = canonical_index(k)
    n, length = codes.shape
    out = np.zeros((n, n_col), dtype=np.float32)
    if length < k:
        return out
    weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    for s in range(0, n, chunk):
        block = np.asarray(codes[s:s + chunk], dtype=np.int64)
        m = block.shape[0]
        windows = np.lib.stride_tricks.sliding_window_view(block, k, axis=1)  # (m, L-k+1, k)
        valid = (windows < 4).all(-1)
        idx = (np.minimum(windows, 3) * weights).sum(-1)
        col = column[idx]
        rows = np.broadcast_to(np.arange(m)[:, None], col.shape)
        counts = np.bincount((rows[valid] * n_col + col[valid]), minlength=m * n_col)
        counts = counts.reshape(m, n_col).astype(np.float32)
        total = counts.sum(1, keepdims=True)
        out[s:s + m] = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    return out


def distance_features(log_d: np.ndarray) -> np.ndarray:
    """[log10 d, (log10 d)^2], shape=(n, 2)."""
    log_d = np.asarray(log_d, dtype=np.float64)
    return np.stack([log_d, log_d ** 2], 1)


class PairFeatures:
    """Pair feature matrices built from per-element k-mer frequencies (cached per k)."""

    def __init__(self, enhancers: np.ndarray, promoters: np.ndarray, enh_idx: np.ndarray,
                 prom_idx: np.ndarray, log_d: np.ndarray):
        self.enhancers, self.promoters = enhancers, promoters
        self.enh_idx, self.prom_idx = np.asarray(enh_idx), np.asarray(prom_idx)
        self.log_d = np.asarray(log_d, dtype=np.float64)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _elements(self, k: int):
        if k not in self._cache:
            ue = np.unique(self.enh_idx)
            up = np.unique(self.prom_idx)
            self._cache[k] = (ue, kmer_frequencies(self.enhancers[ue], k),
                              up, kmer_frequencies(self.promoters[up], k))
        return self._cache[k]

    def matrix(self, rows: np.ndarray, k: int | None, distance: bool) -> np.ndarray:
        """Features of pairs ``rows``: k-mers of both windows (k None = none) + distance."""
        parts = []
        if k is not None:
            ue, fe, up, fp = self._elements(k)
            parts.append(fe[np.searchsorted(ue, self.enh_idx[rows])])
            parts.append(fp[np.searchsorted(up, self.prom_idx[rows])])
        if distance:
            parts.append(distance_features(self.log_d[rows]).astype(np.float32))
        return np.concatenate(parts, 1)


@dataclass
class FittedLR:
    """A scaled L2 logistic regression and the setting it was chosen with."""

    name: str
    k: int | None
    distance: bool
    C: float
    model: object
    selection: list          # [(k, C, mean val AUPR)] of every setting tried

    def score(self, feats: PairFeatures, rows: np.ndarray) -> np.ndarray:
        """Decision values (higher = more likely interacting), shape=(len(rows),)."""
        return self.model.decision_function(feats.matrix(rows, self.k, self.distance))


def _fit(x: np.ndarray, y: np.ndarray, C: float, n_distance: int, seed: int = 0):
    """Scaled L2 logistic regression; the last ``n_distance`` columns are distance."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler, StandardScaler

    n = x.shape[1]
    scale = ColumnTransformer([("kmer", MaxAbsScaler(), list(range(n - n_distance))),
                               ("distance", StandardScaler(), list(range(n - n_distance, n)))])
    model = make_pipeline(scale, LogisticRegression(C=C, max_iter=1000, random_state=seed))
    model.fit(x, y)
    return model


def _mean_cell_aupr(y: np.ndarray, s: np.ndarray, cells: np.ndarray) -> float:
    values = [aupr(y[cells == c], s[cells == c]) for c in np.unique(cells)]
    values = [v for v in values if math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def fit_selected(name: str, feats: PairFeatures, labels: np.ndarray, cells: np.ndarray,
                 train: np.ndarray, val: np.ndarray, ks, distance: bool,
                 c_grid=C_GRID) -> FittedLR:
    """Fit every (k, C) on ``train`` rows, keep the best mean per-cell val AUPR.

    ks : k-mer sizes to try (``[None]`` = distance only).
    """
    y_tr, y_va = labels[train], labels[val]
    best, tried = None, []
    for k in ks:
        x_tr = feats.matrix(train, k, distance)
        x_va = feats.matrix(val, k, distance)
        for C in c_grid:
            model = _fit(x_tr, y_tr, C, 2 if distance else 0)
            score = _mean_cell_aupr(y_va, model.decision_function(x_va), cells[val])
            tried.append((k, C, score))
            if best is None or score > best[2]:
                best = (k, C, score, model)
    k, C, _, model = best
    return FittedLR(name, k, distance, C, model, tried)
