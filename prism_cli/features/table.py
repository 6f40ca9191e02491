"""Per-element feature tables: a user's own features (ChIP/ATAC signal, motif scans from
another tool) or ``prism simulate``'s true motif counts (``element_features.tsv``).

Format: tab-separated, one header line (a leading ``#`` is allowed), then one row per
element::

    #chrom  start  end  [name]  [strand]  FEATURE1  FEATURE2 ...
    chr1    1200   1700 enh0001  .        0         2.5

``chrom start end`` are the element's BED coordinates (0-based half-open), exactly as in
the BEDPE its pairs come from; ``name`` and ``strand`` columns are optional and ignored;
every other column is a numeric feature.  An element may appear once.  A pair's enhancer
and promoter are both looked up in the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PrismInputError

KEY = ["chrom", "start", "end"]
IGNORED = {"name", "strand"}


@dataclass
class FeatureTable:
    """keys : DataFrame chrom, start, end (one row per element); values : float32 (n, F)."""
    path: str
    columns: list[str]
    keys: pd.DataFrame
    values: np.ndarray


def read_feature_table(path: str | Path, columns: list[str] | None = None) -> FeatureTable:
    """Read and validate a feature table; ``columns`` (a checkpoint's) must all be present
    and are returned in that order.  Errors name the file, line and column."""
    path = str(path)
    try:
        with open(path) as fh:
            header = fh.readline().rstrip("\n\r")
    except (OSError, UnicodeDecodeError) as err:
        raise PrismInputError(f"cannot read feature table ({err})", path) from None
    names = header.lstrip("#").split("\t")
    if [n.strip() for n in names[:3]] != KEY:
        raise PrismInputError("feature table header must start with chrom, start, end "
                              f"(got {'  '.join(names[:3])!r})", path, 1)
    names = [n.strip() for n in names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise PrismInputError(f"duplicate column(s) {', '.join(dup)}", path, 1)
    feats = [n for n in names[3:] if n not in IGNORED]
    if not feats:
        raise PrismInputError("feature table has no feature column after chrom, start, end",
                              path, 1)
    try:
        raw = pd.read_csv(path, sep="\t", skiprows=1, header=None, names=names, dtype=str,
                          keep_default_na=False, comment=None, engine="c")
    except pd.errors.ParserError as err:
        raise PrismInputError(f"malformed feature table ({str(err).strip().splitlines()[-1]})",
                              path) from None
    line = np.arange(len(raw)) + 2
    for col in ("start", "end"):
        v = pd.to_numeric(raw[col], errors="coerce")
        bad = v.isna().to_numpy() | (v.to_numpy() % 1 != 0) | (v.to_numpy() < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PrismInputError(f"{col} {raw[col].iloc[i]!r} is not a non-negative integer",
                                  path, int(line[i]))
        raw[col] = v.astype(np.int64)
    inverted = (raw["end"] <= raw["start"]).to_numpy()
    if inverted.any():
        i = int(np.flatnonzero(inverted)[0])
        raise PrismInputError(f"end ({raw['end'].iloc[i]}) <= start ({raw['start'].iloc[i]})",
                              path, int(line[i]))
    if columns is not None:
        missing = [c for c in columns if c not in feats]
        if missing:
            raise PrismInputError(f"feature table lacks the model's column(s) "
                                  f"{', '.join(missing[:5])}", path, 1)
        feats = list(columns)
    values = np.empty((len(raw), len(feats)), dtype=np.float32)
    for j, col in enumerate(feats):
        v = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PrismInputError(f"column {col!r}: {raw[col].iloc[i]!r} is not a finite number",
                                  path, int(line[i]))
        values[:, j] = v
    keys = raw[KEY].reset_index(drop=True)
    dup = keys.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise PrismInputError(f"element {keys['chrom'].iloc[i]}:{keys['start'].iloc[i]}-"
                              f"{keys['end'].iloc[i]} appears twice", path, int(line[i]))
    return FeatureTable(path, feats, keys, values)


def lookup(table: FeatureTable, elements: pd.DataFrame, role: str) -> np.ndarray:
    """Feature rows of ``elements`` (DataFrame with chrom, start, end, in dataset order):
    float32 (n, F).  An element missing from the table is an error naming it."""
    if len(elements) == 0:
        return np.zeros((0, len(table.columns)), dtype=np.float32)
    index = pd.MultiIndex.from_frame(table.keys)
    want = pd.MultiIndex.from_arrays([elements["chrom"].astype(str).to_numpy(),
                                      elements["start"].to_numpy(np.int64),
                                      elements["end"].to_numpy(np.int64)])
    pos = index.get_indexer(want)
    if (pos < 0).any():
        miss = np.flatnonzero(pos < 0)
        e = elements.iloc[int(miss[0])]
        raise PrismInputError(f"no row for {role} {e['chrom']}:{int(e['start'])}-{int(e['end'])}"
                              f" ({len(miss)} {role}s missing); the table must list every "
                              "element of the pairs", table.path)
    return table.values[pos]
