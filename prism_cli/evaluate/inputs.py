"""What `prism evaluate` reads: the label and score columns, thresholds from JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PrismInputError


def _column(df: pd.DataFrame, name: str, what: str, option: str) -> pd.Series:
    """df[name]; PrismInputError naming the columns there are when it is absent."""
    if name not in df.columns:
        raise PrismInputError(f"no {what} column {name!r}; columns are: "
                              f"{', '.join(map(str, df.columns))} (choose one with {option})",
                              df.attrs.get("path"))
    return df[name]


def parse_labels(df: pd.DataFrame, label_col: str) -> np.ndarray:
    """Labels as float: 1.0, 0.0, or nan for missing ('.', empty, -1).

    Raises PrismInputError at ``file:line`` for any other value, and when the column is absent
    (naming the columns that exist).
    """
    path = df.attrs.get("path")
    raw = _column(df, label_col, "label", "--label-col")
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    bad = ~np.isnan(numeric) & ~np.isin(numeric, (0.0, 1.0, -1.0))
    bad |= np.isnan(numeric) & raw.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = df.attrs.get("first_data_line", 1) + i if path else None
        raise PrismInputError(f"{label_col} must be 0 or 1 ('.' or -1 for unknown), "
                              f"got {raw.iloc[i]!r}", path, line)
    numeric[numeric == -1.0] = np.nan
    return numeric


def parse_scores(df: pd.DataFrame, score_col: str) -> np.ndarray:
    """The score column as float64; PrismInputError when absent, non-numeric or missing."""
    path = df.attrs.get("path")
    values = pd.to_numeric(_column(df, score_col, "score", "--score-col"),
                           errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PrismInputError(f"{score_col} must be a finite number, got {df[score_col].iloc[i]!r}",
                              path, df.attrs.get("first_data_line", 1) + i if path else None)
    return values


def load_thresholds(path: str | Path) -> dict[str, float]:
    """``{cell: threshold}`` from a JSON file: either that mapping, or a dict with it
    under the key ``thresholds`` (as in a scored BEDPE's sidecar)."""
    path = Path(path)
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise PrismInputError("no such file", str(path)) from None
    except json.JSONDecodeError as err:
        raise PrismInputError(f"not valid JSON ({err.msg})", str(path), err.lineno) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise PrismInputError("not a JSON text file", str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        data = data["thresholds"]
    if not isinstance(data, dict):
        raise PrismInputError("expected a JSON object {cell: threshold} or "
                              "{\"thresholds\": {cell: threshold}}", str(path))
    return _checked_thresholds(data, str(path))


def _checked_thresholds(data: dict, where: str) -> dict[str, float]:
    out = {}
    for cell, t in data.items():
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise PrismInputError(f"threshold of {cell!r} must be a number, got {t!r}", where)
        out[str(cell)] = float(t)
    return out


def sidecar_thresholds(meta: dict | None, where: str) -> dict[str, float] | None:
    """The ``thresholds`` of a scored BEDPE's sidecar, or None when it registers none."""
    if not meta or not isinstance(meta.get("thresholds"), dict) or not meta["thresholds"]:
        return None
    return _checked_thresholds(meta["thresholds"], where)

