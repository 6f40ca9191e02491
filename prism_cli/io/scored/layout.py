"""The scored-BEDPE layout: columns, row order, the text of values, input checks."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import pandas as pd

from ..bed import chrom_sort_key as _bed_chrom_sort_key
from .. import text as _text

BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                 "name", "score", "strand1", "strand2"]
PRISM_COLUMNS = ["prob", "U_I", "R", "cell"]
SCORED_COLUMNS = BEDPE_COLUMNS + PRISM_COLUMNS
COORD_COLUMNS = ["start1", "end1", "start2", "end2"]
# Columns read back as text whatever they look like (chromosome "1" is not a number).
TEXT_COLUMNS = ["chrom1", "chrom2", "name", "strand1", "strand2", "cell"]

MISSING = _text.MISSING  # "."
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


def _chrom_ranks(*columns: pd.Series, key=_natural, coded=None) -> list[np.ndarray]:
    """Integer rank of each chromosome name under ``key`` (same mapping for all columns).
    ``coded``: (codes, uniques) of each column when already factorized.
    Returns int64 arrays, shape=(len(column),)."""
    if coded is None:
        coded = [pd.factorize(c) for c in columns]
    names = sorted({str(u) for _, uniq in coded for u in uniq}, key=key)
    rank = {n: i for i, n in enumerate(names)}
    return [np.array([rank[str(u)] for u in uniq] + [-1], dtype=np.int64)[codes]
            for codes, uniq in coded]


def bedpe_order(df: pd.DataFrame, coded: dict | None = None) -> np.ndarray:
    """Row positions that sort ``df`` by chrom1, start1, end1, chrom2, start2, end2 (stable).
    ``coded``: {column: (codes, uniques)} holding chrom1 and chrom2 factorized
    (:func:`_factorized`), when at hand."""
    coded = coded or {}
    if "chrom1" in coded and "chrom2" in coded:
        rank1, rank2 = _chrom_ranks(coded=[coded["chrom1"], coded["chrom2"]])
    else:
        rank1, rank2 = _chrom_ranks(df["chrom1"], df["chrom2"])
    coord = {c: df[c].to_numpy(dtype=np.int64) for c in COORD_COLUMNS}
    # np.lexsort is stable and takes the primary key last.
    return np.lexsort([coord["end2"], coord["start2"], rank2,
                       coord["end1"], coord["start1"], rank1])


def _factorized(values: pd.Series) -> tuple[np.ndarray, list]:
    """pd.factorize of a column (text as a plain object array: the same codes, faster)."""
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
        codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    else:
        codes, uniques = pd.factorize(values)
    return codes, list(uniques)


def _coded_columns(df: pd.DataFrame, factorized: dict | None = None
                   ) -> dict[str, tuple[np.ndarray, list]]:
    """The text columns of a few distinct values, factorized once for a whole chunk:
    {name: (codes, uniques)} for str (or str and int) columns without missing values,
    whose first 256 rows hold at most 64 values. Any rows of them (codes[rows]) are
    formatted as :func:`_few_values` of those rows would, without factorizing again.
    ``factorized``: :func:`_factorized` of some of the columns, already at hand."""
    coded = {}
    for c in df.columns:
        values = df[c]
        if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
            continue
        if len(values) < 64:
            continue
        if factorized and c in factorized:
            codes, uniques = factorized[c]
            if (codes < 0).any() or len(np.unique(codes[:256])) > 64:
                continue
        elif values.iloc[:256].nunique(dropna=False) > 64:
            continue
        else:
            codes, uniques = _factorized(values)
        if (codes < 0).any() or not all(type(u) is str or type(u) is int for u in uniques):
            continue
        coded[c] = (codes, uniques)
    return coded


def _take_coded(coded: dict, rows) -> dict:
    """:func:`_coded_columns` of ``df.iloc[rows]`` (rows: positions or a slice)."""
    return {c: (codes[rows], uniques) for c, (codes, uniques) in coded.items()}


# --------------------------------------------------------------------------- formatting

def _format_column(values: pd.Series) -> list[str]:
    """Text for one column: ints as ints, floats as shortest round-trip repr, '.' if missing.

    The reference for :func:`_column_planes` (the same text, built with numpy), and its
    fallback."""
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
    few = _few_values(values)
    if few is not None:
        codes, texts = few
        return np.array(texts, dtype=object)[codes].tolist()
    return [MISSING if m or v == "" else str(v) for v, m in zip(values.tolist(), missing)]


def _few_values(values: pd.Series, coded=None) -> tuple[np.ndarray, list[str]] | None:
    """(codes, text of each code; code -1 the last) of a text column of a few distinct
    values (chromosome, strand, cell), each formatted once; None for other columns.
    ``coded``: the column's (codes, uniques) from :func:`_coded_columns`, if any."""
    if len(values) < 64:
        return None
    if coded is not None:  # the same test on codes (one per distinct value, none missing)
        codes, uniques = coded
        first = np.bincount(codes[:256], minlength=len(uniques))
        if np.count_nonzero(first) > 64:
            return None
        if 4 * np.count_nonzero(np.bincount(codes, minlength=len(uniques))) > len(values):
            return None
        return codes, [MISSING if u == "" else str(u) for u in uniques] + [MISSING]
    if values.iloc[:256].nunique(dropna=False) <= 64:
        codes, uniques = pd.factorize(values)
        uniques = list(uniques)
        # (1, 1.0 and True are one factorize key but print differently)
        if (4 * len(uniques) <= len(values)
                and len({type(u) for u in uniques if not isinstance(u, str)}) <= 1):
            return codes, [MISSING if u == "" else str(u) for u in uniques] + [MISSING]
    return None


def _column_planes(values: pd.Series, coded=None) -> np.ndarray:
    """The text of :func:`_format_column` as byte planes (``text``), shape=(width, rows);
    ``coded`` as for :func:`_few_values`. Raises text.NotPlain for text planes cannot
    hold."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        if not values.isna().to_numpy().any():
            return _text.int_planes(values.to_numpy().astype(np.int64))
    elif pd.api.types.is_float_dtype(dtype):
        return _text.float_planes(values.to_numpy(dtype=np.float64, na_value=np.nan),
                                  values.isna().to_numpy())
    else:
        few = _few_values(values, coded)
        if few is not None:
            codes, texts = few
            return np.take(_text.text_planes(texts), codes, axis=1)
        strings = _plain_strings(values)
        if strings is not None:
            return _text.text_planes(strings, empty=MISSING)
    return _text.text_planes(_format_column(values))


def _plain_strings(values: pd.Series) -> list[str] | None:
    """The values of a str (or all-str object) column, '.' where missing; else None."""
    if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
        return None
    strings = values.tolist()
    missing = values.isna().to_numpy()
    if missing.any():
        strings = [MISSING if m else v for v, m in zip(strings, missing)]
    if not set(map(type, strings)) <= {str}:  # (a str subclass may print otherwise)
        return None
    return strings


def _rows_bytes(frame: pd.DataFrame, coded: dict | None = None) -> bytes:
    """``frame``'s rows as text, UTF-8: ``_join_rows`` of ``_format_column`` of every
    column, built from byte planes (the Python formatting where planes cannot hold a
    value). ``coded``: :func:`_coded_columns` of these rows, if at hand."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return b""
    columns = [frame.iloc[:, j] for j in range(frame.shape[1])]
    coded = coded or {}
    try:
        return _text.join_planes([_column_planes(c, coded.get(c.name)) for c in columns])
    except _text.NotPlain:
        return _join_rows([_format_column(c) for c in columns]).encode()


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


def _prepare(df: pd.DataFrame, factorized: dict | None = None
             ) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``df`` and return it with PRISM's column order plus the passthrough names.

    ``df`` itself is left as it is, and its data not copied where pandas can share it.
    ``factorized``, when given, receives the chromosome columns' :func:`_factorized`
    (computed for the check).
    """
    missing = [c for c in ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "prob"]
               if c not in df.columns]
    if missing:
        raise ValueError(f"scored pairs lack column(s) {missing}; have {list(df.columns)}")
    if df.columns.duplicated().any():
        raise ValueError(f"duplicate column names: {list(df.columns[df.columns.duplicated()])}")
    out = df.copy(deep=False)  # (columns are replaced below, never written into)
    for c in ("chrom1", "chrom2"):
        codes, uniques = _factorized(out[c])
        if (codes < 0).any() or any(str(u) == "" for u in uniques):
            raise ValueError(f"column {c!r} has missing chromosome names")
        if factorized is not None:
            factorized[c] = (codes, uniques)
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


def _bedpe_bytes(df: pd.DataFrame, coded: dict | None = None) -> Iterator[bytes]:
    """Formatted rows (UTF-8) of an already ordered, prepared frame, a slice at a time;
    ``coded``: :func:`_coded_columns` of ``df``, if at hand."""
    for lo in range(0, len(df), SLICE_ROWS):
        rows = slice(lo, lo + SLICE_ROWS)
        yield _rows_bytes(df.iloc[rows], _take_coded(coded or {}, rows))
