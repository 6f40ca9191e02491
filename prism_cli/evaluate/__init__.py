"""Metrics of a scored BEDPE with labels: per-group AUPR, AUROC, Brier, F1 at thresholds.

The computations behind `prism evaluate` (no click here). Definitions are in
docs/commands/evaluate.md; the metrics themselves are in ``prism_cli.metrics`` (scikit-
learn's average precision and ROC AUC, nan when a group has one class). Modules:
``inputs`` (labels, scores, thresholds), ``frame`` (evaluate_frame: the metrics per
group), ``tsv`` (the metrics table as text) and ``plot`` (PR and ROC curves).
"""

from .frame import ALL_GROUP, Evaluation, evaluate_frame
from .inputs import load_thresholds, parse_labels, parse_scores, sidecar_thresholds
from .plot import plot_curves
from .tsv import format_value, table_tsv

__all__ = ["ALL_GROUP", "Evaluation", "evaluate_frame", "format_value", "load_thresholds",
           "parse_labels", "parse_scores", "plot_curves", "sidecar_thresholds", "table_tsv"]
