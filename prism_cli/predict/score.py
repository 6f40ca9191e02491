"""Scoring pairs with a trained model, one chromosome at a time.

For each chromosome: the unique enhancers and promoters of its pairs are encoded once
(the towers' outputs cached), then the pairs are scored in chunks from the cached tokens
(cross-attention -> U_I, z_F -> R(x, pi) -> p), each chunk in batches run on all CPU
threads at once. Memory is bounded by one chromosome's elements and one chunk of pairs,
whatever the number of pairs; ``prism score`` feeds this one slice of whole chromosomes
at a time (prism_cli/shard.py), and ranks of a ``torchrun`` job each score their own
chromosomes.

Environments (docs/model.md): a training cell uses its teacher environment pi_T; a cell
registered by ``prism adapt`` uses its student environment; zero-shot (asked for by
name, ``--zero-shot``) uses the average training environment (``mean_environment``: what a
cell with no labels is expected to be), written with cell ``zero-shot``; any other name is
an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..registry import load_adapted, unknown_cell
from .cache import batch_map, cpu_threads, device_of
from .environment import estimate_environment, mean_environment, predict, teacher_pi
from .pairs import BATCH_PAIRS, element_caches, log_distance, pair_outputs

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


def resolve_environment(model, cells: list[str], registry, name: str | None) -> Environment:
    """The environment of cell ``name``: a training cell (teacher; ``cells``: the
    checkpoint's training cells), an adapted cell (student), or ``ZERO_SHOT``; any other
    name (a typo, None, '.') is a PrismInputError naming the known cells, never a silent
    zero-shot."""
    if not model.has_environment:
        return Environment(name or ZERO_SHOT, "none", None)
    if name == ZERO_SHOT:
        return Environment(ZERO_SHOT, ZERO_SHOT, mean_environment(model))
    if name in cells:
        return Environment(name, "teacher", teacher_pi(model, cells.index(name)))
    record = load_adapted(registry, name)
    if record is not None:
        return Environment(name, "student", torch.tensor(record["pi"]), record.get("threshold"))
    raise unknown_cell("." if name in (None, "") else name, cells, registry)


def support_environment(model, cells: list[str], cell: str, ds, inputs, path: str
                        ) -> Environment:
    """``score --cell CELL --support FILE``: the environment the support pairs of ``ds``
    (one cell, labelled) imply, estimated as ``adapt`` estimates it.  A training cell's
    teacher environment is the prior (kind "fused": the posterior of teacher and
    support); any other cell gets the prior of all training cells (kind "support")."""
    from ..errors import PrismInputError
    from .adapt import canonical_order, check_support, support_outputs

    if not model.has_environment:
        raise PrismInputError("--support needs a PRISM model (this one has no cell "
                              "environment)", path)
    order = canonical_order(ds.pairs)
    check_support(ds.pairs["label"].to_numpy()[order], path)
    support = support_outputs(model, ds, order, inputs)
    prior = cells.index(cell) if cell in cells else None
    pi, _, _ = estimate_environment(model, support, 0, 0, prior_cell=prior)
    return Environment(cell, "fused" if prior is not None else "support", pi)


def score_pairs(model, ds, envs: dict[str, Environment], cell_of_row: np.ndarray,
                chunk_pairs: int = 100_000, progress=None, inputs=None,
                labelled: bool | None = None, workers: int | None = None,
                batch_pairs: int = BATCH_PAIRS):
    """Yield DataFrame chunks: the input pair columns + prob, U_I, R, cell.

    cell_of_row : array of str, shape=(n_pairs,), the key into ``envs`` for each pair.
    inputs : (enhancer, promoter) ElementInputs of ``ds`` (default: its codes).
    labelled : whether the output has a label column (default: whether ``ds`` has a
        labelled pair); give it when several datasets make one output.
    workers : CPU threads (default: torch's thread count); each model op runs on one
        thread and ``workers`` batches run at once (predict.cache.batch_map), so the numbers
        do not depend on the thread count.
    batch_pairs : pairs per batch of the pair head.
    progress(n) is called with the number of pairs done after each chunk.

    Chromosome by chromosome (in order of first appearance): its unique elements are
    encoded once, then its pairs are scored in chunks of ``chunk_pairs`` (at most one
    chunk's outputs in memory), each chunk in batches of ``batch_pairs``.  A chromosome's
    scores depend only on its own pairs, so any split of the input by chromosome gives
    the same numbers.
    """
    pairs = ds.pairs
    if labelled is None:
        labelled = bool((pairs["label"] >= 0).any())  # one decision for every chunk
    workers = torch.get_num_threads() if workers is None else max(1, int(workers))
    chroms = pairs["chrom1"].to_numpy()
    done = 0
    enh_in, prom_in = inputs if inputs is not None else (ds.enhancers, ds.promoters)
    for chrom in pd.unique(chroms):
        rows = np.flatnonzero(chroms == chrom)
        sub = pairs.iloc[rows]
        with cpu_threads(1):
            enh, prom = element_caches(model, enh_in, prom_in, sub["enh_idx"].to_numpy(),
                                       sub["prom_idx"].to_numpy(), workers=workers)
        for s in range(0, len(rows), chunk_pairs):
            part = sub.iloc[s:s + chunk_pairs]
            with cpu_threads(1):
                scores = _chunk_scores(model, enh, prom, part, envs,
                                       cell_of_row[rows[s:s + chunk_pairs]], workers,
                                       batch_pairs)
            frame = part.drop(columns=["enh_idx", "prom_idx", "distance", "cell"])
            for i, (name, values) in enumerate(scores.items()):
                frame.insert(10 + i, name, values)
            if not labelled:
                frame = frame.drop(columns=["label"])
            else:
                frame["label"] = frame["label"].astype(object).where(frame["label"] >= 0, ".")
            done += len(part)
            if progress:
                progress(done)
            yield frame


def _chunk_scores(model, enh, prom, part: pd.DataFrame, envs: dict[str, Environment],
                  keys: np.ndarray, workers: int, batch_pairs: int) -> dict[str, np.ndarray]:
    """prob, U_I, R (float64, shape=(n,)) and cell (object) of one chunk of pairs."""
    out = pair_outputs(model, enh, prom, part["enh_idx"].to_numpy(),
                       part["prom_idx"].to_numpy(), log_distance(part["distance"].to_numpy()),
                       chunk_size=batch_pairs, workers=workers, keys=("U", "z_F"))
    n = len(part)
    prob, r = np.empty(n, dtype=np.float64), np.empty(n, dtype=np.float64)
    cell = np.empty(n, dtype=object)
    for key in pd.unique(keys):
        m = np.flatnonzero(keys == key)
        env = envs[key]
        u, z_f = out["U"][m], out["z_F"][m]
        # the resistance head per batch, ``workers`` batches at once
        preds = batch_map(lambda sl: predict(model, u[sl], z_f[sl], env.pi),
                          [slice(s, s + batch_pairs) for s in range(0, len(m), batch_pairs)],
                          device_of(model), workers)
        prob[m] = torch.cat([p["p"] for p in preds]).double().numpy()
        r[m] = torch.cat([p["R"] for p in preds]).double().numpy()
        cell[m] = env.cell
    return {"prob": prob, "U_I": out["U"].double().numpy(), "R": r, "cell": cell}


def cell_keys(ds, cell: str | None) -> np.ndarray:
    """The environment key of each pair: ``--cell`` for all, else the input's cell column
    ('.' where the input has none). Returns object array, shape=(n_pairs,)."""
    if cell:
        return np.full(len(ds.pairs), cell, dtype=object)
    return ds.pairs["cell"].to_numpy(dtype=object)
