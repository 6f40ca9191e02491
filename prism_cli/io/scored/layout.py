"""The scored-BEDPE layout: columns, row order, the text of values, input checks."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import pandas as pd

from ..bed import chrom_sort_key as _bed_chrom_sort_key

BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                 "name", "score", "strand1", "strand2"]
PRISM_COLUMNS = ["prob", "U_I", "R", "cell"]
SCORED_COLUMNS = BEDPE_COLUMNS + PRISM_COLUMNS
COORD_COLUMNS = ["start1", "end1", "start2", "end2"]
# Columns read back as text whatever they look like (chromosome "1" is not a number).
TEXT_COLUMNS = ["chrom1", "chrom2", "name", "strand1", "strand2", "cell"]

MISSING = "."
FORMAT_NAME = "prism-scored-bedpe"
FORMAT_VERSION = 1
SLICE_ROWS = 100_000  # rows formatted to text at a time


# --------------------------------------------------------------------------- ordering

# One natural chromosome order for every PRISM output (defined in io/bed.py); cached
# because it is asked once per name.
chrom_sort_key = lru_cache(maxsize=None)(_bed_chrom_sort_key)


def _natural(name: str) -> tuple:
    """Natural order, names that tie on it (``chr1`` and ``1``) ordered by name."""
    return (chrom_sort_key(name), name)


def _chrom_ranks(*columns: pd.Series, key=_natural) -> list[np.ndarray]:
    """Integer rank of each chromosome name under ``key`` (same mapping for all columns).
    Returns int64 arrays, shape=(len(column),)."""
    coded = [pd.factorize(c) for c in columns]
    names = sorted({str(u) for _, uniq in coded for u in uniq}, key=key)
    rank = {n: i for i, n in enumerate(names)}
    return [np.array([rank[str(u)] for u in uniq] + [-1], dtype=np.int64)[codes]
            for codes, uniq in coded]


def bedpe_order(df: pd.DataFrame) -> np.ndarray:
    """Row positions that sort ``df`` by chrom1, start1, end1, chrom2, start2, end2 (stable)."""
    rank1, rank2 = _chrom_ranks(df["chrom1"], df["chrom2"])
    coord = {c: df[c].to_numpy(dtype=np.int64) for c in COORD_COLUMNS}
    # np.lexsort is stable and takes the primary key last.
    return np.lexsort([coord["end2"], coord["start2"], rank2,
                       coord["end1"], coord["start1"], rank1])


# --------------------------------------------------------------------------- formatting

def _format_column(values: pd.Series) -> list[str]:
    """Text for one column: ints as ints, floats as shortest round-trip repr, '.' if missing."""
    missing = values.isna().to_numpy()
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        if not missing.any():
            return list(map(str, values.to_numpy().astype(np.int64).tolist()))
        return [MISSING if m else str(int(v)) for v, m in zip(values.tolist(), missing)]
    if pd.api.types.is_float_dtype(dtype):
        # float32 -> float64 is exact, and repr(float64) reads back to the same float64.
        text = list(map(repr, values.to_numpy(dtype=np.float64, na_value=np.nan).tolist()))
        for i in np.flatnonzero(missing):
            text[i] = MISSING
        return text
    if len(values) >= 64 and values.iloc[:256].nunique(dropna=False) <= 64:
        # text of a few distinct values (chromosome, strand, cell):
        codes, uniques = pd.factorize(values)  # each formatted once, then looked up
        uniques = list(uniques)
        # (1, 1.0 and True are one factorize key but print differently)
        if (4 * len(uniques) <= len(values)
                and len({type(u) for u in uniques if not isinstance(u, str)}) <= 1):
            lut = np.array([MISSING if u == "" else str(u) for u in uniques] + [MISSING],
                           dtype=object)
            return lut[codes].tolist()
    return [MISSING if m or v == "" else str(v) for v, m in zip(values.tolist(), missing)]


def _join_rows(columns: list[list[str]]) -> str:
    """Tab-join parallel text columns into newline-terminated rows."""
    if not columns or len(columns[0]) == 0:
        return ""
    text = "\n".join(map("\t".join, zip(*columns))) + "\n"
    n_rows = len(columns[0])
    if text.count("\n") != n_rows or text.count("\t") != n_rows * (len(columns) - 1) \
            or "\r" in text:
        raise ValueError("a text value contains a tab or newline; it cannot be written "
                         "to a tab-separated file")
    return text


def _no_missing_names(col: pd.Series) -> bool:
    return not any(pd.isna(u) or str(u) == "" for u in pd.unique(col))


def _prepare(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``df`` and return it with PRISM's column order plus the passthrough names."""
    missing = [c for c in ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "prob"]
               if c not in df.columns]
    if missing:
        raise ValueError(f"scored pairs lack column(s) {missing}; have {list(df.columns)}")
    if df.columns.duplicated().any():
        raise ValueError(f"duplicate column names: {list(df.columns[df.columns.duplicated()])}")
    out = df.copy()
    for c in ("chrom1", "chrom2"):
        if not _no_missing_names(out[c]):
            raise ValueError(f"column {c!r} has missing chromosome names")
    for c in COORD_COLUMNS:
        if not pd.api.types.is_integer_dtype(out[c].dtype):
            as_float = pd.to_numeric(out[c], errors="coerce")
            if as_float.isna().any() or (as_float % 1 != 0).any():
                raise ValueError(f"column {c!r} must hold integer coordinates")
            out[c] = as_float.astype(np.int64)
        if (out[c] < 0).any():
            raise ValueError(f"column {c!r} holds negative coordinates")
    prob = pd.to_numeric(out["prob"], errors="coerce").astype(np.float64)
    if prob.isna().any() or ((prob < 0) | (prob > 1)).any():
        raise ValueError("column 'prob' must hold probabilities in [0, 1] (no missing values)")
    out["prob"] = prob
    out["score"] = np.rint(prob.to_numpy() * 1000.0).astype(np.int64)
    for c in SCORED_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan if c in ("U_I", "R") else MISSING
    passthrough = [c for c in df.columns if c not in SCORED_COLUMNS]
    return out[SCORED_COLUMNS + passthrough], passthrough


def _bedpe_text(df: pd.DataFrame) -> Iterator[str]:
    """Formatted rows of an already ordered, prepared frame, one slice at a time."""
    for lo in range(0, len(df), SLICE_ROWS):
        part = df.iloc[lo:lo + SLICE_ROWS]
        yield _join_rows([_format_column(part[c]) for c in part.columns])

