"""The metrics table as TSV text."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


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

