"""Enhancers and promoters: placement, implanted motif instances, candidate pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..encode import decode, reverse_complement
from ..errors import PrismInputError
from .config import SimConfig
from .genome import _background
from .motifs import Motif


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
