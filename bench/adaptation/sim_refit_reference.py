"""What a correctly specified model gets from a held-out cell's support labels (simulated
worlds only): the reference PRISM's adapt is measured against in docs/benchmarks.md.

    python -m bench.adaptation.sim_refit_reference --data DATA --world WORLD --held-out CELL0,CELL1 \
        --seeds 0,1,2 --val-chroms chr3 --test-chroms chr4 -o OUT

It knows what PRISM must learn: which motifs drive U (compatibility) and which drive R
(environment), and that the simulator's energies are linear in their log(1 + count)
content.  On the fold of bench/adaptation/element_features.py (same split, same support draws):

* ``pooled-lr``: one logistic regression over the training cells on [compatibility
  content of the enhancer x of the promoter (outer product), environment content of both,
  log10 distance]: the truth's features, the cells' average environment;
* ``refit-lr``: the pooled LR as a fixed offset plus a per-cell linear term on the
  environment content (17 weights, ridge penalty lambda), fitted on the support pairs.
  lambda is chosen on the training cells' validation chromosomes (supports of 16 and 64
  from their training chromosomes), never on the held-out cell.

Rows are appended to OUT/results.tsv in the format of bench/adaptation/element_features.py.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from bench.cross_cell.split import make_fold, window_hashes
from prism_cli.predict.support import draw_support
from prism_cli.metrics import aupr, auroc

from .element_features import SIZES, _row, training_cell_rows

LAMBDAS = (0.25, 1.0, 4.0, 16.0)


def true_content(ds, world: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """log(1 + true motif count) of every enhancer and promoter row of the dataset.
    Returns (enhancers (n_e, M), promoters (n_p, M), compatibility names, environment
    names); columns in the order compatibility then environment."""
    truth = json.loads((world / "params.json").read_text())["truth"]
    compat, env = truth["compat_motifs"], truth["env_motifs"]
    table = pd.read_csv(world / "element_features.tsv", sep="\t").rename(
        columns={"#chrom": "chrom"})

    def one(frame: pd.DataFrame) -> np.ndarray:
        m = frame[["chrom", "start", "end"]].merge(table, on=["chrom", "start", "end"],
                                                   how="left", validate="many_to_one")
        return np.log1p(m[compat + env].to_numpy(float))

    return one(ds.enhancer_table()), one(ds.promoter_table()), compat, env


def pair_design(ds, world: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X (n_pairs, n_c^2 + 2 n_env + 1) of the pooled LR, Z (n_pairs, 2 n_env + 1) of the
    per-cell environment term, with a constant)."""
    enh, prom, compat, env = true_content(ds, world)
    e = enh[ds.pairs["enh_idx"].to_numpy()]
    p = prom[ds.pairs["prom_idx"].to_numpy()]
    nc = len(compat)
    outer = np.einsum("ni,nj->nij", e[:, :nc], p[:, :nc]).reshape(len(e), -1)
    env_part = np.hstack([e[:, nc:], p[:, nc:]])
    x = np.hstack([outer, env_part, ds.log_distance()[:, None]])
    return x, np.hstack([env_part, np.ones((len(e), 1))])


def refit(offset: np.ndarray, z: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge-penalised logistic weights w of y ~ sigmoid(offset + z w), shape=(z.shape[1],)."""
    def f(w):
        s = offset + z @ w
        p = 0.5 * (1 + np.tanh(0.5 * s))
        loss = np.sum(np.logaddexp(0, s) - y * s) + lam * np.sum(w ** 2)
        return loss, z.T @ (p - y) + 2 * lam * w
    return minimize(f, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x


def choose_lambda(base, z, labels, cells, fold, draws, seed) -> tuple[float, dict]:
    """The lambda with the best mean AUPR on the training cells' validation chromosomes."""
    table = {}
    for lam in LAMBDAS:
        vals = []
        for c, pool, val in training_cell_rows(fold, cells, labels):
            for size in (16, 64):
                rng = np.random.default_rng(seed + size)
                for _ in range(draws):
                    pick = pool[draw_support(labels[pool], size, rng)]
                    w = refit(base[pick], z[pick], labels[pick], lam)
                    vals.append(aupr(labels[val], base[val] + z[val] @ w))
        table[lam] = float(np.mean(vals))
    return max(table, key=table.get), table


def run(args) -> None:
    from prism_cli.dataset import PairDataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = PairDataset(args.data)
    x, z = pair_design(ds, Path(args.world))
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    cells = ds.pairs["cell"].to_numpy()
    eh, ph = window_hashes(ds.enhancers), window_hashes(ds.promoters)
    rows = []
    for cell in args.held_out:
        for seed in args.seeds:
            fold = make_fold(ds.pairs, cell, args.val_chroms, args.test_chroms, eh, ph,
                             seed=seed)
            keys = {"features": "true counts", "held_out": cell, "seed": seed,
                    "tag": args.tag, "date": _dt.date.today().isoformat()}
            lr = LogisticRegression(C=1.0, max_iter=5000).fit(x[fold.train],
                                                               labels[fold.train])
            base = lr.decision_function(x)
            y = labels[fold.query]
            rows.append(_row(y, base[fold.query], method="pooled-lr", support=0, **keys))
            lam, table = choose_lambda(base, z, labels, cells, fold, args.draws, seed)
            print(f"{cell} seed {seed}: lambda on validation chromosomes {table} -> {lam}",
                  flush=True)
            for size in SIZES:
                rng = np.random.default_rng(seed + 17 + size)  # PRISM's support draws
                got = []
                for _ in range(args.draws):
                    pick = fold.support_pool[draw_support(labels[fold.support_pool], size, rng)]
                    w = refit(base[pick], z[pick], labels[pick], lam)
                    s = base[fold.query] + z[fold.query] @ w
                    got.append((aupr(y, s), auroc(y, s)))
                got = np.array(got)
                rows.append({**keys, "method": "refit-lr", "support": size, "strength": lam,
                             "n": int(len(y)), "prevalence": float(y.mean()),
                             "aupr": got[:, 0].mean(), "auroc": got[:, 1].mean(),
                             "aupr_sd": got[:, 0].std()})
    frame = pd.DataFrame(rows)
    path = out / "results.tsv"
    done = pd.read_csv(path, sep="\t") if path.exists() else None
    pd.concat([done, frame], ignore_index=True).to_csv(path, sep="\t", index=False,
                                                        float_format="%.4f")
    print(frame.to_string(index=False))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--world", required=True, help="prism simulate folder")
    ap.add_argument("--held-out", type=lambda s: s.split(","), default=["CELL0"])
    ap.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0])
    ap.add_argument("--val-chroms", type=lambda s: s.split(","), default=["chr3"])
    ap.add_argument("--test-chroms", type=lambda s: s.split(","), default=["chr4"])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--tag", default="true-structure")
    ap.add_argument("-o", "--out", required=True)
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
