"""Candidate motifs: the threshold that best separates real from shuffled elements, its
binomial significance, and hard-EM refinement of the PWMs."""

from __future__ import annotations

import math

import numpy as np

from ..pwm import information_content, normalise, trim
from .pools import _Pool, _Scan


def _consensus(pwm: np.ndarray) -> str:
    return "".join("ACGT"[i] for i in pwm.argmax(1))


def _log10_binom_sf(k, n) -> np.ndarray:
    """log10 P(X >= k), X ~ Binomial(n, 1/2), for k > n / 2; 0 otherwise (depleted)."""
    from scipy.stats import binom

    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = binom.logsf(k - 1, n, 0.5) / math.log(10)
    return np.where(k > n / 2, out, 0.0)


def _min_sites(n_elements: int) -> int:
    """Fewest sites a candidate (and a refined PWM) needs in ``n_elements`` elements."""
    return max(10, n_elements // 200)


def _enrichment(n_real: int, n_shuf: int) -> tuple[float, float]:
    """Acceptance statistics of a motif with a hit in ``n_real`` real and ``n_shuf``
    shuffled elements: (ratio (n_real + 1) / (n_shuf + 1), binomial log10 p)."""
    return (n_real + 1) / (n_shuf + 1), float(_log10_binom_sf(n_real, n_real + n_shuf))


def _best_threshold(real_best: np.ndarray, shuf_best: np.ndarray, min_sites: int):
    """Score threshold that best separates real from shuffled elements.

    real_best, shuf_best : (N,) best window score of each element.  Candidate thresholds
    are the real elements' best scores with at least ``min_sites`` and at most half of
    the real elements over them.  Returns (threshold, log10 p, n_real, n_shuf)."""
    r = np.sort(real_best)[::-1]
    s = np.sort(shuf_best)
    cand = r[min_sites - 1:max(min_sites, len(r) // 2)]
    n_r = len(r) - np.searchsorted(r[::-1], cand, side="left")
    n_s = len(s) - np.searchsorted(s, cand, side="left")
    logp = _log10_binom_sf(n_r, n_r + n_s)
    i = int(np.argmin(logp))
    return float(cand[i]), float(logp[i]), int(n_r[i]), int(n_s[i])



def _site_pwm(codes: np.ndarray, rows, strands, starts, width: int, pad: int,
              pseudocount: float = 0.5) -> tuple[np.ndarray, int]:
    """Base frequencies of the sites widened by ``pad`` on each side, strand-aligned
    (an N counts for no base).  Returns (pwm (width + 2 pad, 4), number of sites used)."""
    length = codes.shape[1]
    lo = starts - pad
    ok = (lo >= 0) & (starts + width + pad <= length)
    pwm = _window_pwm(codes, rows[ok], strands[ok], lo[ok], width + 2 * pad, pseudocount)
    return pwm, int(ok.sum())


def _window_pwm(codes: np.ndarray, rows, strands, starts, width: int,
                pseudocount: float) -> np.ndarray:
    """Base frequencies of the windows codes[r, s:s + width], reverse-complemented where
    the strand is 1 (an N counts for no base).  Returns a pwm (width, 4)."""
    from ...encode import reverse_complement

    win = codes[rows[:, None], starts[:, None] + np.arange(width)[None, :]]
    win = np.where(strands[:, None] == 1, reverse_complement(win), win)
    counts = np.stack([(win == b).sum(0) for b in range(4)], 1).astype(np.float64)
    return normalise(counts, pseudocount)


def _cap_width(pwm: np.ndarray, max_width: int) -> np.ndarray:
    """The ``max_width`` consecutive positions of highest total information content."""
    if len(pwm) <= max_width:
        return pwm
    ic = np.convolve(information_content(pwm), np.ones(max_width), mode="valid")
    i = int(np.argmax(ic))
    return pwm[i:i + max_width]


class _Candidate:
    def __init__(self, pwm, threshold=np.inf, log10_p=0.0, n_real=0, n_shuf=0):
        self.pwm, self.threshold = pwm, threshold
        self.log10_p, self.n_real, self.n_shuf = log10_p, n_real, n_shuf
        self.too_wide = False  # informative past max_width: copies of a longer repeat
        self.sites = None      # (rows, starts) of its real sites, once accepted

    def __repr__(self):
        return (f"{_consensus(self.pwm)} w={len(self.pwm)} real {self.n_real} "
                f"shuf {self.n_shuf} log10p {self.log10_p:.1f}")


def _refine(pwms: list[np.ndarray], real: _Pool, test: _Pool, iterations: int,
            max_width: int, min_ic: float, em_min_ic: float, min_sites: int,
            wide_is_repeat: bool = False) -> list[_Candidate]:
    """Hard-EM refinement of K PWMs at once; each keeps its most significant version.

    While refining, flanks are trimmed at ``em_min_ic`` (low, so the motif can grow into
    informative positions); ``too_wide`` is set when the PWM trimmed at ``min_ic`` is
    wider than ``max_width`` and, with ``wide_is_repeat``, when the kept version trimmed
    at ``em_min_ic`` is (gapped seeds try more k-mers, and in random sequence one refines
    into a PWM that wide, fitted to a few dozen sites, that scores its own sites above
    any shuffle)."""
    best = [_Candidate(p) for p in pwms]
    current = list(pwms)
    active = [k for k in range(len(pwms)) if len(pwms[k]) >= 4]
    for _ in range(iterations):
        if not active:
            break
        sr = _Scan([current[k] for k in active], real, keep=True)
        st = _Scan([current[k] for k in active], test)
        still = []
        for j, k in enumerate(active):
            thr, logp, n_r, n_s = _best_threshold(sr.best[:, j], st.best[:, j], min_sites)
            if logp < best[k].log10_p:
                wide = wide_is_repeat and (best[k].too_wide or len(current[k]) > max_width)
                best[k] = _Candidate(current[k], thr, logp, n_r, n_s)
                best[k].too_wide = wide
            rows, strands, starts = sr.sites(j, thr)
            new, n_sites = _site_pwm(real.codes, rows, strands, starts, len(current[k]), 2)
            if n_sites < min_sites:
                continue
            if len(trim(new, min_ic)) > max_width:
                best[k].too_wide = True
            new = _cap_width(trim(new, em_min_ic), max_width + 4)
            if len(new) < 4 or (new.shape == current[k].shape
                                and np.abs(new - current[k]).max() < 0.01):
                continue  # converged
            current[k] = new
            still.append(k)
        active = still
    return best

