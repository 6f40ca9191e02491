"""Simulated chromosomes: isochores, CpG depletion, soft-masked repeats, N runs."""

from __future__ import annotations

import numpy as np

from ..encode import reverse_complement
from .config import SimConfig


def _chrom_lengths(cfg: SimConfig) -> list[int]:
    """Decreasing lengths summing to genome_size, like a karyotype."""
    k = cfg.chroms
    w = np.array([1.0 - 0.4 * i / max(k - 1, 1) for i in range(k)])
    lengths = np.floor(cfg.genome_size * w / w.sum()).astype(int)
    lengths[0] += cfg.genome_size - lengths.sum()
    return [int(x) for x in lengths]


def _background(rng: np.random.Generator, n: int, gc: float) -> np.ndarray:
    """iid bases with a GC share. Returns codes shape=(n,)."""
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return rng.choice(4, size=n, p=p).astype(np.uint8)


def _deplete_cpg(rng: np.random.Generator, seq: np.ndarray, rate: float) -> None:
    """Turn a share of CpG into TpG or CpA in place (methyl-C deamination)."""
    cpg = np.flatnonzero((seq[:-1] == 1) & (seq[1:] == 2))
    hit = cpg[rng.random(len(cpg)) < rate]
    to_tpg = rng.random(len(hit)) < 0.5
    seq[hit[to_tpg]] = 3          # C -> T
    seq[hit[~to_tpg] + 1] = 0     # G -> A


def make_chromosome(rng: np.random.Generator, cfg: SimConfig, length: int,
                    repeats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """One chromosome: isochores, CpG depletion, soft-masked repeat copies, N runs.

    Returns codes shape=(length,), masked bool shape=(length,), N runs [(start, end)].
    """
    seq = np.empty(length, np.uint8)
    pos = 0
    while pos < length:  # isochores of 30-300 kb with their own GC
        size = min(int(rng.integers(30_000, 300_000)), length - pos)
        gc = float(np.clip(rng.normal(cfg.gc, cfg.gc_sd), 0.33, 0.5))
        seq[pos:pos + size] = _background(rng, size, gc)
        pos += size
    masked = np.zeros(length, bool)
    # interspersed repeats: mutated copies of a few families, either strand, lowercase
    target, n_masked = cfg.repeat_fraction * length, 0
    while n_masked < target:
        family = repeats[int(rng.integers(len(repeats)))]
        a, b = sorted(rng.integers(0, len(family) + 1, size=2))
        if b - a < 50:
            continue
        copy = family[a:b].copy()
        mut = rng.random(len(copy)) < rng.uniform(0.05, 0.2)
        copy[mut] = rng.integers(0, 4, size=int(mut.sum()))
        if rng.random() < 0.5:
            copy = reverse_complement(copy)
        start = int(rng.integers(0, length - len(copy)))
        seq[start:start + len(copy)] = copy
        n_masked += len(copy) - int(masked[start:start + len(copy)].sum())
        masked[start:start + len(copy)] = True
    # simple repeats: (CA)n, (A)n ... also lowercase
    for _ in range(max(1, length // 20_000)):
        unit = rng.integers(0, 4, size=int(rng.integers(1, 5))).astype(np.uint8)
        rep = np.tile(unit, int(rng.integers(20, 200)) // len(unit) + 1)
        start = int(rng.integers(0, length - len(rep)))
        seq[start:start + len(rep)] = rep
        masked[start:start + len(rep)] = True
    _deplete_cpg(rng, seq, cfg.cpg_depletion)
    # N runs: both telomeres and one or two internal gaps, at most ~4% of the chromosome
    cap = max(200, length // 100)
    runs = [(0, int(rng.integers(cap // 2, cap + 1)))]
    runs.append((length - int(rng.integers(cap // 2, cap + 1)), length))
    for _ in range(int(rng.integers(1, 3))):
        size = int(rng.integers(cap // 4, cap + 1))
        start = int(rng.integers(length // 10, 9 * length // 10 - size))
        runs.append((start, start + size))
    runs = _merge(sorted(runs))
    for s, e in runs:
        seq[s:e] = 4
        masked[s:e] = False
    return seq, masked, runs


def _merge(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in runs:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
