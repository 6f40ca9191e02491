"""Does z_F carry what the environment needs?  Linear probes of a trained run (simulated
worlds only, where the true resistance is known).

    python -m bench.probes.zf --data DATA --world WORLD --run RUN [RUN ...] [-o OUT.tsv]

The resistance head R(z_F, pi) can only re-rank pairs by what z_F carries.  For every
training cell c of a run, a ridge regression is fitted on the cell's training-chromosome
pairs and scored (R^2) on its validation-chromosome pairs, from z_F and, for comparison,
from z_I, to two targets from the simulator's truth:

* ``R``: the pair's true resistance in its cell;
* ``R-dev``: R minus the mean true R of the other cells for the same pair (the part of R
  that differs between cells: what an environment estimate has to move).

A low ``R-dev`` R^2 from z_F for a cell means no environment, however well estimated,
can reproduce that cell's ranking.  The ridge penalty is chosen by 5-fold cross-validation
on the training pairs (sklearn's RidgeCV).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

from bench.adaptation.element_features import Outputs


def probe_rows(run: str, ds, truth: pd.DataFrame) -> list[dict]:
    """R^2 rows (cell, source, target) of one run on its own split."""
    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.features import model_inputs

    model, meta = load_checkpoint(run)
    inputs = model_inputs(ds, meta)
    pairs = ds.pairs.reset_index(drop=True)
    key = pairs[["name", "cell"]].astype(str)
    t = key.merge(truth, on=["name", "cell"], how="left", validate="one_to_one")
    targets = {"R": t["R"].to_numpy(), "R-dev": (t["R"] - t["R_mean_other"]).to_numpy()}
    chrom = pairs["chrom1"].astype(str).to_numpy()
    cells = pairs["cell"].astype(str).to_numpy()
    rows = []
    for entry in meta["cells"]:
        c = entry["name"]
        tr = np.flatnonzero((cells == c) & np.isin(chrom, meta["splits"]["train"]))
        va = np.flatnonzero((cells == c) & np.isin(chrom, meta["splits"]["val"]))
        out = Outputs(model, ds, inputs, np.concatenate([tr, va]))
        for source in ("z_F", "z_I"):
            x_tr, x_va = out.rows(tr, source).numpy(), out.rows(va, source).numpy()
            for name, y in targets.items():
                fit = RidgeCV(alphas=np.logspace(-3, 3, 13), cv=5).fit(x_tr, y[tr])
                rows.append({"run": Path(run).name, "cell": c, "source": source,
                             "target": name, "n_val": len(va),
                             "r2": float(fit.score(x_va, y[va]))})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--world", required=True, help="prism simulate folder (truth.tsv)")
    ap.add_argument("--run", nargs="+", required=True)
    ap.add_argument("-o", "--out", default=None, help="TSV of the rows (appended)")
    args = ap.parse_args(argv)
    from prism_cli.dataset import PairDataset

    ds = PairDataset(args.data)
    truth = pd.read_csv(Path(args.world) / "truth.tsv", sep="\t",
                        dtype={"name": str, "cell": str})
    rows = [r for run in args.run for r in probe_rows(run, ds, truth)]
    frame = pd.DataFrame(rows)
    if args.out:
        path = Path(args.out)
        frame.to_csv(path, sep="\t", index=False, float_format="%.4f", mode="a",
                     header=not path.exists())
    wide = frame.pivot_table(index=["run", "source", "target"], columns="cell", values="r2")
    print("| run | from | target | " + " | ".join(wide.columns) + " |")
    print("| --- | --- | --- |" + " ---: |" * len(wide.columns))
    for (run, source, target), r in wide.iterrows():
        print(f"| {run} | {source} | {target} | " + " | ".join(f"{v:.2f}" for v in r) + " |")


if __name__ == "__main__":
    main()
