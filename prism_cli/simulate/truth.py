"""The energy model: motif content, U, R, p = sigmoid((U - R) / T), per-row truth."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .world import World


def motif_content(counts: np.ndarray) -> np.ndarray:
    """Saturating motif content log(1 + count); a second copy adds less than the first.

    counts : shape=(n_elements, n_motifs) -> float64, same shape."""
    return np.log1p(np.asarray(counts, dtype=np.float64))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def intrinsic_potential(m_e: np.ndarray, m_p: np.ndarray, distance: np.ndarray,
                        W: np.ndarray, slope: float, bias: float) -> np.ndarray:
    """U = bias + m_e^T W m_p - slope * log10(distance).

    m_e, m_p : compatibility motif content, shape=(n, n_compat); distance shape=(n,).
    Returns shape=(n,).
    """
    return bias + np.einsum("ni,ij,nj->n", m_e, W, m_p) - slope * np.log10(distance)


def resistance(f_env: np.ndarray, activity: np.ndarray, cell_bias: np.ndarray) -> np.ndarray:
    """R = softplus(b_c + a_c . f_env) for every pair and cell.

    f_env : shape=(n, 2 * n_env); activity : shape=(n_cells, 2 * n_env);
    cell_bias : shape=(n_cells,). Returns shape=(n, n_cells).
    """
    return softplus(cell_bias[None, :] + f_env @ activity.T)


def _solve_bias(logit_wo_bias: np.ndarray, target: float) -> float:
    """The constant b with mean(sigmoid(logit + b)) == target (bisection)."""
    lo, hi = -50.0, 50.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if sigmoid(logit_wo_bias + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def row_scores(world: World) -> pd.DataFrame:
    """Per labelled row: U, R, p, the mean-environment reference and distance.

    mean_env = U - mean over the other cells c' != c of R(x, c'), computed for every pair
    whether or not c' labels it.
    """
    cand, cell = world.rows["cand"].to_numpy(), world.rows["cell"].to_numpy()
    R_all = world.R[cand]                            # (rows, cells)
    n_cells = R_all.shape[1]
    R = R_all[np.arange(len(cand)), cell]
    R_other = (R_all.sum(1) - R) / (n_cells - 1)
    U = world.U[cand]
    return pd.DataFrame({
        "U": U, "R": R, "p": sigmoid((U - R) / world.config.temperature),
        "mean_env": U - R_other, "R_mean_other": R_other,
        "distance": world.candidates["distance"].to_numpy()[cand],
    })
