"""Is there anything cell-specific for ``adapt`` to find?  Reference models on one split.

    python -m bench.probes.cell_specificity --data DATA --held-out CELL[,CELL...] \
        --val-chroms chr5,chr6 --test-chroms chr1,chr2,chr3,chr4 -o OUT.tsv

For each held-out cell (the leave-one-cell-out split of bench/cross_cell/split.py, the
same one bench/adaptation/element_features.py uses), distance LR and 5-mer + distance LR fitted

* ``pooled``: on the training cells' training chromosomes (what a cross-cell model sees);
* ``own-N``: on N pairs of the held-out cell's own support pool (training chromosomes,
  class balance of the pool), 5 random draws per N, C as chosen for ``pooled``;
* ``own-all``: on the whole support pool of the held-out cell;

all scored on the held-out cell's query (test chromosomes).  If ``own-N`` does not beat
``pooled`` at the N a user would bring, the cells do not differ in a way these features
express, and an environment estimated from N labels has nothing to recover beyond the
pooled ranking; if it does, adaptation has room.  Prints a table; ``-o`` writes it as TSV.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from bench.cross_cell.baselines import PairFeatures, _fit, fit_selected
from bench.cross_cell.split import make_fold, window_hashes
from prism_cli.metrics import aupr, auroc

SIZES = (64, 256)


def own_cell_scores(feats, labels, fold, fitted, size, draws, rng) -> list[tuple]:
    """(AUPR, AUROC) on the query of LRs fitted on ``size`` support-pool pairs."""
    pool, y_q = fold.support_pool, labels[fold.query]
    out = []
    for _ in range(draws if size < len(pool) else 1):
        pick = pool if size >= len(pool) else rng.choice(pool, size, replace=False)
        if len(np.unique(labels[pick])) < 2:
            continue
        model = _fit(feats.matrix(pick, fitted.k, True), labels[pick], fitted.C, 2)
        s = model.decision_function(feats.matrix(fold.query, fitted.k, True))
        out.append((aupr(y_q, s), auroc(y_q, s)))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--held-out", type=lambda s: s.split(","), required=True)
    ap.add_argument("--val-chroms", type=lambda s: s.split(","), default=["chr5", "chr6"])
    ap.add_argument("--test-chroms", type=lambda s: s.split(","),
                    default=["chr1", "chr2", "chr3", "chr4"])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", default=None)
    args = ap.parse_args(argv)

    from prism_cli.dataset import PairDataset

    ds = PairDataset(args.data)
    eh, ph = window_hashes(ds.enhancers), window_hashes(ds.promoters)
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    cells = ds.pairs["cell"].to_numpy()
    feats = PairFeatures(ds.enhancers, ds.promoters, ds.pairs["enh_idx"].to_numpy(),
                         ds.pairs["prom_idx"].to_numpy(), ds.log_distance())
    rows = []
    for cell in args.held_out:
        fold = make_fold(ds.pairs, cell, args.val_chroms, args.test_chroms, eh, ph,
                         seed=args.seed)
        y_q = labels[fold.query]
        rng = np.random.default_rng(args.seed)
        for name, ks in (("distance-lr", [None]), ("5mer+dist-lr", [5])):
            fitted = fit_selected(name, feats, labels, cells, fold.train, fold.val, ks, True)
            s = fitted.score(feats, fold.query)
            base = {"held_out": cell, "method": name, "n_query": len(y_q),
                    "prevalence": float(y_q.mean())}
            rows.append({**base, "fit": "pooled", "n_fit": len(fold.train),
                         "aupr": aupr(y_q, s), "auroc": auroc(y_q, s), "aupr_sd": 0.0})
            for size in (*SIZES, len(fold.support_pool)):
                sc = np.array(own_cell_scores(feats, labels, fold, fitted, size,
                                              args.draws, rng))
                label = "own-all" if size == len(fold.support_pool) else f"own-{size}"
                rows.append({**base, "fit": label, "n_fit": size, "aupr": sc[:, 0].mean(),
                             "auroc": sc[:, 1].mean(), "aupr_sd": sc[:, 0].std()})
        print(pd.DataFrame([r for r in rows if r["held_out"] == cell])
              .to_string(index=False, float_format="%.3f"), flush=True)
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, sep="\t", index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
