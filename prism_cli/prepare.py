"""User pairs -> a temporary dataset with the model's windows (``adapt`` and ``score``).

It is ``prism extract`` itself, with the window lengths and anchors the model was trained
with, so a scored pair sees exactly the bases a training pair saw.
"""

from __future__ import annotations

from pathlib import Path

from .dataset import PairDataset
from .extract import WindowSpec, extract


def model_windows(meta: dict) -> tuple[WindowSpec, WindowSpec]:
    """Enhancer and promoter window specs recorded in a checkpoint's metadata."""
    w = meta.get("windows") or {}
    cfg = meta.get("model_config", {})
    le = int(w.get("enhancer_length") or cfg["enhancer_length"])
    lp = int(w.get("promoter_length") or cfg["promoter_length"])
    return (WindowSpec(le, w.get("enhancer_anchor", "center")),
            WindowSpec(lp, w.get("promoter_anchor", "center")))


def pairs_dataset(genome, bedpe, meta: dict, root: Path, cell_col: str = "cell",
                  label_col: str = "label", default_cell: str = ".",
                  progress=None) -> PairDataset:
    """Extract ``bedpe`` into the empty folder ``root`` and open it."""
    enh, prom = model_windows(meta)
    root.mkdir(parents=True, exist_ok=True)
    extract(genome, bedpe, root, enh, prom, cell_col=cell_col, label_col=label_col,
            default_cell=default_cell, progress=progress)
    return PairDataset(root)
