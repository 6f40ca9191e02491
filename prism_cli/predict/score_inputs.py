"""The checks of ``prism score``'s inputs, made before torch loads and any work starts:
every line of PAIRS (and of the --support BEDPE) and every cell the pairs will be scored
in (a training cell, or one registered by ``prism adapt`` for this very model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..checkpoint import Checkpoint, weights_checksum
from ..errors import PrismInputError
from ..io.bed import BEDPE, KeptTable, TableReader
from ..registry import is_known_cell, load_adapted, unknown_cell


@dataclass
class PairsSummary:
    """What the validation pass learnt about PAIRS."""
    overridden: bool = False   # it names cells that --cell/--zero-shot override
    cells: list = field(default_factory=list)    # its cell names, in order of first line
    counts: dict = field(default_factory=dict)   # pairs per chromosome (chrom1)
    labelled: bool = False     # some pair has a 0/1 label
    parsed: KeptTable | None = None  # the validated chunks, when kept (``keep_rows``)


def check_support_file(path, genome, cell: str, cell_col: str, label_col: str) -> None:
    """Validate the --support BEDPE (every line) and that the rows of ``cell`` (all rows
    when it has no cell column) hold labelled pairs of both classes, before torch loads.
    The support-size limits are checked with the model (as `prism adapt` checks them)."""
    counts: dict[str, np.ndarray] = {}  # cell -> [negatives, positives]
    for chunk in TableReader(path, BEDPE, genome=genome, required=[label_col],
                             label_col=label_col):
        names = (chunk[cell_col].to_numpy(dtype=str) if cell_col in chunk
                 else np.full(len(chunk), cell))
        y = chunk[label_col].to_numpy()
        for name in np.unique(names):
            c = counts.setdefault(str(name), np.zeros(2, dtype=np.int64))
            m = names == name
            c += [(y[m] == 0).sum(), (y[m] == 1).sum()]
    if cell in counts:
        neg, pos = counts[cell]
    elif len(counts) > 1:
        raise PrismInputError(f"the support has a '{cell_col}' column with several cells but "
                              f"none named '{cell}'", str(path))
    else:
        neg, pos = next(iter(counts.values()))
    if pos == 0 or neg == 0:
        have = "no labelled pairs" if pos + neg == 0 else (
            "only positives" if pos else "only negatives")
        raise PrismInputError(f"the support set has {have} ({pos} positive, {neg} negative); "
                              "--support needs labelled pairs of both classes", str(path))


def check_pairs(pairs, genome, ck: Checkpoint, model_path, reg, cell, zero_shot: bool,
                cell_col: str, label_col: str, support=None, keep_rows: int = 0
                ) -> PairsSummary:
    """Validate PAIRS (every line) and the cells it will be scored in, before any work.

    Every cell must be a training cell or one registered by `prism adapt` (for this
    model); without --cell each line's own cell column is used, and an unknown or
    missing cell there is an error at that line. Only --zero-shot scores without a cell.
    With ``support`` (``--support``) the --cell name may be new: the support sets its
    environment.
    Returns what the pass learnt (:class:`PairsSummary`): whether the input names cells that
    --cell/--zero-shot override (they are then kept in the output as ``input_cell``), its
    cells, its pairs per chromosome (how ``shard`` slices it) and whether it is labelled;
    with ``keep_rows``, also the validated chunks (``parsed``, for extraction to use instead
    of reading PAIRS again) when PAIRS has at most that many pairs (memory stays bounded;
    they are let go of as soon as the pairs read so far, or the file size, say it has more).
    """
    training, arch = ck.cells, ck.arch
    reader = TableReader(pairs, BEDPE, genome=genome, label_col=label_col)
    first_line: dict[str, int] = {}
    has_cells = False
    summary = PairsSummary()
    counts = summary.counts
    kept = KeptTable(reader) if keep_rows > 0 else None
    for chunk in reader:
        if kept is not None:
            kept.add(chunk)
            projected = kept.rows * reader.bytes_total / max(reader.bytes_read, 1)
            if kept.rows > keep_rows or projected > 2 * keep_rows:
                kept = None  # too many to hold: extraction reads PAIRS again
        for name, n in chunk["chrom1"].value_counts(sort=False).items():
            counts[name] = counts.get(name, 0) + int(n)
        if label_col in chunk and not summary.labelled:
            summary.labelled = bool((chunk[label_col].to_numpy() >= 0).any())
        if cell_col not in chunk:
            continue
        has_cells = True
        col = chunk[cell_col].to_numpy(dtype=str)
        for name in pd.unique(col):
            if name not in first_line:
                first_line[name] = int(chunk["_line"].iat[int(np.argmax(col == name))])
    summary.cells = list(first_line) if has_cells else ["."]
    summary.parsed = kept
    if support and arch == "crossattn":
        raise PrismInputError("--support needs a PRISM model (a crossattn model has no cell "
                              "environment)", str(model_path))
    if zero_shot or arch == "crossattn":  # no environment: cells do not enter the scores
        summary.overridden = zero_shot and bool(set(first_line) - {"."})
        return summary
    if support:  # the support gives --cell's environment, whatever the name
        summary.overridden = bool(set(first_line) - {".", cell})
        return summary
    if cell:
        names = {cell: None}
    elif not has_cells:
        raise PrismInputError(f"no '{cell_col}' column and no --cell: give -c CELL (training cells "
                              f"{', '.join(training) or 'none'}) or --zero-shot", str(pairs))
    else:
        names = first_line
    checksum = None
    for name, line in names.items():
        if name == ".":
            raise PrismInputError(f"no cell for this pair ('.' in column '{cell_col}'): give -c "
                                  "CELL or --zero-shot", str(pairs), line)
        if not is_known_cell(name, training, reg):
            raise unknown_cell(name, training, reg, str(pairs) if line else None, line)
        if name in training:
            continue
        record = load_adapted(reg, name)
        pi = record.get("pi")
        if not isinstance(pi, list) or not pi or not all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in pi):
            raise PrismInputError(f"adapted cell '{name}' has no finite environment 'pi'; re-run "
                                  "`prism adapt`", str(reg / f"{name}.json"))
        checksum = checksum or weights_checksum(model_path)
        if record.get("model_checksum") not in (None, checksum):
            raise PrismInputError(f"adapted cell '{name}' was registered with another model "
                                  f"(checksum {str(record['model_checksum'])[:12]}, this model "
                                  f"{checksum[:12]}); re-run `prism adapt` with this model",
                                  str(reg / f"{name}.json"))
    summary.overridden = bool(cell) and bool(set(first_line) - {".", cell})
    return summary
