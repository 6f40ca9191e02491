"""FIMO-style log-odds motif scan, both strands: scores as one batched convolution,
occupancies from table look-ups.

    scores:    codes (B, L) uint8 -> one-hot (B, 4, L) -> conv1d with 2M kernels (each
               motif and its reverse complement, log-odds in bits) -> scores (B, M, 2, L)
               -> best strand (B, M, L)
    occupancy: codes -> base-5 index of the c-mer at each position -> per kernel, the
               sum of T = W / c table entries (c <= 6), only where a bit-mask filter of
               the same tables says the window can reach the threshold -> hit windows
               (sparse) -> best strand -> non-overlapping hits (greedy) -> (B, M)
    soft_occupancy: the same look-ups at thresholds lowered by 5 softness -> best
               strand -> sum of sigmoid((score - threshold) / softness) -> (B, M);
               softness one for all motifs or one per motif
    content:   what a model reads: occupancy, or soft_occupancy when ``softness`` is set

Scores follow memelite's ``fimo``: position w of motif m contributes
``log2(p[w, b] + pseudocount) - log2(background[b])`` bits for base b (memelite adds
eps=1e-4 to the probabilities and uses a uniform background), so with the defaults a
score here equals the score ``fimo`` reports for the same window and strand.

Exactness.  Each log-odds entry is rounded to a multiple of q = 2**-e bits (e <= 16, as
fine as the widest motif allows with every partial sum below 2**24), so the convolution
adds integers: float32 on the CPU, float64 elsewhere, exact in any order; the look-ups
add the same integers (score / q) in int32.  Scores, hits and occupancies are therefore
bitwise the same for any batch size, motif chunking or device, and occupancy is exactly
the thresholded convolution.  The rounding moves a score by at most W * q / 2 bits
(< 2e-4 for W = 20).

A window that runs off the end of the sequence, or holds an N (code 4), is ineligible:
its score is -inf and it is never a hit.
"""

from __future__ import annotations

import math

import numpy as np

from . import lookup
from .pwm import UNIFORM, Motif

_MAX_INT = 2 ** 24          # float32 adds integers below this exactly
_MAX_EXPONENT = 16
_CHUNK_ELEMENTS = 2 ** 25   # B * motifs * 2 * L scores per chunk of the scan


class MotifScanner:
    """Scores, thresholds and occupancies of a fixed list of motifs.

    motifs : list of Motif (PWMs (W, 4)); background : (4,) ACGT frequencies of the
    log-odds, default uniform; pseudocount : added to every probability before the log
    (memelite's eps); thresholds : (M,) score thresholds in bits, or None until
    :meth:`calibrate` or :meth:`set_pvalue_thresholds` sets them.
    """

    def __init__(self, motifs: list[Motif], background=None, pseudocount: float = 1e-4,
                 thresholds: np.ndarray | None = None):
        if not motifs:
            raise ValueError("MotifScanner needs at least one motif")
        self.motifs = list(motifs)
        self.background = (UNIFORM.copy() if background is None
                           else np.asarray(background, dtype=np.float64))
        if self.background.shape != (4,) or (self.background <= 0).any():
            raise ValueError(f"background must be 4 positive frequencies, got {background}")
        self.background = self.background / self.background.sum()
        self.pseudocount = float(pseudocount)
        self.widths = np.array([m.width for m in self.motifs], dtype=np.int64)
        self.log_odds = [np.log2(m.pwm + self.pseudocount) - np.log2(self.background)
                         for m in self.motifs]                       # each (W, 4) bits
        span = max(float(np.abs(lo).max(1).sum()) for lo in self.log_odds)
        self.exponent = int(min(_MAX_EXPONENT, math.floor(math.log2((_MAX_INT - 1) / span))))
        self.quantum = 2.0 ** -self.exponent
        self.thresholds = None if thresholds is None else self._check_thresholds(thresholds)
        self.p_value: float | None = None
        # content(): None = hit counts, else soft occupancy at this softness (bits): a
        # float, or (M,) one per motif (set by fine-tuning, features/finetune.py)
        self.softness: float | np.ndarray | None = None
        self._kernels: dict = {}
        self._tables_cache: dict = {}

    # ------------------------------------------------------------------ set-up

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.motifs]

    def _check_thresholds(self, thresholds) -> np.ndarray:
        t = np.asarray(thresholds, dtype=np.float64)
        if t.shape != (len(self.motifs),):
            raise ValueError(f"thresholds must have shape ({len(self.motifs)},), got {t.shape}")
        return t

    def _kernel(self, device, dtype):
        """Integer-valued kernels, shape=(2M, 4, W_max): rows 2m (+) and 2m+1 (-)."""
        import torch

        key = (str(device), dtype)
        if key not in self._kernels:
            w_max = int(self.widths.max())
            k = np.zeros((2 * len(self.motifs), 4, w_max))
            for i, lo in enumerate(self.log_odds):
                q = np.round(lo / self.quantum)                        # (W, 4) integers
                k[2 * i, :, :len(q)] = q.T
                k[2 * i + 1, :, :len(q)] = q[::-1, ::-1].T            # reverse complement
            self._kernels[key] = torch.tensor(k, dtype=dtype, device=device)
        return self._kernels[key]

    # ------------------------------------------------------------------ scores

    def _strand_scores(self, codes, motifs: np.ndarray | None = None):
        """codes (B, L) uint8 tensor -> scores in bits, float32 (B, M', 2, L) for the
        motifs of index array ``motifs`` (default all); strand 0 is +, 1 is -; -inf where
        ineligible."""
        import torch
        import torch.nn.functional as F

        from ..encode import one_hot

        motifs = np.arange(len(self.motifs)) if motifs is None else np.asarray(motifs)
        device = codes.device
        dtype = torch.float32 if device.type == "cpu" else torch.float64
        b, length = codes.shape
        rows = torch.as_tensor(np.stack([2 * motifs, 2 * motifs + 1], 1).ravel(), device=device)
        kernel = self._kernel(device, dtype)[rows]
        widths = torch.as_tensor(self.widths[motifs], device=device)
        kernel = kernel[:, :, :int(widths.max())]
        x = F.pad(one_hot(codes, dtype=dtype), (0, kernel.shape[-1] - 1))
        s = F.conv1d(x, kernel).view(b, -1, 2, length)               # (B, M', 2, L)
        # integer sums (exact) times q, a power of two: exact in float32
        s = s.mul_(self.quantum).float()
        # eligible windows: inside the sequence and free of N (counted once per width)
        pos = torch.arange(length, device=device)
        inside = (pos[None, :] + widths[:, None]) <= length            # (M', L)
        is_n = codes >= 4
        if bool(is_n.any()):
            uw, inv = torch.unique(widths, return_inverse=True)
            end = (pos[None, :] + uw[:, None]).clamp(max=length)       # (U, L)
            n_cum = F.pad(is_n.to(torch.int32).cumsum(1), (1, 0))      # (B, L + 1)
            n_in = n_cum[:, end.view(-1)].view(b, -1, length) - n_cum[:, None, :length]
            ok = (n_in == 0)[:, inv] & inside[None]                    # (B, M', L)
        else:
            ok = inside[None]
        return s.masked_fill(~ok[:, :, None, :], float("-inf"))

    def scores(self, codes):
        """Best-strand score of each motif starting at each position.

        codes : torch.Tensor uint8, shape=(B, L).  Returns float32, shape=(B, M, L), on
        the device of ``codes``: the score (bits) of the window [j, j + W) read on the
        better strand; -inf where the window runs off the end or holds an N.
        """
        import torch

        if not torch.is_tensor(codes):
            codes = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.uint8))
        return self._strand_scores(codes).amax(2)

    def _chunks(self, codes: np.ndarray, batch_size: int, device):
        """Yield (rows slice, motif indices, strand scores (B, M', 2, L)) over the data;
        motifs go in order of width, so each chunk's kernel is only as wide as needed."""
        import torch

        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2:
            raise ValueError(f"codes must have shape (N, L), got {codes.shape}")
        n, length = codes.shape
        per_motif = max(1, batch_size * 2 * max(length, 1))
        step = max(1, min(len(self.motifs), _CHUNK_ELEMENTS // per_motif))
        with torch.inference_mode():
            order = np.argsort(self.widths, kind="stable")
            for r in range(0, n, batch_size):
                rows = slice(r, min(n, r + batch_size))
                x = torch.from_numpy(np.array(codes[rows])).to(device)  # memmaps are read-only
                for m in range(0, len(self.motifs), step):
                    ms = order[m:m + step]
                    yield rows, ms, self._strand_scores(x, ms)

    # ------------------------------------------------------------------ thresholds

    def set_pvalue_thresholds(self, p_value: float = 1e-4, bin_size: float = 0.01
                              ) -> np.ndarray:
        """FIMO's thresholds: per motif, the lowest score whose p-value under the iid
        background model is <= ``p_value`` (one window on one strand).

        The score distribution is computed exactly on log-odds rounded to ``bin_size``
        bits (FIMO's method; memelite's default bin is 0.1).  Stores and returns (M,).
        """
        t = np.array([_pvalue_threshold(lo, self.background, p_value, bin_size)
                      for lo in self.log_odds])
        self.thresholds = self._on_grid(t)
        self.p_value = float(p_value)
        return self.thresholds

    def _on_grid(self, t: np.ndarray) -> np.ndarray:
        """Round thresholds up to the score grid (multiples of q); inf stays inf."""
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(t), np.ceil(t / self.quantum) * self.quantum, t)

    def calibrate(self, codes: np.ndarray, p_value: float = 1e-4, seed: int = 0,
                  batch_size: int = 512, device="cpu") -> np.ndarray:
        """Thresholds from dinucleotide-shuffled copies of ``codes``.

        codes : uint8, shape=(N, L).  Each sequence is shuffled once (seed ``seed``);
        every eligible window on each strand is one background score, as FIMO counts
        tests.  Per motif the threshold is the lowest score on the grid that at most
        floor(p_value * n) of its n background scores reach.  A motif with fewer than
        10 / p_value background scores gets the exact iid threshold of
        :meth:`set_pvalue_thresholds` instead (too few windows for the quantile).
        Stores and returns (M,) thresholds in bits.
        """
        from .shuffle import dinucleotide_shuffle_codes

        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        shuffled = dinucleotide_shuffle_codes(codes, seed=seed)
        n_scores = 2 * self._eligible_windows(shuffled)              # (M,)
        keep = np.floor(p_value * n_scores).astype(np.int64) + 1      # (k+1)-th largest
        empirical = n_scores >= 10.0 / p_value
        exact = self.set_pvalue_thresholds(p_value) if not empirical.all() else None
        thresholds = np.full(len(self.motifs), np.inf)
        if empirical.any():
            import torch

            top: dict[int, torch.Tensor] = {}  # motif -> its largest background scores
            for _, ms, s in self._chunks(shuffled, batch_size, device):
                flat = s.transpose(0, 1).reshape(len(ms), -1)             # (M', B*2*L)
                for i, m in enumerate(ms):
                    if empirical[m]:
                        v = flat[i].cpu() if m not in top else torch.cat([top[m], flat[i].cpu()])
                        top[m] = torch.topk(v, int(min(keep[m], len(v)))).values
            for m, v in top.items():
                # the (k+1)-th largest background score; the next grid value passes k
                thresholds[m] = float(v[int(keep[m]) - 1]) + self.quantum
        if exact is not None:
            thresholds[~empirical] = exact[~empirical]
        self.thresholds = self._on_grid(thresholds)
        self.p_value = float(p_value)
        return self.thresholds

    def _eligible_windows(self, codes: np.ndarray) -> np.ndarray:
        """Number of windows inside the sequences and free of N, per motif, shape=(M,)."""
        is_n = np.pad((codes >= 4).astype(np.int64).cumsum(1), ((0, 0), (1, 0)))
        out = np.zeros(len(self.motifs), dtype=np.int64)
        for w in np.unique(self.widths):
            if w <= codes.shape[1]:
                count = int(((is_n[:, w:] - is_n[:, :-w]) == 0).sum())
                out[self.widths == w] = count
        return out

    # ------------------------------------------------------------------ occupancy

    def _integer_thresholds(self, thresholds: np.ndarray | None = None) -> np.ndarray:
        """(M,) int64 t with: score >= threshold iff score / q >= t, exactly as the
        float32 comparison of a grid score with the float32 grid threshold; clipped to
        +-2**25, beyond any score / q (NaN: no hits).  ``thresholds`` (M,) bits,
        default the scanner's."""
        thresholds = self.thresholds if thresholds is None else thresholds
        big = float(np.finfo(np.float32).max)   # +-inf thresholds: no hits / all eligible
        t32 = np.clip(self._on_grid(thresholds), -big, big).astype(np.float32)
        with np.errstate(invalid="ignore"):
            t = np.ceil(t32.astype(np.float64) / self.quantum)       # q = 2**-e: exact
        clip = lookup.CLIP
        return np.where(np.isnan(t), clip, np.clip(t, -clip, clip)).astype(np.int64)

    def _tables(self, thresholds: np.ndarray | None = None) -> list:
        """The look-up tables of :meth:`occupancy` (``lookup.group_tables``) at
        ``thresholds`` (bits, default the scanner's), cached."""
        thr = self._integer_thresholds(thresholds)
        if thr.tobytes() not in self._tables_cache:
            if len(self._tables_cache) >= 2:     # hit and soft tables of one setting
                self._tables_cache.clear()
            self._tables_cache[thr.tobytes()] = lookup.group_tables(
                self.log_odds, self.widths, self.quantum, thr)
        return self._tables_cache[thr.tobytes()]

    def _scan_input(self, codes) -> np.ndarray:
        """codes as contiguous uint8 (N, L), once the scanner has thresholds."""
        if self.thresholds is None:
            raise ValueError("MotifScanner has no thresholds: call calibrate() or "
                             "set_pvalue_thresholds() first")
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2:
            raise ValueError(f"codes must have shape (N, L), got {codes.shape}")
        return codes

    def occupancy(self, codes: np.ndarray, batch_size: int = 512, device="cpu") -> np.ndarray:
        """Number of non-overlapping hits of each motif in each sequence.

        codes : uint8, shape=(N, L).  Returns float32, shape=(N, M).  A hit is a window
        whose best-strand score is >= the motif's threshold.  Overlapping hits (starts
        closer than the motif width, whatever their strands) count once: hits are taken
        greedily by score (ties: leftmost first), each removing the hits it overlaps.
        Deterministic; the same as thresholding :meth:`scores`.

        Scores are sums of table entries (prism_cli/motifs/lookup.py), in integers,
        with numpy on the CPU, in blocks of at most ``batch_size`` sequences and about 2**16
        positions; ``device`` is accepted for compatibility and not used.
        """
        codes = self._scan_input(codes)
        return lookup.occupancy(codes, self._tables(), self.widths, batch_size)

    def _softness_vector(self, softness) -> np.ndarray:
        """softness: bits, one for all motifs or one per motif -> float64 (M,) > 0."""
        soft = np.broadcast_to(np.asarray(softness, dtype=np.float64),
                               (len(self.motifs),)).copy()
        if not (soft > 0).all():
            raise ValueError(f"softness must be > 0 bits, got {softness}")
        return soft

    def soft_occupancy(self, codes: np.ndarray, softness, batch_size: int = 512
                       ) -> np.ndarray:
        """Soft occupancy of each motif in each sequence, float32 (N, M): the sum over
        windows of sigmoid((best-strand score - threshold) / softness), softness in
        bits, one for all motifs or (M,) one per motif (windows more than
        ``lookup.SOFT_CUT`` softness below the threshold are left out).  Unlike a hit
        count it keeps the sites just under the threshold (a short motif's real sites
        often are) and grades the strong ones."""
        soft = self._softness_vector(softness)
        codes = self._scan_input(codes)
        low = self.thresholds - lookup.SOFT_CUT * soft
        return lookup.soft_occupancy(codes, self._tables(low),
                                     self._on_grid(self.thresholds), self.quantum,
                                     soft, batch_size)

    def windows(self, codes: np.ndarray, below, batch_size: int = 512
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The windows scoring within ``below`` bits (one for all motifs or (M,)) of
        each motif's threshold, on their better strand, as sparse rows: int64
        sequence (H,), int64 motif (H,), float32 score in bits (H,)."""
        codes = self._scan_input(codes)
        low = self.thresholds - np.asarray(below, dtype=np.float64)
        seqs, motifs, scores = [], [], []
        n_motifs = len(self.motifs)
        for rows, pair, _, score in lookup.windows(codes, self._tables(low), n_motifs,
                                                  batch_size):
            seqs.append(rows.start + pair // n_motifs)
            motifs.append(pair % n_motifs)
            scores.append((score * self.quantum).astype(np.float32))
        if not seqs:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        return np.concatenate(seqs), np.concatenate(motifs), np.concatenate(scores)

    def content(self, codes: np.ndarray) -> np.ndarray:
        """The per-element motif features a model reads, float32 (N, M): hit counts
        (:meth:`occupancy`) or, with ``self.softness`` set, :meth:`soft_occupancy`."""
        if self.softness is None:
            return self.occupancy(codes)
        return self.soft_occupancy(codes, self.softness)

    # ------------------------------------------------------------------ state

    def state(self) -> dict:
        """Everything needed to rebuild this scanner, JSON-serialisable (lists, floats;
        an unreachable threshold is float inf, which Python's json writes as Infinity)."""
        return {
            "format": "prism-motif-scanner/1",
            "names": self.names,
            "sources": [m.source for m in self.motifs],
            "pwms": [m.pwm.tolist() for m in self.motifs],
            "background": self.background.tolist(),
            "pseudocount": self.pseudocount,
            "thresholds": None if self.thresholds is None else self.thresholds.tolist(),
            "p_value": self.p_value,
            "softness": (self.softness.tolist() if isinstance(self.softness, np.ndarray)
                         else self.softness),
        }

    @classmethod
    def from_state(cls, state: dict) -> "MotifScanner":
        """Inverse of :meth:`state`; the rebuilt scanner scores bitwise identically."""
        motifs = [Motif(n, np.array(p, dtype=np.float64), s)
                  for n, p, s in zip(state["names"], state["pwms"], state["sources"])]
        scanner = cls(motifs, background=state["background"],
                      pseudocount=state["pseudocount"], thresholds=state["thresholds"])
        scanner.p_value = state.get("p_value")
        soft = state.get("softness")                  # absent (older models): hit counts
        scanner.softness = np.array(soft, dtype=np.float64) if isinstance(soft, list) else soft
        return scanner


def _pvalue_threshold(log_odds: np.ndarray, background: np.ndarray, p_value: float,
                      bin_size: float) -> float:
    """Lowest score (bits) whose upper-tail probability under iid ``background`` is
    <= p_value, from the exact distribution of the binned scores. inf if none."""
    q = np.round(log_odds / bin_size).astype(np.int64)               # (W, 4)
    lo = q.min(1)
    span = int((q.max(1) - lo).sum())
    pdf = np.zeros(span + 1)
    pdf[0] = 1.0
    reach = 0
    for w in range(len(q)):
        new = np.zeros_like(pdf)
        for b in range(4):
            shift = int(q[w, b] - lo[w])
            new[shift:shift + reach + 1] += background[b] * pdf[:reach + 1]
        reach += int(q[w].max() - lo[w])
        pdf = new
    tail = np.cumsum(pdf[::-1])[::-1]                                  # P(S >= bin)
    ok = np.flatnonzero(tail <= p_value * (1 + 1e-9))
    if len(ok) == 0:
        return float("inf")
    return (int(ok[0]) + int(lo.sum())) * bin_size
