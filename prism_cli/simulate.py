"""A synthetic genome, cell lines and labelled enhancer-promoter pairs with known truth.

The world follows the energy model of DESIGN §1:

    P(y = 1 | x, c) = sigmoid((U(x) - R(x, c)) / T)

* motifs: a vocabulary of PWMs (8-12 bp, partly degenerate). "Compatibility" motifs drive
  U; a separate set of "environment" motifs drives R. Instances are implanted, in both
  orientations, only in the central ``core_length`` bp of each element, so any window of
  ``window_length`` bp centred on the element (centre = (start + end) // 2) holds them all.
* U(x) = bias + m_e^T W m_p - alpha * log10(distance): cell-invariant, from the compatibility
  motif content (log(1 + count)) of the enhancer (m_e) and the promoter (m_p) and the
  distance between the element centres. W is sparse.
* R(x, c) = softplus(b_c + a_c . f_env(x)) >= 0 with f_env(x) = [environment motif content
  of the enhancer, of the promoter]; a_c = a shared vector + a cell deviation drawn from a
  mixture of a few programs, so R re-ranks pairs within a cell and differs between cells.
* Pairs are all enhancer-promoter combinations within ``max_distance`` on one chromosome;
  cell c labels those whose enhancer and promoter are both active in c (random subsets),
  so an element recurs in many pairs and a pair in several cells. Chromosomes hold
  disjoint elements, so memorising elements cannot transfer to a held-out chromosome.

``simulate(config)`` builds the world in memory, ``write_world(world, folder)`` writes it,
``reference_scores(world)`` scores the oracle and the references per cell (they live in
``prism_cli/sim_references.py``). No click here; the command lives in
``prism_cli/commands/simulate.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import __version__
from .encode import decode, reverse_complement
from .errors import PrismInputError

ACGT = np.frombuffer(b"ACGTN", dtype=np.uint8)
_IUPAC = {
    frozenset("AG"): "R", frozenset("CT"): "Y", frozenset("GC"): "S",
    frozenset("AT"): "W", frozenset("GT"): "K", frozenset("AC"): "M",
}


@dataclass(frozen=True)
class SimConfig:
    """Every knob of the world. The command exposes the first six; the rest are fixed
    defaults recorded in params.json."""

    seed: int = 0
    cells: int = 6
    chroms: int = 4
    genome_size: int = 4_000_000
    pairs: int = 20_000          # labelled rows (pair x cell) wanted in pairs.bedpe
    max_distance: int = 100_000  # bp between element centres
    # motifs
    n_compat_motifs: int = 12
    n_env_motifs: int = 8
    motif_length: tuple[int, int] = (8, 12)
    motif_sharp_fraction: float = 0.7  # positions with one dominant base (others: two)
    core_length: int = 400
    window_length: int = 500
    # elements
    enhancer_length: tuple[int, int] = (200, 1000)
    promoter_length: tuple[int, int] = (300, 1000)
    enhancers_per_promoter: float = 3.0
    min_gap: int = 300            # bp between elements, and between elements and N runs
    min_distance: int = 1_000     # shortest centre-to-centre distance of a pair
    compat_motifs_mean: float = 4.0
    env_motifs_mean: float = 2.5
    cpg_island_fraction: float = 0.7  # promoters whose background is a CpG island
    # genome
    gc: float = 0.43              # before CpG depletion (~0.41 after)
    gc_sd: float = 0.03           # between isochores
    cpg_depletion: float = 0.75   # fraction of CpG turned into TpG/CpA
    repeat_fraction: float = 0.25  # soft-masked (lowercase) share of the genome
    # cells and energies
    n_programs: int = 3
    enhancer_active: tuple[float, float] = (0.4, 0.6)  # per-cell share of active enhancers
    promoter_active: float = 0.8
    temperature: float = 1.0
    compat_sd: float = 2.2        # sd of m_e^T W m_p over candidate pairs
    compat_density: float = 0.5   # non-zero share of W
    distance_slope: float = 1.5   # alpha, per decade of distance
    env_shared_sd: float = 2.8    # sd of the shared part of a_c . f_env
    env_program_sd: float = 2.6   # sd of the program part of a_c . f_env
    env_centre: float = 3.0       # mean pre-activation b_c + a_c . f_env over candidates
    env_bias_sd: float = 0.4      # sd of that mean between cells
    target_prevalence: float = 0.25

    def validate(self) -> None:
        """Raise PrismInputError for a world that cannot be built."""
        if self.cells < 2:
            raise PrismInputError(f"--cells must be >= 2 (got {self.cells}): the reference "
                             "score averages the other cells")
        if self.chroms < 1:
            raise PrismInputError(f"--chroms must be >= 1 (got {self.chroms})")
        if self.genome_size < 50_000 * self.chroms:
            raise PrismInputError(f"--genome-size must be >= 50000 per chromosome "
                             f"(got {self.genome_size} for {self.chroms} chromosomes)")
        if self.pairs < 10:
            raise PrismInputError(f"--pairs must be >= 10 (got {self.pairs})")
        if self.max_distance < 2 * self.min_distance:
            raise PrismInputError(f"--max-distance must be >= {2 * self.min_distance} "
                             f"(got {self.max_distance})")
        if self.seed < 0:
            raise PrismInputError(f"--seed must be >= 0 (got {self.seed})")


@dataclass
class Motif:
    """A position weight matrix. pwm : array, shape=(length, 4), rows sum to 1 (ACGT)."""

    name: str
    role: str  # "compat" (drives U) or "env" (drives R)
    pwm: np.ndarray

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.pwm.argmax(1))

    @property
    def iupac(self) -> str:
        out = []
        for row in self.pwm:
            order = np.argsort(-row)
            if row[order[0]] >= 0.75:
                out.append("ACGT"[order[0]])
            elif row[order[0]] + row[order[1]] >= 0.75:
                out.append(_IUPAC[frozenset("ACGT"[order[0]] + "ACGT"[order[1]])])
            else:
                out.append("N")
        return "".join(out)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One instance, codes shape=(length,)."""
        u = rng.random(len(self.pwm))[:, None]
        return (u > np.cumsum(self.pwm, 1)).sum(1).astype(np.uint8)


@dataclass
class World:
    """Everything simulate() builds; arrays are indexed as documented per field."""

    config: SimConfig
    chrom_names: list[str]
    sequences: list[np.ndarray]     # per chromosome, codes shape=(length,)
    masked: list[np.ndarray]        # per chromosome, bool shape=(length,), lowercase
    n_runs: list[tuple[str, int, int]]
    motifs: list[Motif]
    elements: pd.DataFrame          # kind chrom start end name strand (enhancers, promoters)
    counts: np.ndarray              # shape=(n_elements, n_motifs), implanted instances
    sites: pd.DataFrame             # chrom start end motif strand element sequence
    candidates: pd.DataFrame        # enh prom distance (indices into elements)
    U: np.ndarray                   # shape=(n_candidates,)
    U_compat: np.ndarray            # shape=(n_candidates,)
    R: np.ndarray                   # shape=(n_candidates, n_cells)
    rows: pd.DataFrame              # labelled rows: cand cell label (+ sorted, named)
    cell_names: list[str]
    truth: dict = field(default_factory=dict)  # parameters of U and R


# ----------------------------------------------------------------------------- motifs


def make_motifs(rng: np.random.Generator, cfg: SimConfig) -> list[Motif]:
    """Compatibility motifs C01.. then environment motifs E01..; distinct 6-mers."""
    motifs: list[Motif] = []
    seen: set[str] = set()
    roles = ["compat"] * cfg.n_compat_motifs + ["env"] * cfg.n_env_motifs
    counters = {"compat": 0, "env": 0}
    while len(motifs) < len(roles):
        role = roles[len(motifs)]
        length = int(rng.integers(cfg.motif_length[0], cfg.motif_length[1] + 1))
        pwm = np.zeros((length, 4))
        for i in range(length):
            top = rng.permutation(4)
            if rng.random() < cfg.motif_sharp_fraction:  # a sharp position
                p = rng.uniform(0.85, 0.98)
                pwm[i, top[0]] = p
                pwm[i, top[1:]] = (1 - p) / 3
            else:  # a degenerate position shared by two bases
                p1 = rng.uniform(0.45, 0.55)
                p2 = rng.uniform(0.35, 0.45)
                pwm[i, top[0]], pwm[i, top[1]] = p1, p2
                pwm[i, top[2:]] = (1 - p1 - p2) / 2
        cons = "".join("ACGT"[j] for j in pwm.argmax(1))
        rc = decode(reverse_complement(np.array(["ACGT".index(b) for b in cons], np.uint8)))
        kmers = {s[i:i + 6] for s in (cons, rc) for i in range(len(s) - 5)}
        if kmers & seen or cons == rc:
            continue
        seen |= kmers
        counters[role] += 1
        prefix = "C" if role == "compat" else "E"
        motifs.append(Motif(f"{prefix}{counters[role]:02d}", role, pwm))
    return motifs


# ----------------------------------------------------------------------------- genome


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


# ----------------------------------------------------------------------------- elements


def _element_numbers(cfg: SimConfig, lengths: list[int]) -> tuple[int, int]:
    """Enhancer and promoter numbers whose expected labelled rows are ~1.2 x cfg.pairs."""
    g = float(sum(lengths))
    share = 0.0  # sum_k (L_k/G)^2 * P(two uniform points on chr k lie within D)
    for L in lengths:
        d = min(cfg.max_distance / L, 1.0)
        share += (L / g) ** 2 * (2 * d - d * d)
    active = float(np.mean(cfg.enhancer_active)) * cfg.promoter_active
    r = cfg.enhancers_per_promoter
    n_prom = math.sqrt(1.2 * cfg.pairs / (cfg.cells * active * r * share))
    n_prom = max(int(math.ceil(n_prom)), cfg.chroms)
    return int(math.ceil(r * n_prom)), n_prom


def _apportion(n: int, weights: np.ndarray) -> np.ndarray:
    """Split n into integers proportional to weights (largest remainder)."""
    quota = n * np.asarray(weights, float) / float(np.sum(weights))
    out = np.floor(quota).astype(int)
    out[np.argsort(-(quota - out), kind="stable")[: n - int(out.sum())]] += 1
    return out


def place_elements(rng: np.random.Generator, cfg: SimConfig, chrom_names: list[str],
                   lengths: list[int], n_runs: list[list[tuple[int, int]]],
                   n_enh: int, n_prom: int) -> pd.DataFrame:
    """Non-overlapping enhancers and promoters, >= min_gap from each other, from N runs and
    from chromosome ends.

    Elements are shared among the N-free segments in proportion to their length; within a
    segment their order is random and the free space is split at uniform random cuts.
    Returns a frame with columns kind chrom chrom_idx start end strand name, sorted by
    chromosome order then start.
    """
    gap = cfg.min_gap
    segments = []  # (chrom index, first usable bp, end of usable bp)
    for ci, L in enumerate(lengths):
        edges = [0] + [x for run in n_runs[ci] for x in run] + [L]
        for s, e in zip(edges[::2], edges[1::2]):
            if e - s > 2 * gap:
                segments.append((ci, s + gap, e - gap))
    room = np.array([e - s for _, s, e in segments], float)
    n_e, n_p = _apportion(n_enh, room), _apportion(n_prom, room)
    rows = []
    too_small = PrismInputError(
        f"genome too small for --pairs {cfg.pairs} ({n_enh} enhancers, {n_prom} promoters "
        "needed); raise --genome-size or --max-distance, or lower --pairs")
    for (ci, s, e), ne, np_ in zip(segments, n_e, n_p):
        kinds = np.array(["promoter"] * np_ + ["enhancer"] * ne)[rng.permutation(ne + np_)]
        if len(kinds) == 0:
            continue
        lo = np.where(kinds == "enhancer", cfg.enhancer_length[0], cfg.promoter_length[0])
        hi = np.where(kinds == "enhancer", cfg.enhancer_length[1], cfg.promoter_length[1])
        sizes = rng.integers(lo, hi + 1)
        slack = (e - s) - int(sizes.sum()) - gap * (len(kinds) - 1)
        if slack < 0 or sizes.sum() > 0.6 * (e - s):  # keep elements a minority of the DNA
            raise too_small
        cuts = np.sort(rng.integers(0, slack + 1, size=len(kinds)))
        starts = s + cuts + np.concatenate([[0], np.cumsum(sizes + gap)[:-1]])
        for kind, start, size in zip(kinds, starts, sizes):
            strand = ("+" if rng.random() < 0.5 else "-") if kind == "promoter" else "."
            rows.append((str(kind), ci, int(start), int(start + size), strand))
    df = pd.DataFrame(rows, columns=["kind", "chrom_idx", "start", "end", "strand"])
    df = df.sort_values(["chrom_idx", "start"], kind="stable").reset_index(drop=True)
    df.insert(1, "chrom", [chrom_names[i] for i in df["chrom_idx"]])
    for kind, prefix in (("enhancer", "enh"), ("promoter", "prom")):
        idx = np.flatnonzero(df["kind"].to_numpy() == kind)
        width = max(4, len(str(len(idx))))
        df.loc[idx, "name"] = [f"{prefix}{i:0{width}d}" for i in range(len(idx))]
    return df


def implant_motifs(rng: np.random.Generator, cfg: SimConfig, seqs: list[np.ndarray],
                   elements: pd.DataFrame, motifs: list[Motif]) -> tuple[np.ndarray, pd.DataFrame]:
    """Give promoters a CpG-island background, then implant motif instances.

    Instances (either strand, non-overlapping) go only into the core: the central
    min(core_length, element length) bp around centre = (start + end) // 2.
    Returns counts shape=(n_elements, n_motifs) and the sites table.
    """
    n_motifs = len(motifs)
    compat = np.array([m.role == "compat" for m in motifs])
    # each element type prefers some compatibility motifs; env motifs are spread evenly
    pref = {kind: rng.dirichlet(np.full(int(compat.sum()), 0.7))
            for kind in ("enhancer", "promoter")}
    env_pref = rng.dirichlet(np.full(int((~compat).sum()), 3.0))
    compat_idx, env_idx = np.flatnonzero(compat), np.flatnonzero(~compat)
    counts = np.zeros((len(elements), n_motifs), np.int64)
    sites = []
    for i, el in enumerate(elements.itertuples(index=False)):
        seq = seqs[el.chrom_idx]
        if el.kind == "promoter" and rng.random() < cfg.cpg_island_fraction:
            seq[el.start:el.end] = _background(rng, el.end - el.start, 0.62)
        core = min(cfg.core_length, el.end - el.start)
        centre = (el.start + el.end) // 2
        core_start = centre - core // 2
        # elements differ in motif density; compat and env content vary independently
        n_c = rng.poisson(cfg.compat_motifs_mean * rng.gamma(4.0, 1.0 / 4.0))
        n_e = rng.poisson(cfg.env_motifs_mean * rng.gamma(3.0, 1.0 / 3.0))
        chosen = np.concatenate([rng.choice(compat_idx, size=n_c, p=pref[el.kind]),
                                 rng.choice(env_idx, size=n_e, p=env_pref)]).astype(int)
        chosen = chosen[rng.permutation(len(chosen))]
        lens = np.array([len(motifs[m].pwm) for m in chosen], int)
        while lens.sum() > core - 10:  # drop instances that do not fit
            chosen, lens = chosen[:-1], lens[:-1]
        if len(chosen) == 0:
            continue
        free = core - int(lens.sum())
        cuts = np.sort(rng.integers(0, free + 1, size=len(chosen)))
        offset = core_start + cuts + np.concatenate([[0], np.cumsum(lens)[:-1]])
        for m, off, ln in zip(chosen, offset, lens):
            inst = motifs[m].sample(rng)
            strand = "+"
            if rng.random() < 0.5:
                inst, strand = reverse_complement(inst), "-"
            seq[off:off + ln] = inst
            counts[i, m] += 1
            sites.append((el.chrom, int(off), int(off + ln), motifs[m].name, strand,
                          el.name, decode(inst)))
    sites_df = pd.DataFrame(sites, columns=["chrom", "start", "end", "motif", "strand",
                                            "element", "sequence"])
    return counts, sites_df


def make_candidates(cfg: SimConfig, elements: pd.DataFrame) -> pd.DataFrame:
    """All (enhancer, promoter) on one chromosome with min_distance <= distance <=
    max_distance, distance = |centre_e - centre_p|. Columns enh prom distance."""
    centre = ((elements["start"] + elements["end"]) // 2).to_numpy()
    chrom = elements["chrom_idx"].to_numpy()
    kind = elements["kind"].to_numpy()
    enh, prom = np.flatnonzero(kind == "enhancer"), np.flatnonzero(kind == "promoter")
    out = []
    for c in np.unique(chrom):
        e = enh[chrom[enh] == c]
        p = prom[chrom[prom] == c]
        d = np.abs(centre[e][:, None] - centre[p][None, :])
        ok = (d >= cfg.min_distance) & (d <= cfg.max_distance)
        ei, pi = np.nonzero(ok)
        out.append(pd.DataFrame({"enh": e[ei], "prom": p[pi], "distance": d[ei, pi]}))
    return pd.concat(out, ignore_index=True)


# ----------------------------------------------------------------------------- truth


def motif_content(counts: np.ndarray) -> np.ndarray:
    """Saturating motif content log(1 + count); a second copy adds less than the first.

    counts : shape=(n_elements, n_motifs) -> float64, same shape."""
    return np.log1p(np.asarray(counts, dtype=np.float64))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def intrinsic_potential(m_e: np.ndarray, m_p: np.ndarray, distance: np.ndarray,
                        W: np.ndarray, slope: float, bias: float) -> np.ndarray:
    """U = bias + m_e^T W m_p - slope * log10(distance).

    m_e, m_p : compatibility motif content, shape=(n, n_compat); distance shape=(n,).
    Returns shape=(n,).
    """
    return bias + np.einsum("ni,ij,nj->n", m_e, W, m_p) - slope * np.log10(distance)


def resistance(f_env: np.ndarray, activity: np.ndarray, cell_bias: np.ndarray) -> np.ndarray:
    """R = softplus(b_c + a_c . f_env) for every pair and cell.

    f_env : shape=(n, 2 * n_env); activity : shape=(n_cells, 2 * n_env);
    cell_bias : shape=(n_cells,). Returns shape=(n, n_cells).
    """
    return softplus(cell_bias[None, :] + f_env @ activity.T)


def _solve_bias(logit_wo_bias: np.ndarray, target: float) -> float:
    """The constant b with mean(sigmoid(logit + b)) == target (bisection)."""
    lo, hi = -50.0, 50.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if sigmoid(logit_wo_bias + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- world


def simulate(cfg: SimConfig, log: Callable[[str], None] | None = None) -> World:
    """Build the whole world in memory; deterministic for cfg (seed included)."""
    cfg.validate()
    say = log or (lambda msg: None)
    streams = np.random.SeedSequence(cfg.seed).spawn(8)
    rng_motif, rng_genome, rng_place, rng_implant, rng_energy, rng_cells, rng_label, rng_sub = (
        np.random.default_rng(s) for s in streams)

    motifs = make_motifs(rng_motif, cfg)
    lengths = _chrom_lengths(cfg)
    chrom_names = [f"chr{i + 1}" for i in range(cfg.chroms)]
    say(f"genome: {cfg.chroms} chromosomes, {cfg.genome_size} bp")
    repeats = [_background(rng_genome, int(rng_genome.integers(300, 3000)), 0.42)
               for _ in range(6)]
    seqs, masked, runs = [], [], []
    for L in lengths:
        s, m, r = make_chromosome(rng_genome, cfg, L, repeats)
        seqs.append(s), masked.append(m), runs.append(r)

    n_enh, n_prom = _element_numbers(cfg, lengths)
    say(f"elements: {n_enh} enhancers, {n_prom} promoters")
    elements = place_elements(rng_place, cfg, chrom_names, lengths, runs, n_enh, n_prom)
    counts, sites = implant_motifs(rng_implant, cfg, seqs, elements, motifs)
    cand = make_candidates(cfg, elements)
    if len(cand) == 0:
        raise PrismInputError("no enhancer-promoter pair within --max-distance; raise it")
    say(f"candidates: {len(cand)} enhancer-promoter pairs within {cfg.max_distance} bp")

    compat = np.array([m.role == "compat" for m in motifs])
    content = motif_content(counts)
    m_e = content[cand["enh"].to_numpy()][:, compat]
    m_p = content[cand["prom"].to_numpy()][:, compat]
    f_env = np.concatenate([content[cand["enh"].to_numpy()][:, ~compat],
                            content[cand["prom"].to_numpy()][:, ~compat]], 1)
    distance = cand["distance"].to_numpy()

    # U: sparse bilinear compatibility, scaled to compat_sd over the candidates
    nc = int(compat.sum())
    W = rng_energy.normal(0.0, 1.0, (nc, nc)) * (rng_energy.random((nc, nc)) < cfg.compat_density)
    raw_sd = np.einsum("ni,ij,nj->n", m_e, W, m_p).std()
    W *= cfg.compat_sd / raw_sd if raw_sd > 1e-9 else 0.0
    U_compat = np.einsum("ni,ij,nj->n", m_e, W, m_p)

    # R: cell activities = shared vector + mixture of programs, scaled to target sds
    k = min(cfg.n_programs, cfg.cells)
    dim = f_env.shape[1]
    shared = rng_cells.normal(0.0, 1.0, dim)
    programs = rng_cells.normal(0.0, 1.0, (k, dim))
    # cell c leans on program c mod k, mixed with the others. Its deviation from the cells'
    # average is what no other cell tells about it: uncorrelated with the shared part
    # over the candidates, and scaled to env_program_sd in every cell.
    cov = np.cov(f_env, rowvar=False)

    def sd(v: np.ndarray) -> float:  # sd of f_env @ v over the candidates (inf if ~0)
        var = float(v @ cov @ v)
        return math.sqrt(var) if var > 1e-12 else math.inf

    lean = np.eye(k)[np.arange(cfg.cells) % k]
    mix = np.stack([rng_cells.dirichlet(0.5 + 2.0 * lean[c]) for c in range(cfg.cells)])
    deviation = mix @ programs
    deviation -= deviation.mean(0)
    if math.isfinite(sd(shared)):
        deviation -= np.outer(deviation @ cov @ shared / sd(shared) ** 2, shared)
    deviation *= cfg.env_program_sd / np.array([sd(d) for d in deviation])[:, None]
    shared *= cfg.env_shared_sd / sd(shared)
    activity = shared[None, :] + deviation
    # centre each cell's pre-activation at env_centre (+ noise): R works mostly above the
    # softplus knee, so it re-ranks pairs instead of flattening to zero
    cell_bias = rng_cells.normal(cfg.env_centre, cfg.env_bias_sd, cfg.cells)
    cell_bias -= (f_env @ activity.T).mean(0)
    R = resistance(f_env, activity, cell_bias)

    # which pairs each cell labels: both elements active there
    cell_names = [f"CELL{i}" for i in range(cfg.cells)]
    kind = elements["kind"].to_numpy()
    active = np.zeros((len(elements), cfg.cells), bool)
    for c in range(cfg.cells):
        share = rng_cells.uniform(*cfg.enhancer_active)
        u = rng_cells.random(len(elements))
        active[:, c] = np.where(kind == "enhancer", u < share, u < cfg.promoter_active)
    in_cell = active[cand["enh"].to_numpy()] & active[cand["prom"].to_numpy()]
    cand_idx, cell_idx = np.nonzero(in_cell)
    if len(cand_idx) > cfg.pairs:
        keep = np.sort(rng_sub.choice(len(cand_idx), size=cfg.pairs, replace=False))
        cand_idx, cell_idx = cand_idx[keep], cell_idx[keep]
    for c in range(cfg.cells):
        if not np.any(cell_idx == c):
            raise PrismInputError(f"CELL{c} labels no pair; raise --pairs or --genome-size")

    # bias of U: overall prevalence of the labelled rows = target_prevalence
    slope = cfg.distance_slope
    logit_wo_bias = (U_compat - slope * np.log10(distance))[cand_idx] - R[cand_idx, cell_idx]
    bias = _solve_bias(logit_wo_bias / cfg.temperature, cfg.target_prevalence) * cfg.temperature
    U = intrinsic_potential(m_e, m_p, distance, W, slope, bias)

    p = sigmoid((U[cand_idx] - R[cand_idx, cell_idx]) / cfg.temperature)
    label = (rng_label.random(len(p)) < p).astype(np.int8)
    rows = pd.DataFrame({"cand": cand_idx, "cell": cell_idx, "label": label})
    rows = _sort_rows(rows, cand, elements)
    say(f"labelled rows: {len(rows)} ({int(rows['label'].sum())} positive)")

    truth = {
        "temperature": cfg.temperature,
        "U_bias": bias,
        "distance_slope": slope,
        "W": W,
        "compat_motifs": [m.name for m in motifs if m.role == "compat"],
        "env_motifs": [m.name for m in motifs if m.role == "env"],
        "env_features": [f"enhancer:{m.name}" for m in motifs if m.role == "env"]
        + [f"promoter:{m.name}" for m in motifs if m.role == "env"],
        "cell_activity": activity,
        "cell_bias": cell_bias,
        "shared_activity": shared,
        "cell_deviation": deviation,
        "program_mix": mix,
        "active_enhancers": active[kind == "enhancer"].mean(0),
        "active_promoters": active[kind == "promoter"].mean(0),
    }
    return World(cfg, chrom_names, seqs, masked, [(chrom_names[i], s, e) for i, r in
                 enumerate(runs) for s, e in r], motifs, elements, counts, sites, cand, U,
                 U_compat, R, rows, cell_names, truth)


def _sort_rows(rows: pd.DataFrame, cand: pd.DataFrame, elements: pd.DataFrame) -> pd.DataFrame:
    """Sort labelled rows like the BEDPE (chrom1 start1 end1 start2 end2 cell); name them."""
    e = cand["enh"].to_numpy()[rows["cand"]]
    p = cand["prom"].to_numpy()[rows["cand"]]
    keys = pd.DataFrame({
        "c": elements["chrom_idx"].to_numpy()[e],
        "s1": elements["start"].to_numpy()[e], "e1": elements["end"].to_numpy()[e],
        "s2": elements["start"].to_numpy()[p], "e2": elements["end"].to_numpy()[p],
        "cell": rows["cell"].to_numpy(),
    })
    order = np.lexsort([keys[k].to_numpy() for k in ("cell", "e2", "s2", "e1", "s1", "c")])
    rows = rows.iloc[order].reset_index(drop=True)
    width = max(6, len(str(len(rows))))
    rows.insert(0, "name", [f"pair{i:0{width}d}" for i in range(len(rows))])
    return rows


# ----------------------------------------------------------------------------- scores


def row_scores(world: World) -> pd.DataFrame:
    """Per labelled row: U, R, p, the mean-environment reference and distance.

    mean_env = U - mean over the other cells c' != c of R(x, c'), computed for every pair
    whether or not c' labels it.
    """
    cand, cell = world.rows["cand"].to_numpy(), world.rows["cell"].to_numpy()
    R_all = world.R[cand]                            # (rows, cells)
    n_cells = R_all.shape[1]
    R = R_all[np.arange(len(cand)), cell]
    R_other = (R_all.sum(1) - R) / (n_cells - 1)
    U = world.U[cand]
    return pd.DataFrame({
        "U": U, "R": R, "p": sigmoid((U - R) / world.config.temperature),
        "mean_env": U - R_other, "R_mean_other": R_other,
        "distance": world.candidates["distance"].to_numpy()[cand],
    })


def reference_scores(world: World) -> list[dict]:
    """Per-cell reference scores; see prism_cli.sim_references.reference_scores."""
    from .sim_references import reference_scores as scores

    return scores(world)


def element_feature_table(world: World) -> pd.DataFrame:
    """The true motif counts as PRISM's element-feature table (`table:` source).

    One row per element in world.elements order (chromosome order, then start):
    columns chrom start end name (the element's BED coordinates, 0-based half-open),
    then one integer column per planted motif (C01.., E01..) = world.counts.
    """
    el = world.elements
    out = el[["chrom", "start", "end", "name"]].reset_index(drop=True)
    counts = pd.DataFrame(np.asarray(world.counts, np.int64),
                          columns=[m.name for m in world.motifs])
    return pd.concat([out, counts], axis=1)


# ----------------------------------------------------------------------------- writing


def _fasta_bytes(name: str, seq: np.ndarray, masked: np.ndarray, width: int = 60) -> bytes:
    """One FASTA record, `width` bases per line, masked bases lowercase."""
    text = ACGT[seq].copy()
    text[masked] += 32  # ASCII upper -> lower
    n_full = len(text) // width
    body = np.full((n_full, width + 1), ord("\n"), np.uint8)
    body[:, :width] = text[:n_full * width].reshape(n_full, width)
    tail = text[n_full * width:]
    out = b">" + name.encode() + b"\n" + body.tobytes()
    if len(tail):
        out += tail.tobytes() + b"\n"
    return out


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()] if obj.ndim else _jsonable(obj.item())
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else round(float(obj), 8)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_world(world: World, folder: str | Path, references: list[dict] | None = None) -> None:
    """Write genome.fa(.fai), enhancers.bed, promoters.bed, pairs.bedpe, truth.tsv,
    motif_sites.bed, element_features.tsv and params.json into an existing, empty folder.

    references : the output of reference_scores(world), computed here when None."""
    import pysam

    from .sim_references import reference_notes

    folder = Path(folder)
    cfg = world.config
    with open(folder / "genome.fa", "wb") as fh:
        for name, seq, m in zip(world.chrom_names, world.sequences, world.masked):
            fh.write(_fasta_bytes(name, seq, m))
    pysam.faidx(str(folder / "genome.fa"))

    el = world.elements
    for kind, fname in (("enhancer", "enhancers.bed"), ("promoter", "promoters.bed")):
        sub = el.loc[el["kind"] == kind, ["chrom", "start", "end", "name", "strand"]]
        sub.insert(4, "score", 0)
        sub.to_csv(folder / fname, sep="\t", index=False, header=False, lineterminator="\n")

    rows, cand = world.rows, world.candidates
    e = cand["enh"].to_numpy()[rows["cand"]]
    p = cand["prom"].to_numpy()[rows["cand"]]
    cells = np.array(world.cell_names)[rows["cell"].to_numpy()]
    bedpe = pd.DataFrame({
        "#chrom1": el["chrom"].to_numpy()[e], "start1": el["start"].to_numpy()[e],
        "end1": el["end"].to_numpy()[e], "chrom2": el["chrom"].to_numpy()[p],
        "start2": el["start"].to_numpy()[p], "end2": el["end"].to_numpy()[p],
        "name": rows["name"], "score": ".", "strand1": ".",
        "strand2": el["strand"].to_numpy()[p], "cell": cells, "label": rows["label"],
    })
    bedpe.to_csv(folder / "pairs.bedpe", sep="\t", index=False, lineterminator="\n")

    scores = row_scores(world)
    truth = pd.DataFrame({
        "name": rows["name"], "cell": cells, "U": scores["U"], "R": scores["R"],
        "p": scores["p"], "label": rows["label"], "distance": scores["distance"],
        "U_compat": world.U_compat[rows["cand"].to_numpy()],
        "R_mean_other": scores["R_mean_other"],
        "enhancer": el["name"].to_numpy()[e], "promoter": el["name"].to_numpy()[p],
    })
    truth.to_csv(folder / "truth.tsv", sep="\t", index=False, float_format="%.9g",
                 lineterminator="\n")

    order = world.sites["chrom"].map({n: i for i, n in enumerate(world.chrom_names)})
    sites = world.sites.assign(score=0).iloc[np.lexsort([world.sites["start"], order])]
    sites = sites[["chrom", "start", "end", "motif", "score", "strand", "element", "sequence"]]
    sites.rename(columns={"chrom": "#chrom"}).to_csv(
        folder / "motif_sites.bed", sep="\t", index=False, lineterminator="\n")
    element_feature_table(world).rename(columns={"chrom": "#chrom"}).to_csv(
        folder / "element_features.tsv", sep="\t", index=False, lineterminator="\n")

    refs = references if references is not None else reference_scores(world)
    params = {
        "format": "prism-simulate",
        "version": __version__,
        "config": dataclasses.asdict(cfg),
        "cells": world.cell_names,
        "chromosomes": {n: int(len(s)) for n, s in zip(world.chrom_names, world.sequences)},
        "n_runs": [list(r) for r in world.n_runs],
        "n_enhancers": int((el["kind"] == "enhancer").sum()),
        "n_promoters": int((el["kind"] == "promoter").sum()),
        "n_candidates": int(len(cand)),
        "n_pairs": int(len(rows)),
        "centre": "(start + end) // 2; motifs lie in the central min(core_length, length) bp",
        "recommended_windows": {"enhancer_length": cfg.window_length,
                                "promoter_length": cfg.window_length},
        "motifs": [{"name": m.name, "role": m.role, "consensus": m.consensus,
                    "iupac": m.iupac, "pwm": m.pwm} for m in world.motifs],
        "truth": {
            "formula": "p = sigmoid((U - R) / T); U = U_bias + m_e^T W m_p - "
                       "distance_slope * log10(distance); R = softplus(cell_bias[c] + "
                       "cell_activity[c] . f_env); m_e, m_p = log(1 + count) of the "
                       "compat motifs in enhancer, promoter; f_env = log(1 + count) of the "
                       "env motifs, [enhancer..., promoter...]; cell_activity = "
                       "shared_activity + cell_deviation",
            **world.truth,
        },
        "references": refs,
        "reference_notes": reference_notes(world),
    }
    with open(folder / "params.json", "w") as fh:
        json.dump(_jsonable(params), fh, indent=1)
        fh.write("\n")
