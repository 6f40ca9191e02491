"""UCSC interact (bed5+13) records of scored pairs, sorted as bedToBigBed expects."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from .layout import MISSING, SLICE_ROWS, _chrom_ranks, _rows_bytes, _take_coded

INTERACT_COLUMNS = ["chrom", "chromStart", "chromEnd", "name", "score", "value", "exp",
                    "color", "sourceChrom", "sourceStart", "sourceEnd", "sourceName",
                    "sourceStrand", "targetChrom", "targetStart", "targetEnd", "targetName",
                    "targetStrand"]
INTERACT_COLOR = "#000000"


def _interact_chrom(name: str) -> bytes:
    return name.encode()  # `LC_ALL=C sort -k1,1` order, what bedToBigBed expects


def interact_frame(df: pd.DataFrame) -> pd.DataFrame:
    """UCSC interact (bed5+13) records of prepared scored pairs; 2 records per inter-chrom pair.

    Source = side 1 (enhancer), target = side 2 (promoter). Same-chromosome pairs: one
    record spanning both anchors. Different chromosomes: one record on each anchor's
    chromosome, covering that anchor (the UCSC convention). Not sorted.
    """
    same = (df["chrom1"].astype(str) == df["chrom2"].astype(str)).to_numpy()
    base = pd.DataFrame({
        "chrom": df["chrom1"].astype(str).to_numpy(),
        "chromStart": np.minimum(df["start1"], df["start2"]).to_numpy(),
        "chromEnd": np.maximum(df["end1"], df["end2"]).to_numpy(),
        "name": df["name"].to_numpy(),
        "score": df["score"].to_numpy(),
        "value": df["prob"].to_numpy(),
        "exp": df["cell"].to_numpy(),
        "color": INTERACT_COLOR,
        "sourceChrom": df["chrom1"].astype(str).to_numpy(),
        "sourceStart": df["start1"].to_numpy(), "sourceEnd": df["end1"].to_numpy(),
        "sourceName": MISSING, "sourceStrand": df["strand1"].to_numpy(),
        "targetChrom": df["chrom2"].astype(str).to_numpy(),
        "targetStart": df["start2"].to_numpy(), "targetEnd": df["end2"].to_numpy(),
        "targetName": MISSING, "targetStrand": df["strand2"].to_numpy(),
    })
    if same.all():
        return base
    inter = ~same
    first = base[inter].copy()
    first["chromStart"] = first["sourceStart"]
    first["chromEnd"] = first["sourceEnd"]
    second = base[inter].copy()
    second["chrom"] = second["targetChrom"]
    second["chromStart"] = second["targetStart"]
    second["chromEnd"] = second["targetEnd"]
    # keep each pair's two records adjacent in input order before sorting
    pieces = pd.concat([base[same], first, second])
    return pieces.sort_index(kind="stable").reset_index(drop=True)


def interact_order(records: pd.DataFrame) -> np.ndarray:
    """Positions sorting interact records as `LC_ALL=C sort -k1,1 -k2,2n -k3,3n` (stable)."""
    (rank,) = _chrom_ranks(records["chrom"], key=_interact_chrom)
    return np.lexsort([records["chromEnd"].to_numpy(np.int64),
                       records["chromStart"].to_numpy(np.int64), rank])


def _interact_bytes(records: pd.DataFrame, coded: dict | None = None) -> Iterator[bytes]:
    """Formatted records (UTF-8), a slice at a time; ``coded``: layout._coded_columns of
    ``records``, if at hand."""
    if list(records.columns) != INTERACT_COLUMNS:
        records = records[INTERACT_COLUMNS]
    for lo in range(0, len(records), SLICE_ROWS):
        rows = slice(lo, lo + SLICE_ROWS)
        yield _rows_bytes(records.iloc[rows], _take_coded(coded or {}, rows))


def interact_track_line(name: str) -> str:
    """The ``track type=interact`` line that opens an interact custom track."""
    safe = name.replace('"', "'")
    return (f'track type=interact name="{safe}" description="PRISM EPI probability" '
            "interactDirectional=true maxHeightPixels=200:100:50 visibility=full\n")

