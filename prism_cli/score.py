"""Scoring pairs with a trained model, one chromosome at a time.

For each chromosome: the unique enhancers and promoters of its pairs are encoded once
(the towers' outputs cached), then the pairs are scored in chunks from the cached tokens
(cross-attention -> U_I, z_F -> R(x, pi) -> p). Memory is bounded by one chromosome's
elements and one chunk of pairs, whatever the number of pairs.

Environments (DESIGN §2): a training cell uses its teacher environment pi_T; a cell
registered by ``prism adapt`` uses its student environment; zero-shot (asked for by
name, ``--zero-shot``) is p = sigmoid(U_I / T) with R = 0, written with cell ``zero-shot``;
any other name is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import inference
from .registry import load_adapted

ZERO_SHOT = "zero-shot"


@dataclass
class Environment:
    """How one cell is scored: kind is "teacher", "student" (adapted) or "zero-shot"."""
    cell: str
    kind: str
    pi: torch.Tensor | None
    threshold: float | None = None

    def describe(self) -> dict:
        return {"cell": self.cell, "kind": self.kind, "threshold": self.threshold,
                "pi": None if self.pi is None else [round(float(x), 6) for x in self.pi]}


def resolve_environment(model, meta: dict, cells: list[str], registry, name: str | None
                        ) -> Environment:
    """The environment of cell ``name``: a training cell (teacher), an adapted cell
    (student), or ``ZERO_SHOT``; any other name (a typo, None, '.') is an InputError
    naming the known cells, never a silent zero-shot."""
    if name == ZERO_SHOT or not model.has_environment:
        return Environment(name or ZERO_SHOT, ZERO_SHOT if model.has_environment else "none",
                           None)
    if name in cells:
        thresholds = meta.get("thresholds", {}) or {}
        return Environment(name, "teacher", inference.teacher_pi(model, cells.index(name)),
                           thresholds.get(name))
    record = load_adapted(registry, name)
    if record is not None:
        return Environment(name, "student", torch.tensor(record["pi"]), record.get("threshold"))
    from .registry import unknown_cell

    raise unknown_cell("." if name in (None, "") else name, cells, registry)


def support_environment(model, cells: list[str], cell: str, ds, inputs, path: str
                        ) -> Environment:
    """``score --cell CELL --support FILE``: the environment the support pairs of ``ds``
    (one cell, labelled) imply, estimated as ``adapt`` estimates it.  A training cell's
    teacher environment is the prior (kind "fused": the posterior of teacher and
    support); any other cell gets the prior of all training cells (kind "support")."""
    from .adapt import canonical_order, check_support, support_outputs

    if not model.has_environment:
        from .errors import InputError
        raise InputError("--support needs a PRISM model (this one has no cell "
                         "environment)", path)
    order = canonical_order(ds.pairs)
    check_support(ds.pairs["label"].to_numpy()[order], path)
    support = support_outputs(model, ds, order, inputs)
    prior = cells.index(cell) if cell in cells else None
    pi, _, _ = inference.estimate_environment(model, support, 0, 0, prior_cell=prior)
    return Environment(cell, "fused" if prior is not None else "support", pi)


def score_pairs(model, ds, envs: dict[str, Environment], cell_of_row: np.ndarray,
                chunk_pairs: int = 100_000, progress=None, inputs=None):
    """Yield DataFrame chunks: the input pair columns + prob, U_I, R, cell.

    cell_of_row : array of str, shape=(n_pairs,), the key into ``envs`` for each pair.
    inputs : (enhancer, promoter) ElementInputs of ``ds`` (default: its codes).
    progress(n) is called with the number of pairs done after each chunk.
    """
    pairs = ds.pairs
    labelled = bool((pairs["label"] >= 0).any())  # one decision for every chunk
    chroms = pairs["chrom1"].to_numpy()
    done = 0
    enh_in, prom_in = inputs if inputs is not None else (ds.enhancers, ds.promoters)
    for chrom in pd.unique(chroms):
        rows = np.flatnonzero(chroms == chrom)
        sub = pairs.iloc[rows]
        enh = inference.ElementCache.build(model, enh_in, sub["enh_idx"].to_numpy(),
                                           "enhancer")
        prom = inference.ElementCache.build(model, prom_in, sub["prom_idx"].to_numpy(),
                                            "promoter")
        for s in range(0, len(rows), chunk_pairs):
            part = sub.iloc[s:s + chunk_pairs]
            log_d = np.log10(np.maximum(part["distance"].to_numpy(), 1)).astype(np.float32)
            out = inference.pair_outputs(model, enh, prom, part["enh_idx"].to_numpy(),
                                         part["prom_idx"].to_numpy(), log_d)
            keys = cell_of_row[rows[s:s + chunk_pairs]]
            prob = np.empty(len(part), dtype=np.float64)
            r = np.empty(len(part), dtype=np.float64)
            cell_out = np.empty(len(part), dtype=object)
            for key in pd.unique(keys):
                m = keys == key
                env = envs[key]
                pred = inference.predict(model, out["U"][m], out["z_F"][m], env.pi)
                prob[m] = pred["p"].double().numpy()
                r[m] = pred["R"].double().numpy()
                cell_out[m] = env.cell
            frame = part.drop(columns=["enh_idx", "prom_idx", "distance", "cell"]).copy()
            frame.insert(10, "prob", prob)
            frame.insert(11, "U_I", out["U"].double().numpy())
            frame.insert(12, "R", r)
            frame.insert(13, "cell", cell_out)
            if not labelled:
                frame = frame.drop(columns=["label"])
            else:
                frame["label"] = frame["label"].astype(object).where(frame["label"] >= 0, ".")
            done += len(part)
            if progress:
                progress(done)
            yield frame


def cell_keys(ds, cell: str | None) -> np.ndarray:
    """The environment key of each pair: ``--cell`` for all, else the input's cell column
    ('.' where the input has none). Returns object array, shape=(n_pairs,)."""
    if cell:
        return np.full(len(ds.pairs), cell, dtype=object)
    return ds.pairs["cell"].to_numpy(dtype=object)
