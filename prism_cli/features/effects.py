"""What each element feature does to a model's predictions.

For a sample of pairs and each feature j (a motif, or a table column), the feature's
occupancy is set to 0 in both elements of every pair and the pair is re-scored:

    dU_j = mean over pairs of U_I(x) - U_I(x with feature j zeroed)
    dR_j = mean over pairs of R(x, pi) - R(x with feature j zeroed, pi)

with pi the mean teacher environment (the average training cell).  Pairs where neither
element carries the feature are unchanged, so ``*_carriers`` report the means over pairs
where at least one element does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..predict.environment import mean_environment, predict
from ..predict.pairs import frame_outputs
from .inputs import ElementInputs


def _outputs(model, enh: ElementInputs, prom: ElementInputs, pairs: pd.DataFrame, pi):
    out = frame_outputs(model, (enh, prom), pairs)
    r = predict(model, out["U"], out["z_F"], pi)["R"] if pi is not None else \
        torch.zeros_like(out["U"])
    return out["U"].double().numpy(), r.double().numpy()


class _Zeroed(ElementInputs):
    """``inputs`` with feature column j read as 0 (nothing copied up front)."""

    def __init__(self, inputs: ElementInputs, j: int):
        super().__init__(inputs.codes, inputs.features)
        self.j = j

    def take(self, rows, transform_codes=None) -> np.ndarray:
        x = np.array(super().take(rows, transform_codes), copy=True)
        x[:, self.j] = 0.0        # features come first in the element input
        return x

    __getitem__ = take


def _zeroed(inputs: ElementInputs, j: int) -> ElementInputs:
    return _Zeroed(inputs, j)


def feature_effects(model, enh: ElementInputs, prom: ElementInputs, pairs: pd.DataFrame,
                    names: list[str]) -> pd.DataFrame:
    """One row per feature: name, carriers (share of pairs with the feature in either
    element), dU_mean, dU_abs, dR_mean, dR_abs, dU_carriers, dR_carriers.

    pairs : DataFrame with enh_idx, prom_idx, distance (a sample; a few thousand is plenty).
    Only the pairs that carry a feature are re-scored for it (the others do not change).
    """
    if enh.features is None:
        raise ValueError("this model reads no element features")
    pairs = pairs.reset_index(drop=True)
    pi = mean_environment(model) if model.has_environment else None
    u0, r0 = _outputs(model, enh, prom, pairs, pi)
    e_idx, p_idx = pairs["enh_idx"].to_numpy(), pairs["prom_idx"].to_numpy()
    rows = []
    for j, name in enumerate(names):
        carries = (enh.features[e_idx, j] != 0) | (prom.features[p_idx, j] != 0)
        du, dr = np.zeros(len(pairs)), np.zeros(len(pairs))
        if carries.any():
            sub = pairs[carries]
            u, r = _outputs(model, _zeroed(enh, j), _zeroed(prom, j), sub, pi)
            du[carries], dr[carries] = u0[carries] - u, r0[carries] - r
        c = carries if carries.any() else np.ones_like(carries)
        rows.append({"feature": name, "carriers": float(carries.mean()),
                     "dU_mean": float(du.mean()), "dU_abs": float(np.abs(du).mean()),
                     "dR_mean": float(dr.mean()), "dR_abs": float(np.abs(dr).mean()),
                     "dU_carriers": float(du[c].mean()), "dR_carriers": float(dr[c].mean())})
    return pd.DataFrame(rows)
