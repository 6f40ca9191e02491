"""All enhancer-promoter pairs on one chromosome within a distance (bedtools window)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .io.bed import BED, TableReader, chrom_rank

CANDIDATE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "name", "score",
                     "strand1", "strand2", "distance"]


def centre_distance(start1, end1, start2, end2) -> np.ndarray:
    """Distance in bp between element centres ((start+end)//2), at least 1."""
    c1 = (np.asarray(start1) + np.asarray(end1)) // 2
    c2 = (np.asarray(start2) + np.asarray(end2)) // 2
    return np.maximum(np.abs(c1 - c2), 1)


def _normalised_bed(path, genome, out: Path) -> int:
    """Validate a BED file and write it as sorted BED6 (natural chromosome order)."""
    df = pd.concat(list(TableReader(path, BED, genome=genome)), ignore_index=True)
    for col, default in (("name", "."), ("score", "."), ("strand", ".")):
        if col not in df:
            df[col] = default
    df["_rank"] = chrom_rank(df["chrom"])
    df = df.sort_values(["_rank", "start", "end"], kind="stable")
    df[["chrom", "start", "end", "name", "score", "strand"]].to_csv(
        out, sep="\t", header=False, index=False)
    return len(df)


def iter_candidates(enhancers, promoters, max_distance: int, genome=None,
                    chunk_rows: int = 500_000):
    """Yield DataFrame chunks of candidate pairs (CANDIDATE_COLUMNS), sorted.

    A pair is every enhancer-promoter combination on one chromosome whose centres lie at
    most ``max_distance`` bp apart. bedtools ``window -w D`` finds the pairs whose edges are
    within D (a superset); the centre-distance filter then makes the rule exact.
    """
    with tempfile.TemporaryDirectory(prefix="prism-cand-") as tmp:
        tmp = Path(tmp)
        _normalised_bed(enhancers, genome, tmp / "e.bed")
        _normalised_bed(promoters, genome, tmp / "p.bed")
        import pybedtools  # only once both inputs are known to be good

        hits = pybedtools.BedTool(str(tmp / "e.bed")).window(
            pybedtools.BedTool(str(tmp / "p.bed")), w=int(max_distance),
            output=str(tmp / "hits.tsv"))
        if Path(hits.fn).stat().st_size == 0:
            return
        reader = pd.read_csv(hits.fn, sep="\t", header=None, dtype=str, chunksize=chunk_rows,
                             keep_default_na=False)
        for chunk in reader:
            s1, e1 = chunk[1].astype(np.int64).to_numpy(), chunk[2].astype(np.int64).to_numpy()
            s2, e2 = chunk[7].astype(np.int64).to_numpy(), chunk[8].astype(np.int64).to_numpy()
            dist = centre_distance(s1, e1, s2, e2)
            keep = dist <= max_distance
            n1, n2 = chunk[3].to_numpy(dtype=str), chunk[9].to_numpy(dtype=str)
            names = np.where((n1 == ".") & (n2 == "."), ".",
                             np.char.add(np.char.add(n1, "|"), n2))
            out = pd.DataFrame({
                "chrom1": chunk[0], "start1": s1, "end1": e1,
                "chrom2": chunk[6], "start2": s2, "end2": e2,
                "name": names, "score": ".", "strand1": chunk[5], "strand2": chunk[11],
                "distance": dist,
            })[keep]
            if len(out):
                yield out


def write_candidates(enhancers, promoters, max_distance: int, out_fh, genome=None) -> int:
    """Write candidate pairs as BEDPE with a '#' header to an open text handle."""
    out_fh.write("#" + "\t".join(CANDIDATE_COLUMNS) + "\n")
    n = 0
    for chunk in iter_candidates(enhancers, promoters, max_distance, genome):
        chunk.to_csv(out_fh, sep="\t", header=False, index=False)
        n += len(chunk)
    return n
