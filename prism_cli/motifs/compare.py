"""Motif similarity by TOMTOM (memelite): best target per query, redundancy merging.

memelite's ``tomtom`` takes (4, W) arrays (length last) and builds the null distribution
of each query column from the columns of all the targets it is given, so its p-values
depend on the target set (it warns below 25 targets).  Both functions here accept a
``background`` list of extra motifs (a database such as JASPAR) that join the targets
for the null distribution and the multiple-testing correction but are never reported
as a match.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from .pwm import Motif


def _layout(motifs: list[Motif]) -> list[np.ndarray]:
    # one dtype and memory layout for every call: each new layout is a fresh numba compile
    return [np.ascontiguousarray(m.pwm.T, dtype=np.float64) for m in motifs]


def tomtom_pvalues(queries: list[Motif], targets: list[Motif]) -> dict[str, np.ndarray]:
    """memelite tomtom of every query against every target, both target strands.

    Returns arrays of shape=(len(queries), len(targets)): ``p_value``, ``score``,
    ``offset``, ``overlap``, ``strand`` (0: target as given, 1: reverse complement).
    The warning memelite gives for < 25 targets is silenced: callers that need reliable
    p-values pass a ``background``.
    """
    from memelite import tomtom

    # numba's OpenMP pool can reset the OpenMP thread count torch shares: keep torch's
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="tomtom was given")
            p, score, offset, overlap, strand = tomtom(_layout(queries), _layout(targets))[:5]
    finally:
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return {"p_value": p, "score": score, "offset": offset, "overlap": overlap,
            "strand": strand}


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis. p : (..., n) -> same shape."""
    p = np.asarray(p, dtype=np.float64)
    n = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, -1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), -1)
    return q


def tomtom_table(queries: list[Motif], targets: list[Motif],
                 background: list[Motif] | None = None) -> pd.DataFrame:
    """The best target of each query, by TOMTOM p-value.

    Columns: query, target, p_value, q_value, offset, overlap, strand ("+"/"-"); one
    row per query, in query order.  q_value is Benjamini-Hochberg over all the
    comparisons of that query (targets and background), as TOMTOM's q-values are per
    query; the best row is the target (never a background motif) with the lowest p.
    """
    background = list(background or [])
    res = tomtom_pvalues(queries, list(targets) + background)
    q = bh_qvalues(res["p_value"])
    n = len(targets)
    best = np.argmin(res["p_value"][:, :n], axis=1)
    rows = np.arange(len(queries))
    return pd.DataFrame({
        "query": [m.name for m in queries],
        "target": [targets[j].name for j in best],
        "p_value": res["p_value"][rows, best],
        "q_value": q[rows, best],
        "offset": res["offset"][rows, best].astype(int),
        "overlap": res["overlap"][rows, best].astype(int),
        "strand": np.where(res["strand"][rows, best] > 0, "-", "+"),
    })


def merge_redundant(motifs: list[Motif], order=None, q_threshold: float = 0.05,
                    background: list[Motif] | None = None) -> list[Motif]:
    """Greedy de-duplication: keep motifs in priority order, drop a motif that matches a
    motif already kept at TOMTOM q < ``q_threshold``.

    order : indices of ``motifs``, most important first (default: as given).  q-values
    are Benjamini-Hochberg per motif over its comparisons with the other motifs (and the
    ``background``, which is only a null set).  Returns the kept motifs in priority order.
    """
    motifs = list(motifs)
    if len(motifs) < 2:
        return motifs
    order = list(range(len(motifs))) if order is None else [int(i) for i in order]
    background = list(background or [])
    n = len(motifs)
    p = tomtom_pvalues(motifs, motifs + background)["p_value"]       # (n, n + n_bg)
    p[np.arange(n), np.arange(n)] = np.nan                            # no self-match
    q = np.full_like(p, np.nan)
    for i in range(n):
        others = ~np.isnan(p[i])
        q[i, others] = bh_qvalues(p[i, others])
    q = np.fmin(q[:, :n], q[:, :n].T)                                 # either direction
    kept: list[int] = []
    for i in order:
        if not any(q[i, j] < q_threshold for j in kept):
            kept.append(i)
    return [motifs[i] for i in kept]
