"""Interspersed repeats: positions whose exact sequence recurs in several elements.

Copies of a repeat family (transposon fragments, segmental duplications) are enriched
over dinucleotide shuffles at every k-mer they contain, so without masking each family
costs discovery a round and crowds the weaker motifs out of the k-mer seeds.  A motif
instance with random flanks does not recur exactly over 20 bp, a repeat copy does."""

from __future__ import annotations

import numpy as np


def repeat_mask(codes: np.ndarray, k: int = 20, min_elements: int = 3) -> np.ndarray:
    """Positions covered by a k-mer that occurs, on either strand and free of N, in at
    least ``min_elements`` distinct elements.

    codes : uint8 (N, L), A=0 C=1 G=2 T=3 N=4; k <= 20 (the k-mer is an int64 index).
    Returns bool (N, L)."""
    from ...encode import reverse_complement
    from .seeds import _kmer_index

    if not 1 <= k <= 20:
        raise ValueError(f"k must be in 1..20, got {k}")
    n, length = codes.shape
    m = length - k + 1
    mask = np.zeros((n, length), dtype=bool)
    if m <= 0 or n == 0:
        return mask
    fwd, ok = _kmer_index(codes, k)
    rev, _ = _kmer_index(reverse_complement(codes), k)
    canon = np.minimum(fwd, rev[:, ::-1])        # the window and its reverse complement
    rows = np.broadcast_to(np.arange(n)[:, None], (n, m))[ok]
    kmer = canon[ok]
    once = np.unique(kmer * n + rows) // n       # each k-mer once per element
    kmers, n_elements = np.unique(once, return_counts=True)
    hit = np.zeros((n, m), dtype=bool)
    hit[ok] = np.isin(kmer, kmers[n_elements >= min_elements])
    for i in range(k):
        mask[:, i:i + m] |= hit
    return mask
