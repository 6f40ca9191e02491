"""Metrics of a scored BEDPE with labels: per-group AUPR, AUROC, Brier, F1 at thresholds.

The computations behind `prism evaluate` (no click here). Definitions are in
docs/commands/evaluate.md; the ranking metrics come from ``prism_cli.metrics`` (scikit-
learn's average precision and ROC AUC, nan when a group has one class).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PrismInputError
from .metrics import aupr, auroc

# Output columns, in order (the group column, named after --by, comes first).
METRIC_COLUMNS = [
    "n", "excluded", "positives", "prevalence", "aupr", "auroc", "aupr_balanced", "brier",
    "threshold", "precision_at_t", "recall_at_t", "f1_at_t",
    "best_f1_threshold", "precision_at_best", "recall_at_best", "best_f1",
]
ALL_GROUP = "all"


@dataclass
class GroupCurves:
    """PR and ROC curve points of one group, for plotting."""

    name: str
    prevalence: float
    aupr: float
    auroc: float
    precision: np.ndarray = field(repr=False)
    recall: np.ndarray = field(repr=False)
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)


# --------------------------------------------------------------------------- metrics

def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of probabilities: mean((p - y)^2); nan if p leaves [0, 1] or n = 0.

    y : array, shape=(n,), 0/1;  p : array, shape=(n,), probabilities.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0 or (p < 0).any() or (p > 1).any():
        return math.nan
    return float(np.mean((p - y) ** 2))


def confusion_at(y: np.ndarray, s: np.ndarray, threshold) -> dict:
    """Precision, recall and F1 when pairs with ``s >= threshold`` are called positive.

    threshold : float, or array shape=(n,) (one threshold per pair, e.g. per cell).
    precision is nan when nothing is called positive; recall and F1 are nan when there
    are no positives; F1 = 2TP / (2TP + FP + FN).
    """
    y = np.asarray(y).astype(bool)
    called = np.asarray(s, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)
    tp = int(np.sum(called & y))
    fp = int(np.sum(called & ~y))
    fn = int(np.sum(~called & y))
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fn else math.nan
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(y: np.ndarray, s: np.ndarray) -> tuple[float, dict]:
    """The score threshold t maximising F1 of the rule ``s >= t``, and the metrics there.

    Candidate thresholds are the distinct scores. Ties in F1 go to the highest threshold
    (fewest pairs called positive). Returns (nan, nan metrics) without positives.
    y : array, shape=(n,), 0/1;  s : array, shape=(n,).
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0 or y.size == 0:
        return math.nan, {"precision": math.nan, "recall": math.nan, "f1": math.nan}
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    tp = np.cumsum(y_desc)
    fp = np.cumsum(~y_desc)
    # the rule s >= t with t = s_desc[i] calls every pair up to the last tie of s_desc[i]
    last_of_tie = np.r_[s_desc[1:] != s_desc[:-1], True]
    tp, fp, thresholds = tp[last_of_tie], fp[last_of_tie], s_desc[last_of_tie]
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    best = int(np.argmax(f1))  # thresholds descend, so the first maximum is the highest t
    return float(thresholds[best]), {
        "precision": float(tp[best] / (tp[best] + fp[best])),
        "recall": float(tp[best] / n_pos),
        "f1": float(f1[best]),
    }


def balanced_aupr(y: np.ndarray, s: np.ndarray, draws: int = 10, seed: int = 0) -> float:
    """AUPR on class-balanced subsamples, averaged over ``draws`` draws.

    Each draw keeps every pair of the minority class and as many pairs, drawn without
    replacement, of the majority class, so the AUPR of a random ranking is 0.5 whatever
    the group's prevalence. Deterministic for a given ``seed``. nan with one class.
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if pos.size == 0 or neg.size == 0:
        return math.nan
    minority, majority = (pos, neg) if pos.size <= neg.size else (neg, pos)
    if minority.size == majority.size:
        return aupr(y, s)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        keep = np.concatenate([minority, rng.choice(majority, minority.size, replace=False)])
        values.append(aupr(y[keep], s[keep]))
    return float(np.mean(values))


def group_metrics(y: np.ndarray, s: np.ndarray, threshold=None, excluded: int = 0,
                  draws: int = 10, seed: int = 0) -> dict:
    """Every metric of one group (keys = METRIC_COLUMNS).

    y : array, shape=(n,), 0/1 labels (missing labels already removed; ``excluded`` says
        how many were);  s : array, shape=(n,), scores (probabilities for Brier);
    threshold : None, a float, or an array shape=(n,) with nan where a pair has none.
        The at-threshold metrics are computed only when every pair has a threshold.
    """
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s, dtype=np.float64)
    n, n_pos = int(y.size), int(y.sum())
    out = {"n": n, "excluded": int(excluded), "positives": n_pos,
           "prevalence": n_pos / n if n else math.nan,
           "aupr": aupr(y, s), "auroc": auroc(y, s),
           "aupr_balanced": balanced_aupr(y, s, draws=draws, seed=seed),
           "brier": brier_score(y, s)}
    t_used = _threshold_label(threshold, n)
    out["threshold"] = t_used
    if t_used is None:
        out.update(precision_at_t=None, recall_at_t=None, f1_at_t=None)
    else:
        at = confusion_at(y, s, threshold)
        out.update(precision_at_t=at["precision"], recall_at_t=at["recall"], f1_at_t=at["f1"])
    t_best, best = best_f1_threshold(y, s)
    if n_pos in (0, n):  # one class: no F1-optimal threshold (the warning says nan)
        t_best, best = math.nan, {"precision": math.nan, "recall": math.nan, "f1": math.nan}
    out.update(best_f1_threshold=t_best, precision_at_best=best["precision"],
               recall_at_best=best["recall"], best_f1=best["f1"])
    return out


def _threshold_label(threshold, n: int):
    """What the threshold column shows: the value, 'per-cell' for several, None for none."""
    if threshold is None:
        return None
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n,))
    if n == 0 or np.isnan(t).any():
        return None
    uniq = np.unique(t)
    return float(uniq[0]) if uniq.size == 1 else "per-cell"


def curves(name: str, y: np.ndarray, s: np.ndarray) -> GroupCurves | None:
    """PR and ROC curve points of one group; None when it lacks a class."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y).astype(np.int64)
    if y.size == 0 or y.min() == y.max():
        return None
    precision, recall, _ = precision_recall_curve(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    return GroupCurves(name, float(y.mean()), aupr(y, s), auroc(y, s),
                       precision, recall, fpr, tpr)


# --------------------------------------------------------------------------- inputs

def parse_labels(df: pd.DataFrame, label_col: str) -> np.ndarray:
    """Labels as float: 1.0, 0.0, or nan for missing ('.', empty, -1).

    Raises PrismInputError at ``file:line`` for any other value, and when the column is absent
    (naming the columns that exist).
    """
    path = df.attrs.get("path")
    if label_col not in df.columns:
        raise PrismInputError(f"no label column {label_col!r}; columns are: "
                         f"{', '.join(map(str, df.columns))} (choose one with --label-col)",
                         path)
    raw = df[label_col]
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
    if score_col not in df.columns:
        raise PrismInputError(f"no score column {score_col!r}; columns are: "
                         f"{', '.join(map(str, df.columns))} (choose one with --score-col)",
                         path)
    values = pd.to_numeric(df[score_col], errors="coerce").to_numpy(dtype=np.float64)
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


# --------------------------------------------------------------------------- driver

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


# --------------------------------------------------------------------------- outputs

def format_value(value, digits: int | None = 6) -> str:
    """TSV text: ints as ints; floats to ``digits`` significant digits (full repr when
    None); 'nan' for an undefined metric; '.' for not applicable (no threshold)."""
    if value is None:
        return "."
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "nan"
        return repr(float(value)) if digits is None else f"{value:.{digits}g}"
    return str(value)


FULL_PRECISION = {"threshold", "best_f1_threshold"}


def table_tsv(table: pd.DataFrame) -> str:
    """The metrics table as TSV text with a plain header line (no '#')."""
    lines = ["\t".join(table.columns)]
    for record in table.itertuples(index=False):
        lines.append("\t".join(
            format_value(v, None if c in FULL_PRECISION else 6)
            for c, v in zip(table.columns, record)))
    return "\n".join(lines) + "\n"


def plot_curves(groups: list[GroupCurves], fh, title: str = "") -> None:
    """PR (with each group's prevalence as a dashed line) and ROC panels, PNG to ``fh``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5), dpi=100)
    ax_pr, ax_roc = fig.subplots(1, 2)
    colors = matplotlib.colormaps["tab10"]
    for i, g in enumerate(groups):
        color = colors(i % 10)
        # recall ascending; precision holds on each recall step up to its right end,
        # the step function whose area is the average precision
        ax_pr.plot(g.recall[::-1], g.precision[::-1], color=color, lw=1.5, drawstyle="steps-pre",
                   label=f"{g.name} (AUPR {g.aupr:.3f}, prev. {g.prevalence:.3f})")
        ax_pr.axhline(g.prevalence, color=color, lw=1, ls="--")
        ax_roc.plot(g.fpr, g.tpr, color=color, lw=1.5, label=f"{g.name} (AUROC {g.auroc:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="grey", lw=1, ls=":")
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
              title="Precision-recall (dashed: prevalence)")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
               ylim=(0, 1.02), title="ROC")
    for ax in (ax_pr, ax_roc):
        if groups:
            ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(fh, format="png")
