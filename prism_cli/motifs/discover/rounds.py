"""discover_motifs(): rounds of seeding, training, refining, accepting and masking."""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import numpy as np

from ..pwm import Motif, pwm_correlation, trim
from .classifier import _filter_pwms, _train_filters
from .pools import _Pool, _Scan
from .refine import _Candidate, _cap_width, _enrichment, _min_sites, _refine
from .repeats import repeat_mask
from .seeds import _kmer_seeds, _rc_index


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


MAX_ELEMENTS = 3000   # elements a discovery runs on by default (a random subset)
REPEAT_K = 20         # repeat_k of train config `discover_repeat_mask` (off by default)


def discover_motifs(codes: np.ndarray, n_motifs: int = 32, width: int = 12, steps: int = 100,
                    batch_size: int = 64, seed: int = 0, device="cpu",
                    log: Callable[[str], None] | None = None, *,
                    max_elements: int | None = MAX_ELEMENTS, seeds_per_round: int = 8,
                    kmer: int = 8, lr: float = 0.01, crop: int = 200,
                    refine_iterations: int = 8, max_width: int = 20, min_ic: float = 0.3,
                    em_min_ic: float = 0.1, min_log10_p: float = -6.0,
                    min_ratio: float = 1.5, patience: int = 3, max_rounds: int | None = None,
                    threads: int | None = None, repeat_k: int = 0,
                    repeat_min_elements: int = 3, gapped_seeds: bool = False,
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
        rounds (default 2 n_motifs), ``patience`` rounds in a row without a new motif
        (counted from the first motif: rounds before it that mask repeat copies do not
        count), or when no k-mer is over-represented any more.
    repeat_k, repeat_min_elements : before the rounds, every position covered by a
        ``repeat_k``-mer found (either strand) in at least ``repeat_min_elements``
        elements is overwritten with dinucleotide-shuffled sequence, real and shuffled
        pools alike (:func:`repeat_mask`; repeat_k 0, the default: no masking).
    gapped_seeds : seeds also from k-mers with one free interior position.  With
        repeat_k 20 it recovers the findable planted motifs of the 20 Mb simulated world
        (84 % over six seeds; repeat_k alone 77 %, as the default; gapped seeds alone
        73 % over three), but each loses on the real data's validation chromosomes, so both
        are off by default (docs/benchmarks.md, 2026-12-03).
    max_elements : a random subset of at most this many elements is used (None: all).
        Time grows with it: about 2.5-4 CPU-minutes for 3000 elements of 500 bp.
    merge_background : null set of the final TOMTOM merge (default JASPAR CORE
        vertebrates; [] for none, which makes the merge eager on small sets).

    Deterministic for a seed; ``threads`` sets torch's CPU threads for the call
    (restored after).
    """
    from ..compare import merge_redundant
    from ..shuffle import dinucleotide_shuffle_codes

    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] < width + 6 or len(codes) < 20:
        raise ValueError(f"codes must have shape (N >= 20, L >= {width + 6}), got {codes.shape}")
    log = log or (lambda msg: None)
    rng = np.random.default_rng(seed)
    if max_elements is not None and len(codes) > max_elements:
        codes = codes[np.sort(rng.choice(len(codes), size=max_elements, replace=False))]
    max_rounds = max_rounds or 2 * n_motifs
    min_sites = _min_sites(len(codes))
    rc_of = _rc_index(kmer)
    pad = max(width, max_width + 4)
    t0 = time.perf_counter()
    if repeat_k:
        rep = repeat_mask(codes, repeat_k, repeat_min_elements)
        codes = np.where(rep, dinucleotide_shuffle_codes(codes, seed=seed + 5), codes
                         ).astype(np.uint8)
        log(f"discover: {rep.mean():.1%} of the positions lie in {repeat_k}-mers found in "
            f">= {repeat_min_elements} elements (repeat copies), masked")
    with _threads(threads):
        real = _Pool(codes, device, pad)
        train, test, valid = (_Pool(dinucleotide_shuffle_codes(codes, seed=seed + k), device, pad)
                              for k in (1, 2, 3))
        filler = dinucleotide_shuffle_codes(codes, seed=seed + 4)
        blocked = np.zeros(4 ** kmer, dtype=bool)
        found: list[_Candidate] = []
        idle = repeats = 0
        for rnd in range(max_rounds):
            seeds = _kmer_seeds(real, train, seeds_per_round, kmer, blocked, rc_of,
                                gapped=gapped_seeds)
            if not seeds:
                break
            if steps > 0:
                weight = _train_filters(seeds, real, train, width, steps, batch_size, crop,
                                        lr, rng)
                seeds = [trim(p, min_ic)
                         for p in _filter_pwms(weight, real, max(min_sites, len(codes) // 20))]
            cands = _refine(seeds, real, test, refine_iterations, max_width, min_ic,
                            em_min_ic, min_sites, wide_is_repeat=gapped_seeds)
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
            # rounds that only mask repeat copies before any motif is found clear the
            # way (real elements: Alu copies fill the first rounds); patience counts
            # from the first motif on
            idle = 0 if new or (kept and not found) else idle + 1
            if len(found) >= n_motifs or idle >= patience:
                break
    found.sort(key=lambda c: c.log10_p)
    motifs = [Motif(f"D{i + 1:02d}", _cap_width(trim(c.pwm, min_ic), max_width), "discover")
              for i, c in enumerate(found)]
    if merge_background is None:
        from ..jaspar import jaspar_motifs

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
        ratio, logp = _enrichment(n_r, n_v)
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
