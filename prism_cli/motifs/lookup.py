"""Occupancy by table look-ups: the hit counts of ``MotifScanner.occupancy`` (and the
soft occupancies of ``soft_occupancy``) without a convolution.

    codes -> base-5 index of the c-mer at each position -> per kernel (motif, strand),
    the sum of T = W / c table entries (c <= 6), only where a bit-mask filter of the same
    tables says the window can reach the threshold -> hit windows (sparse) -> best strand
    -> non-overlapping hits (greedy) -> (N, M)

Everything is in integers (scores in units of the scanner's quantum q), so a hit here is
exactly a thresholded score of ``MotifScanner.scores``.  An N gets a table entry far
below any threshold and sequences are padded with N, so windows with an N or running off
the end are never hits.  Groups whose filter would pass more than 1% of random windows
(wide motifs) are scored densely from smaller tables.
"""

from __future__ import annotations

import numpy as np

_GROUP = 32                 # motifs per table group: 2 * 32 kernels, the bits of a uint64
_MAX_CHUNK = 6              # positions per look-up chunk: 5**6 c-mers, int16 indices
_LOW = -2 ** 26             # table entry of a chunk with an N inside the kernel
CLIP = 2 ** 25             # integer thresholds are clipped to +-this: |score / q| < 2**25
_FILTER_RATE = 0.01         # largest candidate rate of the look-up filter; else dense
_DENSE_CHUNK = 4            # positions per chunk of densely scored groups: 5**4 c-mers
_BLOCK = 2 ** 16            # positions (sequences * padded length) per block of the scan
_DENSE_BLOCK = 2 ** 18      # scores (sequences * L * kernels) per step of a dense group
SOFT_CUT = 5.0              # soft occupancy: windows below threshold - 5 softness ignored


def group_tables(log_odds: list, widths: np.ndarray, quantum: float, thr: np.ndarray
                 ) -> list:
    """Look-up tables of :func:`occupancy`, per group of <= 32 motifs in order of
    width.  log_odds: per motif (W, 4) bits; widths (M,); quantum q; thr (M,) int64
    thresholds in units of q (``MotifScanner._integer_thresholds``).

    ``part[t, i, k]`` (T, 5**c, K), from :func:`_chunk_tables`, is what chunk t of
    the group's kernel k (2m +, 2m+1 -) adds to a window's score / q for the c-mer
    of base-5 index i there.  ``mask[t, i]`` (T, 5**c) uint64 has bit k set iff
    part[t, i, k] plus the best entries of the other chunks reaches kernel k's
    threshold, so every hit has its bit set in all T masks (c <= 6: only the
    candidates with all bits set are scored).  Where more than 1% of uniform random
    windows would be candidates (wide motifs) mask is None and the group is scored
    densely, with c <= 4 (small tables).  Returns [(motifs (G,), T, c, part, mask,
    thresholds (K,))], integers in units of q.
    """
    groups = []
    order = np.argsort(widths, kind="stable")
    for g in range(0, len(order), _GROUP):
        ms = order[g:g + _GROUP]
        weights = np.zeros((2 * len(ms), int(widths[ms].max()), 4), dtype=np.int64)
        for i, m in enumerate(ms):
            q = np.round(log_odds[m] / quantum)              # (W, 4) integers
            weights[2 * i, :len(q)] = q
            weights[2 * i + 1, :len(q)] = q[::-1, ::-1]                # rev. comp.
        t_k = np.repeat(thr[ms], 2)                                      # (K,)
        part, c = _chunk_tables(weights, widths[ms].repeat(2), _MAX_CHUNK)
        best = part.max(1)                                               # (T, K)
        ok = part >= (t_k - best.sum(0) + best)[:, None]                 # (T, 5**c, K)
        acgt = (np.arange(5 ** c)[:, None] // 5 ** np.arange(c) % 5 < 4).all(1)
        mask = None
        if ok[:, acgt].mean(1).prod(0).mean() <= _FILTER_RATE:   # candidates / window
            bits = np.left_shift(np.uint64(1), np.arange(len(t_k), dtype=np.uint64))
            mask = np.bitwise_or.reduce(np.where(ok, bits, np.uint64(0)), 2)
        else:
            part, c = _chunk_tables(weights, widths[ms].repeat(2), _DENSE_CHUNK)
        dtype = np.int32 if len(part) < 32 else np.int64  # sums of T entries >= -2**26
        groups.append((ms, len(part), c, part.astype(dtype), mask, t_k.astype(dtype)))
    return groups


def _hits(x: np.ndarray, length: int, groups: list):
    """Hit windows of all motifs in a block, one row per window and strand.

    x : int16 (B, L + pad) codes 0-4, N (4) from ``length`` on, pad >= T * c of every
    group (so a window that runs off the end holds an N).  Returns int64 arrays
    (sequence (H,), motif (H,), start (H,), score / q (H,)).
    """
    found = []
    index = {}                      # c -> base-5 index of the c-mer at each start
    for ms, n_chunks, c, part, mask, t_k in groups:
        if c not in index:
            n = x.shape[1] - c + 1
            i = x[:, :n].copy()
            for u in range(1, c):
                i *= 5
                i += x[:, u:n + u]
            index[c] = i
        i = index[c]                                                     # (B, L')
        if mask is None:            # dense: all windows and kernels, a few rows at once
            step = max(1, _DENSE_BLOCK // max(1, length * len(t_k)))
            for r in range(0, len(i), step):
                score = np.take(part[0], i[r:r + step, :length], axis=0)  # (b, L, K)
                for t in range(1, n_chunks):
                    score += np.take(part[t], i[r:r + step, t * c:t * c + length], 0)
                at = np.flatnonzero(score >= t_k)
                seq, start, kernel = np.unravel_index(at, score.shape)
                found.append((seq + r, ms[kernel // 2], start, score.ravel()[at]))
            continue
        cand = mask[0][i[:, :length]]                                    # (B, L)
        for t in range(1, n_chunks):
            cand &= mask[t][i[:, t * c:t * c + length]]
        flat = np.flatnonzero(cand)                                      # (C,)
        byte = cand.ravel()[flat].astype("<u8").view(np.uint8)           # (C * 8,)
        at = np.flatnonzero(byte)                       # candidate * 8 + byte number
        bit = np.flatnonzero(np.unpackbits(byte[at, None], axis=1, bitorder="little"))
        at, kernel = at[bit >> 3], (at[bit >> 3] & 7) * 8 + (bit & 7)      # (H',)
        seq, start = np.divmod(flat[at >> 3], length)
        where = seq * i.shape[1] + start
        score = 0
        for t in range(n_chunks):                         # part[t, i, k], flat
            row = i.ravel()[where + t * c].astype(np.int64)
            score = score + part[t].ravel()[row * len(t_k) + kernel]
        hit = score >= t_k[kernel]
        found.append((seq[hit], ms[kernel[hit] // 2], start[hit], score[hit]))
    return tuple(np.concatenate(f).astype(np.int64) for f in zip(*found))


def windows(codes: np.ndarray, groups: list, n_motifs: int, batch_size: int):
    """Yield (rows slice, pair (H,), start (H,), score / q (H,)) per block of sequences:
    the hit windows of :func:`_hits` with the better strand's score, one per window,
    sorted by (pair, start); pair = sequence in the block * M + motif."""
    n, length = codes.shape
    pad = max(t * c for _, t, c, *_ in groups)
    step = max(1, min(batch_size, _BLOCK // (length + pad)))
    for r in range(0, n, step):
        rows = slice(r, min(n, r + step))
        x = np.full((rows.stop - r, length + pad), 4, dtype=np.int16)
        np.minimum(codes[rows], 4, out=x[:, :length])
        seq, motif, start, score = _hits(x, length, groups)
        window = (seq * n_motifs + motif) * length + start
        order = np.lexsort((score, window))
        window, score = window[order], score[order]
        last = np.ones(len(window), dtype=bool)
        last[:-1] = window[1:] != window[:-1]
        window, score = window[last], score[last]
        yield rows, window // length, window % length, score


def occupancy(codes: np.ndarray, groups: list, widths: np.ndarray, batch_size: int = 512
              ) -> np.ndarray:
    """Non-overlapping hit counts: codes uint8 (N, L), the tables of
    :func:`group_tables`, motif widths (M,) -> float32 (N, M)
    (``MotifScanner.occupancy``)."""
    n_motifs = len(widths)
    out = np.zeros((len(codes), n_motifs), dtype=np.float32)
    for rows, pair, start, score in windows(codes, groups, n_motifs, batch_size):
        kept = _greedy_non_overlapping(pair, start, score, widths[pair % n_motifs])
        out[rows] = np.bincount(pair[kept], minlength=(rows.stop - rows.start) * n_motifs
                                ).reshape(-1, n_motifs)
    return out


def soft_occupancy(codes: np.ndarray, groups: list, thresholds: np.ndarray, quantum: float,
                   softness: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Soft occupancy: per sequence and motif, the sum over windows of
    sigmoid((score - threshold) / softness) on the window's better strand, over the
    windows scoring >= threshold - SOFT_CUT * softness (the rest add < 0.007 each).

    codes uint8 (N, L); groups: :func:`group_tables` built at those lowered thresholds;
    thresholds (M,) the motifs' own thresholds, bits; quantum q; softness (M,) bits.
    Returns float32 (N, M).  Overlapping windows all count (no suppression): a strong
    site adds about 1, a site at the threshold 1/2, weak matches a little.
    """
    n_motifs = len(thresholds)
    out = np.zeros((len(codes), n_motifs), dtype=np.float32)
    for rows, pair, _, score in windows(codes, groups, n_motifs, batch_size):
        m = pair % n_motifs
        z = (score * quantum - thresholds[m]) / softness[m]
        weight = 0.5 * (1.0 + np.tanh(0.5 * z))                          # sigmoid
        out[rows] = np.bincount(pair, weights=weight,
                                minlength=(rows.stop - rows.start) * n_motifs
                                ).reshape(-1, n_motifs)
    return out


def _greedy_non_overlapping(pair: np.ndarray, pos: np.ndarray, score: np.ndarray,
                             width: np.ndarray) -> np.ndarray:
    """Greedy non-maximum suppression of sparse hits.

    pair, pos, score, width : (H,) int arrays sorted by (pair, pos), no repeats: the
    (sequence, motif) pair of each hit window, its start, score and the motif's width.
    Returns (H,) bool: the hits that greedy selection by (score desc, pos asc) keeps in
    each pair when each kept hit removes the hits starting < width away.  Runs in
    rounds: every hit that beats all remaining hits it overlaps (ties go to the left
    one) is kept and removes those; this is exactly the greedy selection.
    """
    near = []                           # (k, hits i and i + k overlap, shape=(H - k,))
    for k in range(1, len(pair)):       # overlapping hits are < width places apart
        overlap = (pair[k:] == pair[:-k]) & (pos[k:] - pos[:-k] < width[k:])
        if not overlap.any():           # then no pair is closer at a larger k
            break
        near.append((k, overlap))
    alive = np.ones(len(pair), dtype=bool)
    if not near:
        return alive
    kept = np.zeros_like(alive)
    while alive.any():
        keep = alive.copy()
        for k, overlap in near:
            both = overlap & alive[k:] & alive[:-k]
            keep[:-k] &= ~(both & (score[k:] > score[:-k]))     # the right one is higher
            keep[k:] &= ~(both & (score[:-k] >= score[k:]))     # the left one wins ties
        kept |= keep
        gone = keep.copy()
        for k, overlap in near:
            gone[k:] |= overlap & keep[:-k]
            gone[:-k] |= overlap & keep[k:]
        alive &= ~gone
    return kept


def _chunk_tables(weights: np.ndarray, widths: np.ndarray, max_chunk: int) -> tuple:
    """Chunked look-up tables of kernels.

    weights : int (K, W, 4) integer log-odds, zero past each kernel's width; widths
    (K,).  The kernels are cut into T = ceil(W / max_chunk) chunks of c = ceil(W / T)
    positions.  Returns (int64 (T, 5**c, K), c): entry [t, i, k] is the sum over chunk
    t of kernel k's weights for the c-mer of base-5 index i (first base most
    significant, digit 4 = N), 0 past the kernel's width, or -2**26 if an N lies inside
    it.
    """
    k, w = weights.shape[:2]
    n_chunks = -(-w // max_chunk)
    c = -(-w // n_chunks)
    full = np.zeros((n_chunks * c, 5, k), dtype=np.int64)                # (T * c, 5, K)
    full[:w, :4] = weights.transpose(1, 2, 0)
    full[:, 4] = np.where(np.arange(n_chunks * c)[:, None] < widths, 2 * _LOW, 0)
    part = np.empty((n_chunks, 5 ** c, k), dtype=np.int64)
    for t in range(n_chunks):
        p = np.zeros((1, k), dtype=np.int64)                                 # (5**u, K)
        for u in range(t * c, (t + 1) * c):
            p = (p[:, None] + full[u]).reshape(-1, k)                        # next digit
        part[t] = np.maximum(p, _LOW)             # an N: <= 2 * _LOW + 2**25 < _LOW
    return part, c
