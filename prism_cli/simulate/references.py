"""Reference scores of a simulated world: what its known truth lets a score reach.

Two families, per cell c (``reference_scores(world)`` returns both, one dict per cell,
then a ``mean`` row):

* **in-cell**, on all of c's labelled rows: ``oracle`` (the true p), ``mean_env``
  (U - mean R of the other cells), ``U`` alone and ``distance`` alone (-distance).
* **cross-cell**, on c's rows of the held-out chromosome (the world's last one, the
  benchmark's test chromosome): logistic regressions fitted on the rows of the *other*
  cells on the *other* chromosomes, so neither the cell nor the chromosome leaks; they are
  the ceiling of a cross-cell model that reads motif content but never saw c:

  - ``count_lr``: on the true instance counts of the planted motifs (``world.counts``);
  - ``pwm_lr``: on the hit counts of a scan of each element's window (``window_length``
    bp centred at (start + end) // 2) with the generator's true PWMs (overlapping and
    weak instances are missed, chance matches are counted, so it usually sits below
    ``count_lr``).

  Beside them ``oracle_test`` and ``distance_test``, the oracle and distance on the very
  same rows, so the numbers compare. A world with one chromosome has no held-out
  chromosome: the cross-cell keys are absent and ``cross_cell_note`` says why.

Features of a pair for both regressions (``pair_features``): with m = log(1 + count) over
all motifs, [m(enhancer), m(promoter), m_i(enhancer) * m_j(promoter) for all i, j,
log10(distance)], standardised with the mean and sd over the candidate pairs of the
training chromosomes; sklearn's L2 logistic regression (lbfgs) with C = ``LR_C`` = 0.01
and tol = ``LR_TOL`` = 1e-3, fixed once: the best or within 0.003 mean AUPR of the best C
in 0.001..1 on the default world and the 20 Mb world (seed 0); tol = 1e-4 moves no
per-cell AUPR by more than 0.004. Rows of the same pair with the same label are fitted once
with their multiplicity as sample weight (the same objective, fewer rows).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..metrics import aupr, auroc
from .truth import motif_content, row_scores

if TYPE_CHECKING:
    from .world import World

LR_C = 0.01
LR_TOL = 1e-3
LR_MAX_ITER = 2000
# in-cell references: name -> column of row_scores
REFERENCES = {"oracle": "p", "mean_env": "mean_env", "U": "U"}
CROSS_CELL = ("count_lr", "pwm_lr")


# ----------------------------------------------------------------------------- features


def pair_features(content: np.ndarray, enh: np.ndarray, prom: np.ndarray,
                  distance: np.ndarray) -> np.ndarray:
    """Features of enhancer-promoter pairs from per-element motif content.

    content : shape=(n_elements, M), e.g. log1p(counts); enh, prom : element indices,
    shape=(n,); distance : bp, shape=(n,). Returns float64 shape=(n, 2M + M*M + 1):
    [content(enh), content(prom), content(enh)_i * content(prom)_j (i-major), log10 d].
    """
    content = np.asarray(content, np.float32)
    ce, cp = content[enh], content[prom]
    n, m = ce.shape
    out = np.empty((n, 2 * m + m * m + 1), np.float32)
    out[:, :m], out[:, m:2 * m] = ce, cp
    out[:, 2 * m:-1] = (ce[:, :, None] * cp[:, None, :]).reshape(n, m * m)
    out[:, -1] = np.log10(np.asarray(distance, np.float64))
    return out


def element_windows(world: World, length: int | None = None) -> np.ndarray:
    """Each element's window, codes uint8 shape=(n_elements, length) (ACGTN = 0..4).

    The window is [centre - length // 2, centre - length // 2 + length) with centre =
    (start + end) // 2, as `prism extract` cuts it; bases beyond the chromosome are N.
    length defaults to the world's window_length (500).
    """
    length = world.config.window_length if length is None else int(length)
    el = world.elements
    out = np.full((len(el), length), 4, np.uint8)
    starts = ((el["start"] + el["end"]) // 2 - length // 2).to_numpy()
    for i, (ci, s) in enumerate(zip(el["chrom_idx"].to_numpy(), starts)):
        seq = world.sequences[ci]
        lo, hi = max(int(s), 0), min(int(s) + length, len(seq))
        out[i, lo - s:hi - s] = seq[lo:hi]
    return out


def pwm_occupancy(world: World, p_value: float = 1e-4, softness: float = 0.0) -> np.ndarray:
    """Hit counts of the true PWMs in each element's window, float32 shape=(n_elements,
    n_motifs): prism_cli.motifs.scan.MotifScanner, thresholds calibrated on the windows
    themselves at p_value, both strands.  softness > 0 (bits): soft occupancies instead
    (MotifScanner.soft_occupancy, what a model trained with that softness reads)."""
    import torch

    from ..motifs.pwm import Motif as PWM
    from ..motifs.scan import MotifScanner

    windows = element_windows(world)
    scanner = MotifScanner([PWM(m.name, m.pwm, source="sim") for m in world.motifs])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is ~4x faster on 2 cores
    try:
        scanner.calibrate(windows, p_value=p_value)
        if softness > 0:
            return scanner.soft_occupancy(windows, softness)
        return np.asarray(scanner.occupancy(windows, device="cpu"), np.float32)
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- regression


def cross_cell_scores(world: World, content: np.ndarray) -> dict[int, np.ndarray]:
    """Per cell c: the regression's scores of c's held-out-chromosome rows (rows order).

    content : per-element motif content, shape=(n_elements, M). The regression for c is
    fitted on the rows of the other cells whose chromosome is not the last one; features
    are standardised with the mean and sd over the candidate pairs of those chromosomes
    (no label, no held-out row). Each fit starts from zero (a warm start from the previous
    cell's solution would carry c's labels in through the starting point). A cell whose
    training rows hold a single class gets nan scores. Empty for a world with one
    chromosome.
    """
    if len(world.chrom_names) < 2:
        return {}
    rows, cand = world.rows, world.candidates
    r_cand, r_cell = rows["cand"].to_numpy(), rows["cell"].to_numpy()
    y = rows["label"].to_numpy().astype(np.int64)
    enh, prom = cand["enh"].to_numpy(), cand["prom"].to_numpy()
    cand_test = world.elements["chrom_idx"].to_numpy()[enh] == len(world.chrom_names) - 1
    x = pair_features(content, enh, prom, cand["distance"].to_numpy())  # float32: 4x faster
    mu = x[~cand_test].mean(0, dtype=np.float64).astype(np.float32)
    sd = x[~cand_test].std(0, dtype=np.float64).astype(np.float32)
    sd[sd < 1e-12] = 1.0
    x -= mu
    x /= sd
    test_chrom = cand_test[r_cand]
    out = {}
    for c in range(len(world.cell_names)):
        test = test_chrom & (r_cell == c)
        train = ~test_chrom & (r_cell != c)
        # one row per (pair, label), weighted by how many cells label it so
        keys, weight = np.unique(r_cand[train] * 2 + y[train], return_counts=True)
        if not test.any():
            out[c] = np.empty(0)
        elif len(np.unique(keys % 2)) < 2:
            out[c] = np.full(int(test.sum()), math.nan)
        else:
            model = fit_pair_regression(x[keys // 2], keys % 2, weight)
            out[c] = model.decision_function(x[r_cand[test]])
    return out


def fit_pair_regression(x: np.ndarray, y: np.ndarray, weight: np.ndarray):
    """The references' logistic regression (C = LR_C, tol = LR_TOL), fitted on standardised
    pair features x (n, F) with labels y (n,) and sample weights (n,); one thread."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    model = LogisticRegression(C=LR_C, tol=LR_TOL, max_iter=LR_MAX_ITER)
    with threadpool_limits(1):  # a few hundred features: threads cost, not help
        model.fit(x, y, sample_weight=np.asarray(weight, np.float32))
    return model


# ----------------------------------------------------------------------------- table


def cross_cell_note(world: World) -> str | None:
    """Why the cross-cell references are missing, or None when they are computed."""
    if len(world.chrom_names) < 2:
        return ("count_lr / pwm_lr skipped: a world with one chromosome has no held-out "
                "chromosome (use --chroms >= 2)")
    return None


def reference_notes(world: World) -> dict:
    """What the references are and how the cross-cell ones were fitted, for params.json."""
    notes = {
        "oracle": "true p on all rows of the cell",
        "mean_env": "U - mean over the other cells of R, all rows of the cell",
        "U": "U alone, all rows of the cell",
        "distance": "-distance, all rows of the cell",
    }
    skipped = cross_cell_note(world)
    if skipped:
        notes["cross_cell"] = skipped
        return notes
    test = world.chrom_names[-1]
    notes.update({
        "test_chrom": test,
        "count_lr": f"logistic regression on the true motif counts, fitted on the other "
                    f"cells' rows off {test}, scored on the cell's rows on {test}",
        "pwm_lr": f"the same regression on hit counts of the true PWMs scanned in "
                  f"{world.config.window_length} bp windows centred on each element "
                  f"(prism_cli.motifs.scan.MotifScanner, thresholds calibrated at p < 1e-4 "
                  f"on dinucleotide-shuffled windows)",
        "oracle_test": f"true p on the cell's rows on {test}",
        "distance_test": f"-distance on the cell's rows on {test}",
        "features": "log1p content of all motifs: enhancer, promoter, their pairwise "
                    "products, log10 distance; standardised over the training "
                    "chromosomes' candidate pairs",
        "logistic_regression": {"penalty": "l2", "C": LR_C, "tol": LR_TOL,
                                "solver": "lbfgs"},
    })
    return notes


def _metrics(row: dict, ref: str, y: np.ndarray, s: np.ndarray) -> None:
    finite = np.isfinite(s).all() and len(s) > 0
    row[f"{ref}_aupr"] = aupr(y, s) if finite else math.nan
    row[f"{ref}_auroc"] = auroc(y, s) if finite else math.nan


def reference_scores(world: World, occupancy: np.ndarray | None = None) -> list[dict]:
    """Per cell (then 'mean'): pairs, positives, prevalence, AUPR/AUROC of the in-cell
    references (oracle, mean_env, U, distance) on all of the cell's rows; with two or more
    chromosomes also test_chrom, test_pairs, test_positives, test_prevalence and
    AUPR/AUROC of count_lr, pwm_lr, oracle_test and distance_test on the cell's rows of
    the last chromosome.

    occupancy : per-element PWM hit counts for pwm_lr, shape=(n_elements, n_motifs);
    default pwm_occupancy(world).
    """
    scores = row_scores(world)
    y = world.rows["label"].to_numpy()
    cell = world.rows["cell"].to_numpy()
    cross = cross_cell_note(world) is None
    if cross:
        if occupancy is None:
            occupancy = pwm_occupancy(world)
        lr = {"count_lr": cross_cell_scores(world, motif_content(world.counts)),
              "pwm_lr": cross_cell_scores(world, motif_content(occupancy))}
        enh = world.candidates["enh"].to_numpy()[world.rows["cand"].to_numpy()]
        last = len(world.chrom_names) - 1
        on_test = world.elements["chrom_idx"].to_numpy()[enh] == last
    table = []
    for c, name in enumerate(world.cell_names):
        sel = cell == c
        row = {"cell": name, "pairs": int(sel.sum()), "positives": int(y[sel].sum()),
               "prevalence": float(y[sel].mean()) if sel.any() else math.nan}
        for ref, col in {**REFERENCES, "distance": "distance"}.items():
            s = scores[col].to_numpy()[sel]
            s = -s if ref == "distance" else s
            row[f"{ref}_aupr"], row[f"{ref}_auroc"] = aupr(y[sel], s), auroc(y[sel], s)
        if cross:
            test = sel & on_test
            yt = y[test]
            row.update({"test_chrom": world.chrom_names[last], "test_pairs": int(test.sum()),
                        "test_positives": int(yt.sum()),
                        "test_prevalence": float(yt.mean()) if test.any() else math.nan})
            for ref in CROSS_CELL:
                _metrics(row, ref, yt, lr[ref][c])
            _metrics(row, "oracle_test", yt, scores["p"].to_numpy()[test])
            _metrics(row, "distance_test", yt, -scores["distance"].to_numpy()[test])
        table.append(row)
    mean = {"cell": "mean", "pairs": int(len(y)), "positives": int(y.sum()),
            "prevalence": float(np.nanmean([r["prevalence"] for r in table]))}
    if cross:
        mean.update({"test_chrom": table[0]["test_chrom"],
                     "test_pairs": sum(r["test_pairs"] for r in table),
                     "test_positives": sum(r["test_positives"] for r in table),
                     "test_prevalence": _nanmean([r["test_prevalence"] for r in table])})
    for key in table[0]:
        if key.endswith(("_aupr", "_auroc")):
            mean[key] = _nanmean([r[key] for r in table])
    return table + [mean]


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan
