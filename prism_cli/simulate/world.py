"""simulate(): the whole world in memory, deterministic for its config."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import PrismInputError
from .config import SimConfig
from .elements import _element_numbers, implant_motifs, make_candidates, place_elements
from .genome import _background, _chrom_lengths, make_chromosome
from .motifs import Motif, make_motifs
from .truth import _solve_bias, intrinsic_potential, motif_content, resistance, sigmoid


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

