"""Dinucleotide shuffles of code arrays (tangermeme's Eulerian-path shuffle).

A shuffle keeps each sequence's first and last base and the count of every dinucleotide,
so it keeps base composition and CpG content while destroying motifs: the background
that motif discovery and threshold calibration compare real elements against.
"""

from __future__ import annotations

import numpy as np

from ..encode import N_CODE


def dinucleotide_shuffle_codes(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """One dinucleotide shuffle of each sequence.

    codes : uint8, shape=(N, L), A=0 C=1 G=2 T=3 N=4.  Returns uint8, shape=(N, L).

    N is shuffled as a fifth letter (tangermeme ``allow_N=True``): every shuffle keeps the
    number of Ns and the count of every dinucleotide, including those with an N, so a run
    of Ns stays one run but may move.  Sequence i is shuffled with the i-th of a list of
    seeds drawn from ``seed``; the result is deterministic for a seed.
    """
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (N, L), got {codes.shape}")
    n, length = codes.shape
    if n == 0 or length < 3:
        return codes.copy()
    seeds = np.random.default_rng(seed).integers(0, 2 ** 31 - 1, size=n)
    one_hot = np.zeros((n, 4, length), dtype=np.int8)
    rows, cols = np.nonzero(codes < N_CODE)
    one_hot[rows, codes[rows, cols], cols] = 1
    shuffled = dinucleotide_shuffle(torch.from_numpy(one_hot), n=1,
                                     random_state=[int(s) for s in seeds], allow_N=True)
    x = shuffled[:, 0].numpy()                                        # (N, 4, L) int8
    out = x.argmax(1).astype(np.uint8)
    out[x.sum(1) == 0] = N_CODE
    return out
