"""Support episodes: how many pairs, which pairs, and their padding into one batch.

Training episodes, validation, ``adapt`` and ``score --support`` draw supports with these
functions, so a support seen at inference looks like one seen in training.
"""

from __future__ import annotations

import math

import numpy as np


def sample_support_sizes(n_available: int, sizes, n_episodes: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Episode support sizes: log-uniform integers in ``sizes`` = (lo, hi) (or one int),
    capped at the number of available pairs.  Returns int64, shape=(n_episodes,)."""
    lo, hi = (sizes, sizes) if np.isscalar(sizes) else sizes
    lo, hi = min(int(lo), n_available), min(int(hi), n_available)
    if hi <= lo:
        return np.full(n_episodes, hi, dtype=np.int64)
    u = rng.uniform(math.log(lo), math.log(hi + 1), size=n_episodes)
    return np.minimum(np.floor(np.exp(u)).astype(np.int64), hi)


def draw_support(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct positions of ``labels``, with at least one positive and one
    negative when both exist.  labels : int, shape=(n,) (-1 = unlabelled)."""
    n = len(labels)
    if size >= n:
        return rng.permutation(n)
    forced = []
    for cls in (1, 0):
        where = np.flatnonzero(labels == cls)
        if len(where):
            forced.append(int(rng.choice(where)))
    forced = np.array(forced[:size], dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), forced, assume_unique=False)
    extra = rng.choice(rest, size=size - len(forced), replace=False)
    return rng.permutation(np.concatenate([forced, extra]))


def pad_rows(rows_per_episode: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-episode row lists padded to one width W (the longest).

    Returns rows (E, W) int64 (0 where padded) and mask (E, W) bool (True = a real row).
    """
    width = max((len(r) for r in rows_per_episode), default=0)
    rows = np.zeros((len(rows_per_episode), width), dtype=np.int64)
    mask = np.zeros((len(rows_per_episode), width), dtype=bool)
    for e, r in enumerate(rows_per_episode):
        rows[e, :len(r)] = r
        mask[e, :len(r)] = True
    return rows, mask
