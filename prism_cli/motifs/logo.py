"""Information-content sequence logos (logomaker), in a grid, written to a PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .pwm import Motif


def plot_logos(motifs: list[Motif], path_png, titles: list[str] | None = None,
               ncols: int = 4) -> None:
    """One information-content logo per motif, ``ncols`` per row, saved to ``path_png``.

    titles : one per motif (default: the motif names).  Uses the Agg backend, so no
    display is needed; the figure is written to a temporary name and renamed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    if not motifs:
        raise ValueError("plot_logos needs at least one motif")
    titles = [m.name for m in motifs] if titles is None else list(titles)
    if len(titles) != len(motifs):
        raise ValueError(f"{len(titles)} titles for {len(motifs)} motifs")
    ncols = max(1, min(ncols, len(motifs)))
    nrows = math.ceil(len(motifs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 1.6 * nrows), squeeze=False)
    for ax, m, title in zip(axes.ravel(), motifs, titles):
        probs = pd.DataFrame(np.clip(m.pwm, 1e-9, 1.0), columns=list("ACGT"))
        info = logomaker.transform_matrix(probs, from_type="probability",
                                          to_type="information")
        logomaker.Logo(info, ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([0, 1, 2])
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(motifs):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path_png)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
