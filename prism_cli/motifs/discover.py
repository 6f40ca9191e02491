"""Label-free motif discovery: what tells real elements from their dinucleotide shuffles.

Rounds, each finding the motifs that the previous rounds left:

    real elements (N, L); dinucleotide shuffles of them in three pools (train/test/valid)
      seeds: the distinct k-mers most over-represented in real over train shuffles
      -> conv1d(4, F, width) initialised at the seeds, each filter read on both strands,
         max over positions and strands (B, F) -> Linear(F, 1): a real-vs-shuffled
         classifier trained ``steps`` steps (Adam, binary cross-entropy) on random crops
      -> per filter, a PWM from its best window in the real elements where it fires most
         (strand-aligned)
      -> refined by re-scanning (hard EM): the score threshold that best separates real
         elements from test shuffles (one-sided binomial test on elements with a hit),
         then the PWM re-estimated from the real sites over it, widened by 2 on each
         side and its uninformative flanks trimmed
      -> kept when the elements with a hit are enriched over the validation shuffles
         (ratio >= min_ratio and binomial log10 p <= min_log10_p) and its sites are not
         mostly those of a motif kept earlier in the round
      -> its sites, in real and shuffled elements, overwritten with shuffled sequence,
         so that the next rounds find other motifs
    -> merge_redundant (TOMTOM) -> Motifs "D01".. (most significant first), source
       "discover"

Why rounds: real elements hold several motifs each, so one classifier with a global max
is satisfied by the few strongest and leaves the weaker motifs untrained; masking what
has been found is what reaches the weaker ones (as STREME does), and starting the
filters at over-represented k-mers is what makes a short training enough.

A motif still informative past ``max_width`` positions is taken for copies of a longer
repeat: its sites are masked like any motif's but it is not reported.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import numpy as np

from .pwm import Motif, information_content, normalise, pwm_correlation, trim

_EYE = np.eye(5, dtype=np.float32)[:, :4]   # code -> one-hot row, N = zeros
_CHUNK = 1024                                # sequences per convolution call


@contextlib.contextmanager
def _threads(n: int | None):
    """torch.set_num_threads(n) inside the block, the caller's setting restored after."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _consensus(pwm: np.ndarray) -> str:
    return "".join("ACGT"[i] for i in pwm.argmax(1))


# ----------------------------------------------------------------------------- pools


class _Pool:
    """Codes (N, L) and their one-hot tensor (N, 4, L + pad) on a device, kept in step;
    the ``pad`` zero (N) columns on the right let one convolution give every motif
    width a score at each of the L starts."""

    def __init__(self, codes: np.ndarray, device, pad: int):
        import torch

        self.codes = codes.copy()
        self.length = codes.shape[1]
        self.x = torch.zeros((len(codes), 4, self.length + pad), device=device)
        self.x[:, :, :self.length] = self._one_hot(np.arange(len(codes)))

    def _one_hot(self, rows):
        import torch

        return torch.from_numpy(_EYE[self.codes[rows]].transpose(0, 2, 1).copy()
                                ).to(self.x.device)

    def overwrite(self, rows: np.ndarray, starts: np.ndarray, width: int, filler: np.ndarray):
        """codes[r, s:s+width] = filler[r, s:s+width] for each (r, s)."""
        if len(rows) == 0:
            return
        cols = starts[:, None] + np.arange(width)[None, :]
        r = np.broadcast_to(rows[:, None], cols.shape)
        self.codes[r, cols] = filler[r, cols]
        touched = np.unique(rows)
        self.x[touched, :, :self.length] = self._one_hot(touched)


class _Scan:
    """Scores of K PWMs over a pool, both strands (log2 odds vs uniform).

    best : (N, K) numpy, each element's best window score; ``chunks`` keep the score
    tensors (B, K, 2, L) when asked, for :meth:`sites`."""

    def __init__(self, pwms: list[np.ndarray], pool: _Pool, keep: bool = False,
                 pseudocount: float = 0.01):
        import torch
        import torch.nn.functional as F

        self.widths = [len(p) for p in pwms]
        self.length = pool.length
        w_max = max(self.widths)
        k = np.zeros((2 * len(pwms), 4, w_max), dtype=np.float32)
        for i, p in enumerate(pwms):
            lo = np.log2(normalise(p, pseudocount) / 0.25)
            k[2 * i, :, :len(p)] = lo.T
            k[2 * i + 1, :, :len(p)] = lo[::-1, ::-1].T
        kernel = torch.from_numpy(k).to(pool.x.device)
        best, self.chunks = [], []
        with torch.no_grad():
            for r in range(0, len(pool.x), _CHUNK):
                s = F.conv1d(pool.x[r:r + _CHUNK], kernel)[..., :self.length]
                s = s.view(s.shape[0], len(pwms), 2, self.length)
                best.append(torch.stack([s[:, i, :, :self.length - w + 1].amax(dim=(1, 2))
                                         for i, w in enumerate(self.widths)], 1))
                if keep:
                    self.chunks.append(s)
        self.best = torch.cat(best).cpu().numpy()

    def sites(self, k: int, threshold: float):
        """Rows, strands, starts of the windows of PWM k scoring >= threshold."""
        import torch

        out, r0 = [], 0
        last = self.length - self.widths[k] + 1
        for s in self.chunks:
            rows = np.flatnonzero(self.best[r0:r0 + len(s), k] >= threshold)
            if len(rows):
                sel = s[torch.from_numpy(rows).to(s.device), k, :, :last]
                hit = (sel >= threshold).nonzero().cpu().numpy()
                hit[:, 0] = rows[hit[:, 0]] + r0
                out.append(hit)
            r0 += len(s)
        hit = np.concatenate(out) if out else np.zeros((0, 3), np.int64)
        return hit[:, 0], hit[:, 1], hit[:, 2]


# ----------------------------------------------------------------------------- statistics


def _log10_binom_sf(k, n) -> np.ndarray:
    """log10 P(X >= k), X ~ Binomial(n, 1/2), for k > n / 2; 0 otherwise (depleted)."""
    from scipy.stats import binom

    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = binom.logsf(k - 1, n, 0.5) / math.log(10)
    return np.where(k > n / 2, out, 0.0)


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


# ----------------------------------------------------------------------------- PWMs


def _site_pwm(codes: np.ndarray, rows, strands, starts, width: int, pad: int,
              pseudocount: float = 0.5) -> tuple[np.ndarray, int]:
    """Base frequencies of the sites widened by ``pad`` on each side, strand-aligned
    (an N counts for no base).  Returns (pwm (width + 2 pad, 4), number of sites used)."""
    from ..encode import reverse_complement

    length = codes.shape[1]
    lo = starts - pad
    ok = (lo >= 0) & (starts + width + pad <= length)
    rows, strands, lo = rows[ok], strands[ok], lo[ok]
    win = codes[rows[:, None], lo[:, None] + np.arange(width + 2 * pad)[None, :]]
    win = np.where(strands[:, None] == 1, reverse_complement(win), win)
    counts = np.stack([(win == b).sum(0) for b in range(4)], 1).astype(np.float64)
    return normalise(counts, pseudocount), int(ok.sum())


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
            max_width: int, min_ic: float, em_min_ic: float, min_sites: int
            ) -> list[_Candidate]:
    """Hard-EM refinement of K PWMs at once; each keeps its most significant version.

    While refining, flanks are trimmed at ``em_min_ic`` (low, so the motif can grow into
    informative positions); ``too_wide`` is set when the PWM trimmed at ``min_ic`` is
    wider than ``max_width``."""
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
                best[k] = _Candidate(current[k], thr, logp, n_r, n_s)
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


# ----------------------------------------------------------------------------- seeds


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


def _kmer_seeds(real: _Pool, background: _Pool, n: int, k: int, blocked: np.ndarray,
                rc_of: np.ndarray, min_z: float = 3.0) -> list[np.ndarray]:
    """The ``n`` most over-represented canonical k-mers (real vs background, z-score)
    that are not ``blocked`` (4**k bool) and not in the neighbourhood of one another
    (shift <= 2, <= 1 mismatch, either strand), as PWMs (k, 4): 0.7 on the k-mer's base,
    0.1 on the others.  Blocks each chosen k-mer and its one-mismatch variants in
    ``blocked``, so later rounds try other seeds."""
    r = _canonical_counts(real.codes, k, rc_of)
    s = _canonical_counts(background.codes, k, rc_of)
    z = (r - s) / np.sqrt(s + 1.0)
    z[np.minimum(np.arange(4 ** k), rc_of) != np.arange(4 ** k)] = -np.inf
    near = np.zeros_like(blocked)
    out = []
    for v in np.argsort(-z, kind="stable"):
        if z[v] < min_z or len(out) >= n:
            break
        if blocked[v] or near[v]:
            continue
        km = np.array([(v // 4 ** (k - 1 - i)) % 4 for i in range(k)], dtype=np.int64)
        near[_neighbourhood(km, rc_of)] = True
        blocked[_neighbourhood(km, rc_of, max_shift=0)] = True
        pwm = np.full((k, 4), 0.1)
        pwm[np.arange(k), km] = 0.7
        out.append(pwm)
    return out


# ----------------------------------------------------------------------------- classifier


def _train_filters(seeds: list[np.ndarray], real: _Pool, train: _Pool, width: int,
                   steps: int, batch_size: int, crop: int, lr: float, rng):
    """The RC-aware conv + linear real-vs-shuffled classifier, its filters initialised at
    the seeds (log-odds, centred); returns the trained filters (F, 4, width)."""
    import torch
    import torch.nn.functional as F

    device = real.x.device
    w0 = np.zeros((len(seeds), 4, width), dtype=np.float32)
    for i, p in enumerate(seeds):
        lo = np.log2(normalise(p, 0.01) / 0.25)[:width]
        off = (width - len(lo)) // 2
        w0[i, :, off:off + len(lo)] = lo.T
    n_f = len(seeds)
    weight = torch.from_numpy(w0).to(device).requires_grad_()
    bias = torch.from_numpy(-w0.max(1).sum(1) * 0.5).to(device).requires_grad_()
    head = torch.full((n_f,), 0.1, device=device).requires_grad_()
    head_bias = torch.zeros((), device=device, requires_grad=True)
    params = [weight, bias, head, head_bias]
    # Adam by hand: torch.optim's first use imports torch._dynamo (seconds)
    moment = [torch.zeros_like(p) for p in params]
    square = [torch.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    target = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)]).to(device)
    n, length = len(real.codes), real.length
    crop = min(crop, length)
    for step in range(1, steps + 1):
        i = torch.from_numpy(rng.integers(0, n, size=batch_size)).to(device)
        j = torch.from_numpy(rng.integers(0, n, size=batch_size)).to(device)
        c = int(rng.integers(0, length - crop + 1))
        x = torch.cat([real.x[i, :, c:c + crop], train.x[j, :, c:c + crop]])
        kernel = torch.cat([weight, weight.flip(1, 2)])                 # + and - strands
        a = F.conv1d(x, kernel, bias.repeat(2))                         # (2B, 2F, L')
        m = a.view(len(x), 2, n_f, -1).amax(dim=(1, 3))                 # (2B, F)
        loss = F.binary_cross_entropy_with_logits(m @ head + head_bias, target)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, m1, m2 in zip(params, grads, moment, square):
                m1.mul_(beta1).add_(g, alpha=1 - beta1)
                m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (m2 / (1 - beta2 ** step)).sqrt_().add_(eps)
                p.addcdiv_(m1, denom, value=-lr / (1 - beta1 ** step))
    return weight.detach()


def _filter_pwms(weight, real: _Pool, n_sites: int) -> list[np.ndarray]:
    """Per filter, the base frequencies of its best window in each of the ``n_sites``
    real elements where it fires most (strand-aligned)."""
    import torch
    import torch.nn.functional as F

    from ..encode import reverse_complement

    n_f, _, width = weight.shape
    last = real.length - width + 1
    with torch.no_grad():
        kernel = torch.cat([weight, weight.flip(1, 2)])
        vals, idxs = [], []
        for r in range(0, len(real.x), _CHUNK):
            a = F.conv1d(real.x[r:r + _CHUNK], kernel)[..., :last]        # (B, 2F, L')
            a = a.reshape(a.shape[0], 2, n_f, last).transpose(1, 2).flatten(2)
            v, i = a.max(-1)                                             # (B, F)
            vals.append(v)
            idxs.append(i)
        vals = torch.cat(vals).cpu().numpy()
        idxs = torch.cat(idxs).cpu().numpy()
    out = []
    for f in range(n_f):
        rows = np.argsort(-vals[:, f], kind="stable")[:n_sites]
        strand, start = idxs[rows, f] // last, idxs[rows, f] % last
        win = real.codes[rows[:, None], start[:, None] + np.arange(width)[None, :]]
        win = np.where(strand[:, None] == 1, reverse_complement(win), win)
        counts = np.stack([(win == b).sum(0) for b in range(4)], 1).astype(np.float64)
        out.append(normalise(counts, 0.5))
    return out


# ----------------------------------------------------------------------------- driver


def discover_motifs(codes: np.ndarray, n_motifs: int = 32, width: int = 12, steps: int = 100,
                    batch_size: int = 64, seed: int = 0, device="cpu",
                    log: Callable[[str], None] | None = None, *,
                    max_elements: int | None = 3000, seeds_per_round: int = 8,
                    kmer: int = 8, lr: float = 0.01, crop: int = 200,
                    refine_iterations: int = 8, max_width: int = 20, min_ic: float = 0.3,
                    em_min_ic: float = 0.1, min_log10_p: float = -6.0,
                    min_ratio: float = 1.5, patience: int = 3, max_rounds: int | None = None,
                    threads: int | None = None,
                    merge_background: list[Motif] | None = None) -> list[Motif]:
    """Motifs that distinguish the elements ``codes`` from their dinucleotide shuffles.

    codes : uint8, shape=(N, L), A=0 C=1 G=2 T=3 N=4 (N >= 20 elements).  Returns at
    most ``n_motifs`` Motifs "D01", "D02", ... (source "discover", PWMs (W, 4) trimmed at
    ``min_ic`` bits), most significant first.  The method is in the module docstring.

    steps, batch_size, width, lr, crop : each round's classifier: ``seeds_per_round``
        filters of ``width``, ``steps`` Adam steps on ``batch_size`` real + ``batch_size``
        shuffled crops of ``crop`` bp.
    kmer, refine_iterations, em_min_ic, min_ic, max_width : k-mer seeds, hard-EM
        iterations, flank trimming while refining / when reporting, widest motif.
    min_log10_p, min_ratio : acceptance on the validation shuffles.
    n_motifs, max_rounds, patience : rounds stop after ``n_motifs`` motifs, ``max_rounds``
        rounds (default 2 n_motifs), ``patience`` rounds in a row without a new motif, or
        when no k-mer is over-represented any more.
    max_elements : a random subset of at most this many elements is used (None: all).
        Time grows with it: about 2.5-4 CPU-minutes for 3000 elements of 500 bp.
    merge_background : null set of the final TOMTOM merge (default JASPAR CORE
        vertebrates; [] for none, which makes the merge eager on small sets).

    Deterministic for a seed; ``threads`` sets torch's CPU threads for the call
    (restored after).
    """
    import torch

    from .compare import merge_redundant
    from .shuffle import dinucleotide_shuffle_codes

    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] < width + 6 or len(codes) < 20:
        raise ValueError(f"codes must have shape (N >= 20, L >= {width + 6}), got {codes.shape}")
    log = log or (lambda msg: None)
    rng = np.random.default_rng(seed)
    if max_elements is not None and len(codes) > max_elements:
        codes = codes[np.sort(rng.choice(len(codes), size=max_elements, replace=False))]
    max_rounds = max_rounds or 2 * n_motifs
    min_sites = max(10, len(codes) // 200)
    rc_of = _rc_index(kmer)
    pad = max(width, max_width + 4)
    t0 = time.perf_counter()
    with _threads(threads):
        real = _Pool(codes, device, pad)
        train, test, valid = (_Pool(dinucleotide_shuffle_codes(codes, seed=seed + k), device, pad)
                              for k in (1, 2, 3))
        filler = dinucleotide_shuffle_codes(codes, seed=seed + 4)
        blocked = np.zeros(4 ** kmer, dtype=bool)
        found: list[_Candidate] = []
        idle = repeats = 0
        for rnd in range(max_rounds):
            seeds = _kmer_seeds(real, train, seeds_per_round, kmer, blocked, rc_of)
            if not seeds:
                break
            if steps > 0:
                weight = _train_filters(seeds, real, train, width, steps, batch_size, crop,
                                        lr, rng)
                seeds = [trim(p, min_ic)
                         for p in _filter_pwms(weight, real, max(min_sites, len(codes) // 20))]
            cands = _refine(seeds, real, test, refine_iterations, max_width, min_ic,
                            em_min_ic, min_sites)
            cands = [c for c in cands if c.log10_p <= min_log10_p and len(c.pwm) >= 4
                     and not any(pwm_correlation(c.pwm, f.pwm) > 0.9 for f in found)]
            cands.sort(key=lambda c: c.log10_p)
            kept = _accept(cands, real, valid, min_ratio, min_log10_p, log)
            if kept:
                _mask(kept, real, [train, test, valid], filler)
            for c in kept:
                if c.too_wide:
                    repeats += 1
                else:
                    found.append(c)
            new = sum(not c.too_wide for c in kept)
            log(f"discover round {rnd + 1}: {new} new motifs, {len(found)} in all, "
                f"{repeats} repeats masked ({time.perf_counter() - t0:.0f} s)")
            idle = 0 if new else idle + 1
            if len(found) >= n_motifs or idle >= patience:
                break
    found.sort(key=lambda c: c.log10_p)
    motifs = [Motif(f"D{i + 1:02d}", _cap_width(trim(c.pwm, min_ic), max_width), "discover")
              for i, c in enumerate(found)]
    if merge_background is None:
        from .jaspar import jaspar_motifs

        merge_background = jaspar_motifs()
    motifs = merge_redundant(motifs, background=merge_background)[:n_motifs]
    return [Motif(f"D{i + 1:02d}", m.pwm, "discover") for i, m in enumerate(motifs)]


def _accept(cands: list[_Candidate], real: _Pool, valid: _Pool, min_ratio: float,
            min_log10_p: float, log) -> list[_Candidate]:
    """The candidates enriched over the validation shuffles whose real sites are not
    mostly (> half) those of a candidate accepted before them; each keeps its sites."""
    if not cands:
        return []
    sr = _Scan([c.pwm for c in cands], real, keep=True)
    sv = _Scan([c.pwm for c in cands], valid)
    covered = np.zeros(real.codes.shape, dtype=bool)
    kept = []
    for k, c in enumerate(cands):
        n_r = int((sr.best[:, k] >= c.threshold).sum())
        n_v = int((sv.best[:, k] >= c.threshold).sum())
        ratio, logp = (n_r + 1) / (n_v + 1), float(_log10_binom_sf(n_r, n_r + n_v))
        rows, _, starts = sr.sites(k, c.threshold)
        shared = covered[rows, starts + len(c.pwm) // 2].mean() if len(rows) else 1.0
        ok = ratio >= min_ratio and logp <= min_log10_p and shared <= 0.5
        log(f"  {c}  valid: real {n_r} shuf {n_v} ratio {ratio:.2f} log10p {logp:.1f} "
            f"shared {shared:.2f}{'' if ok else '  (dropped)'}"
            f"{'  (repeat)' if ok and c.too_wide else ''}")
        if ok:
            c.log10_p = logp
            c.sites = (rows, starts)
            for w in range(len(c.pwm)):
                covered[rows, starts + w] = True
            kept.append(c)
    return kept


def _mask(kept: list[_Candidate], real: _Pool, shuffled: list[_Pool], filler: np.ndarray):
    """Overwrite the sites of the kept candidates with filler sequence, in the real pool
    (sites found by :func:`_accept`) and in the shuffled pools (scanned here)."""
    for c in kept:
        real.overwrite(*c.sites, len(c.pwm), filler)
    for pool in shuffled:
        scan = _Scan([c.pwm for c in kept], pool, keep=True)
        for k, c in enumerate(kept):
            rows, _, starts = scan.sites(k, c.threshold)
            pool.overwrite(rows, starts, len(c.pwm), filler)
