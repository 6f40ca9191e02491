"""Seeds: the k-mers most over-represented in real elements over their shuffles."""

from __future__ import annotations

import numpy as np

from .pools import _Pool


def _kmer_index(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Base-4 index of every k-mer (N, L-k+1) int64, and whether it is free of N."""
    c = codes.astype(np.int64)
    n = c.shape[1] - k + 1
    idx = np.zeros((len(c), n), np.int64)
    ok = np.ones((len(c), n), bool)
    for i in range(k):
        idx = idx * 4 + np.minimum(c[:, i:i + n], 3)
        ok &= c[:, i:i + n] < 4
    return idx, ok


def _canonical_counts(codes: np.ndarray, k: int, rc_of: np.ndarray) -> np.ndarray:
    """Occurrences of each k-mer or its reverse complement, (4**k,)."""
    idx, ok = _kmer_index(codes, k)
    counts = np.bincount(idx[ok], minlength=4 ** k).astype(np.float64)
    return counts + counts[rc_of]


def _rc_index(k: int) -> np.ndarray:
    """Index of the reverse complement of every k-mer index, (4**k,)."""
    idx = np.arange(4 ** k)
    rc = np.zeros_like(idx)
    t = idx.copy()
    for _ in range(k):
        rc = rc * 4 + (3 - t % 4)
        t //= 4
    return rc


def _neighbourhood(kmer: np.ndarray, rc_of: np.ndarray, max_shift: int = 2) -> np.ndarray:
    """Indices of the k-mers that match ``kmer`` (codes (k,)) or its reverse complement
    at a shift of up to ``max_shift`` with at most one mismatch in the overlap."""
    k = len(kmer)
    place = 4 ** np.arange(k - 1, -1, -1)
    out = []
    for shift in range(-max_shift, max_shift + 1):
        # the other k-mer y has y[i] = kmer[i + shift] wherever both are defined
        fixed = [(i, kmer[i + shift]) for i in range(k) if 0 <= i + shift < k]
        free = [i for i in range(k) if not 0 <= i + shift < k]
        base = sum(int(b) * int(place[i]) for i, b in fixed)
        variants = [base]
        for i, b in fixed:                                   # one mismatch
            variants += [base + (d - int(b)) * int(place[i]) for d in range(4) if d != b]
        v = np.array(variants, dtype=np.int64)
        for i in free:                                       # any base where undefined
            v = (v[:, None] + np.arange(4)[None, :] * place[i]).ravel()
        out.append(v)
    v = np.concatenate(out)
    return np.concatenate([v, rc_of[v]])


def _gapped_z(r: np.ndarray, s: np.ndarray, k: int) -> np.ndarray:
    """z-scores (k, 4**k) of the gapped k-mers: row i holds, at the index of each k-mer
    with base A at position i, the z of that k-mer with position i free (any base);
    -inf elsewhere and on the end positions (a free end is a (k-1)-mer).  r, s : (4**k,)
    canonical counts, real and background."""
    real, back = r.reshape((4,) * k), s.reshape((4,) * k)
    z = np.full((k,) + (4,) * k, -np.inf)
    for i in range(1, k - 1):
        rg, sg = real.sum(i, keepdims=True), back.sum(i, keepdims=True)
        at = (i,) + (slice(None),) * i + (slice(0, 1),)
        z[at] = (rg - sg) / np.sqrt(sg + 1.0)
    return z.reshape(k, 4 ** k)


def _kmer_seeds(real: _Pool, background: _Pool, n: int, k: int, blocked: np.ndarray,
                rc_of: np.ndarray, min_z: float = 3.0, gapped: bool = False
                ) -> list[np.ndarray]:
    """The ``n`` most over-represented canonical k-mers (real vs background, z-score),
    exact or, when ``gapped``, with one free interior position (a degenerate base: a
    motif whose sites split between bases there is seen in no exact k-mer), that are not
    ``blocked`` (4**k bool) and not in the neighbourhood of one another (shift <= 2,
    <= 1 mismatch, either strand), as PWMs (k, 4): 0.7 on the k-mer's base, 0.1 on the
    others, 0.25 at a free position.  A gapped k-mer is judged, blocked and placed by
    its most frequent filling.  Blocks each chosen k-mer and its one-mismatch variants
    in ``blocked``, so later rounds try other seeds."""
    r = _canonical_counts(real.codes, k, rc_of)
    s = _canonical_counts(background.codes, k, rc_of)
    z = (r - s) / np.sqrt(s + 1.0)
    z[np.minimum(np.arange(4 ** k), rc_of) != np.arange(4 ** k)] = -np.inf
    if gapped:
        z = np.concatenate([z[None], _gapped_z(r, s, k)]).ravel()   # (1 + k) * 4**k
    place = 4 ** np.arange(k - 1, -1, -1)
    near = np.zeros_like(blocked)
    out = []
    for v in np.argsort(-z, kind="stable"):
        if z[v] < min_z or len(out) >= n:
            break
        free, u = int(v // 4 ** k) - 1, int(v % 4 ** k)     # free = -1: an exact k-mer
        if free >= 0:
            fillings = u + np.arange(4) * int(place[free])
            u = int(fillings[np.argmax(r[fillings])])
        if blocked[u] or near[u]:
            continue
        km = np.array([(u // 4 ** (k - 1 - i)) % 4 for i in range(k)], dtype=np.int64)
        near[_neighbourhood(km, rc_of)] = True
        blocked[_neighbourhood(km, rc_of, max_shift=0)] = True
        pwm = np.full((k, 4), 0.1)
        pwm[np.arange(k), km] = 0.7
        if free >= 0:
            pwm[free] = 0.25
        out.append(pwm)
    return out
