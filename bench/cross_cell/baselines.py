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
from prism_cli.model.kmer import canonical_columns, kmer_spectrum

KMER_SIZES = (3, 4, 5, 6)
C_GRID = (0.01, 0.1, 1.0, 10.0)


def canonical_index(k: int) -> tuple[np.ndarray, int]:
    """Column of every k-mer code (base-4, first base most significant) among the
    canonical k-mers, and their number: the model's own mapping (prism_cli/model/kmer.py)."""
    column, n_col = canonical_columns(k)
    return column.numpy(), n_col


def kmer_frequencies(codes: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Canonical k-mer frequencies of each window, computed as the model's k-mer token
    computes them (prism_cli.model.kmer.kmer_spectrum).

    codes : uint8, shape=(n, L) base codes (4 = N).  Returns float32, shape=(n, n_canonical);
    each row sums to 1 (or 0 when the window has no k-mer free of N).
    """
    import torch

    column, n_col = canonical_columns(k)
    out = np.zeros((len(codes), n_col), dtype=np.float32)
    for s in range(0, len(codes), chunk):
        block = torch.from_numpy(np.array(codes[s:s + chunk]))  # a copy: memmaps are read-only
        out[s:s + len(block)] = kmer_spectrum(block, k, column, n_col).numpy()
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
