"""User pairs -> a temporary dataset with the model's windows (``adapt`` and ``score``).

It is ``prism extract`` itself, with the window lengths and anchors the model was trained
with (``Checkpoint.windows``), so a scored pair sees exactly the bases a training pair saw.
"""

from __future__ import annotations

from pathlib import Path

from .dataset import PairDataset
from .errors import PrismInputError
from .extract import WindowSpec, extract, extract_in_memory


def pairs_dataset(genome, bedpe, windows: tuple[WindowSpec, WindowSpec], root: Path,
                  cell_col: str = "cell", label_col: str = "label", default_cell: str = ".",
                  progress=None, parsed=None, in_memory: bool = False) -> PairDataset:
    """Extract ``bedpe`` with the (enhancer, promoter) ``windows`` into the empty folder
    ``root`` and open it. ``parsed``: ``bedpe``'s chunks already read and validated
    (:class:`~prism_cli.io.bed.KeptTable`); ``in_memory``: the pair table is kept in memory,
    not written to pairs.tsv (a dataset used once, as ``score``'s; same frame)."""
    enh, prom = windows
    root.mkdir(parents=True, exist_ok=True)
    if in_memory:
        _, pairs = extract_in_memory(genome, bedpe, root, enh, prom, cell_col=cell_col,
                                     label_col=label_col, default_cell=default_cell,
                                     progress=progress, parsed=parsed)
        return PairDataset(root, pairs=pairs)
    extract(genome, bedpe, root, enh, prom, cell_col=cell_col, label_col=label_col,
            default_cell=default_cell, progress=progress, parsed=parsed)
    return PairDataset(root)


def support_dataset(genome, support, windows: tuple[WindowSpec, WindowSpec], root, cell: str,
                    cell_col: str, label_col: str, name: str) -> PairDataset:
    """The support pairs of ``cell`` extracted with the model's windows (``adapt`` and
    ``score --support``): rows of ``cell`` when the support has a cell column; a cell
    column naming several cells but not ``cell`` is an error. ``name``: the support as
    messages call it."""
    ds = pairs_dataset(genome, support, windows, root, cell_col=cell_col, label_col=label_col,
                       default_cell=cell)
    if (ds.pairs["cell"] == cell).any():
        ds.pairs = ds.pairs[ds.pairs["cell"] == cell].reset_index(drop=True)
    elif ds.pairs["cell"].nunique() > 1:
        raise PrismInputError(f"the support has a '{cell_col}' column with several cells but "
                              f"none named '{cell}'", name)
    return ds
