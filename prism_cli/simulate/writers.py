"""write_world(): the world's files (FASTA, BED, BEDPE, truth, sites, params.json)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .references import reference_notes, reference_scores
from .truth import row_scores
from .world import World

ACGT = np.frombuffer(b"ACGTN", dtype=np.uint8)


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
