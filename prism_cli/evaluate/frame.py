"""evaluate_frame(): the metrics of a scored frame, per group (cell by default)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import PrismInputError
from ..metrics import METRIC_COLUMNS, GroupCurves, curves, group_metrics
from .inputs import parse_labels, parse_scores

ALL_GROUP = "all"


@dataclass
class Evaluation:
    table: pd.DataFrame              # one row per group: group column + METRIC_COLUMNS
    curves: list[GroupCurves]        # groups with both classes
    one_class_groups: list[str]      # groups whose ranking metrics are nan
    excluded: int                    # rows without a label, over all groups
    group_col: str                   # header of the first column


def evaluate_frame(df: pd.DataFrame, label_col: str = "label", score_col: str = "prob",
                   by: str | None = "cell", threshold: float | None = None,
                   thresholds: dict[str, float] | None = None, cell_col: str = "cell",
                   draws: int = 10, seed: int = 0) -> Evaluation:
    """Metrics of ``df`` per value of column ``by`` (all rows together when ``by`` is None).

    threshold : one threshold for every pair; or
    thresholds : ``{cell: t}``, applied pair by pair through ``cell_col`` (a group with a
        pair whose cell has no threshold gets no at-threshold metrics).
    Rows with a missing label are dropped (counted in ``excluded``).
    """
    path = df.attrs.get("path")
    if len(df) == 0:
        raise PrismInputError("no pairs (the file has a header but no data lines)", path)
    if by is not None and by not in df.columns:
        raise PrismInputError(f"no column {by!r} to group by; columns are: "
                              f"{', '.join(map(str, df.columns))} (or use --by none)", path)
    labels = parse_labels(df, label_col)
    scores = parse_scores(df, score_col)

    per_pair_t = None
    if threshold is not None:
        per_pair_t = np.full(len(df), float(threshold))
    elif thresholds:
        if cell_col not in df.columns:
            raise PrismInputError(f"per-cell thresholds need a {cell_col!r} column", path)
        cells = df[cell_col].fillna(".").astype(str)
        per_pair_t = cells.map(thresholds).to_numpy(dtype=np.float64, na_value=np.nan)

    if by is None:
        group_names = np.full(len(df), ALL_GROUP, dtype=object)
    else:
        group_names = df[by].fillna(".").astype(str).to_numpy(dtype=object)
    known = ~np.isnan(labels)
    if not known.any():
        raise PrismInputError(f"no pair has a label in column {label_col!r} (all are '.' or -1)",
                              path)

    rows, plots, one_class = [], [], []
    for name in pd.unique(group_names):
        in_group = group_names == name
        use = in_group & known
        y, s = labels[use].astype(np.int64), scores[use]
        t = None if per_pair_t is None else per_pair_t[use]
        metrics = group_metrics(y, s, t, excluded=int((in_group & ~known).sum()),
                                draws=draws, seed=seed)
        rows.append({by or "group": name, **metrics})
        if y.size == 0 or y.min() == y.max():
            one_class.append(str(name))
        else:
            plots.append(curves(str(name), y, s))
    table = pd.DataFrame(rows, columns=[by or "group"] + METRIC_COLUMNS)
    for c in ("threshold", "precision_at_t", "recall_at_t", "f1_at_t"):
        # object dtype keeps None ("no threshold", written '.') apart from nan (undefined)
        table[c] = pd.Series([r[c] for r in rows], dtype=object)
    return Evaluation(table, plots, one_class, int((~known).sum()), by or "group")

