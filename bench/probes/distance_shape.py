"""How much of a cross-cell score is the distance curve, and which curve carries over.

Two diagnostics on an extracted dataset (`prism extract`), with the cross-cell
benchmark's split (bench/cross_cell/split.py):

1. Distance curves, leave-one-training-cell-out: for each training cell h, fit a distance
   model on the other training cells' training chromosomes and score h's validation
   chromosomes (the held-out cell and the test chromosomes are not touched). Curves: the
   distance-LR baseline's quadratic in log10 distance, and PRISM's DistanceEnergy MLP
   (sin/cos features), both fitted by full-batch logistic loss.
2. With ``--run RUN`` (a `python -m bench.cross_cell run` PRISM run folder with best.safetensors and
   scored.bedpe): PRISM's zero-shot U_I on the held-out cell's query split into its
   distance term and the rest (the sequence term), each scored alone.

    python -m bench.probes.distance_shape --data /tmp/cc_real/data \
        --run /tmp/cc_real/runs/K562.s0.prism-full
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.cross_cell.harness import DATASETS
from bench.cross_cell.split import labelled_cells, split_of_pairs
from prism_cli.dataset import PairDataset
from prism_cli.metrics import aupr, auroc
from prism_cli.model.layers import MLP, DistanceFeatures


def fit_curve(log_d: np.ndarray, y: np.ndarray, kind: str, steps: int = 600, seed: int = 0):
    """Full-batch logistic fit of a distance curve; returns score(log_d) -> (n,)."""
    torch.manual_seed(seed)
    mu, sd = float(log_d.mean()), float(log_d.std())
    if kind == "mlp":
        feats = DistanceFeatures(mu, sd)
        net = MLP(feats.dim, 16, 1)
        params = list(net.parameters())

        def curve(x):
            return net(feats(x)).squeeze(-1)
    else:
        w = torch.zeros(3, requires_grad=True)
        params = [w]

        def curve(x):
            z = (x - mu) / sd
            return w[0] + w[1] * z + w[2] * z * z
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam(params + [bias], lr=1e-2)
    x, t = torch.from_numpy(log_d.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(curve(x) + bias, t).backward()
        opt.step()

    def score(ld: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return curve(torch.from_numpy(ld.astype(np.float32))).numpy()
    return score


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--dataset", default="real", choices=sorted(DATASETS))
    ap.add_argument("--held-out", default="K562")
    ap.add_argument("--run", type=Path, default=None)
    args = ap.parse_args(argv)

    ds = PairDataset(args.data)
    pairs = ds.pairs
    y = pairs["label"].to_numpy()
    cell = pairs["cell"].to_numpy()
    log_d = ds.log_distance()
    spec = DATASETS[args.dataset]
    split = split_of_pairs(pairs, spec["val"], spec["test"])
    training = [c for c in labelled_cells(pairs) if c != args.held_out]
    print(f"distance curves, leave one training cell out (validation chromosomes "
          f"{','.join(spec['val'])}; {args.held_out} not used)")
    print("| curve | " + " | ".join(training) + " | mean AUPR |")
    print("| --- |" + " ---: |" * (len(training) + 1))
    for kind in ("quadratic", "mlp"):
        cells_aupr = []
        for h in training:
            tr = np.flatnonzero(np.isin(cell, [c for c in training if c != h])
                                & (split == "train") & (y >= 0))
            ev = np.flatnonzero((cell == h) & (split == "val") & (y >= 0))
            s = fit_curve(log_d[tr], y[tr], kind)(log_d[ev])
            cells_aupr.append((aupr(y[ev], s), auroc(y[ev], s)))
        row = " | ".join(f"{a:.3f} ({r:.3f})" for a, r in cells_aupr)
        print(f"| {kind} | {row} | {np.mean([a for a, _ in cells_aupr]):.3f} |")

    if args.run is None:
        return
    import pandas as pd

    from prism_cli.checkpoint import load_checkpoint
    model, _ = load_checkpoint(args.run / "best")
    scored = pd.read_csv(args.run / "scored.bedpe", sep="\t")
    q = scored[(scored["part"] == "query") & (scored["variant"] == "zero-shot")]
    rows = q["row"].to_numpy()
    yq = y[rows]
    with torch.no_grad():
        dist = model.distance_energy(torch.from_numpy(log_d[rows].astype(np.float32))).numpy()
    u = q["U_I"].to_numpy()
    print(f"\nPRISM U_I on the {args.held_out} query ({len(rows)} pairs, prevalence "
          f"{yq.mean():.3f}), {args.run.name}")
    print("| score | AUPR | AUROC | sd |")
    print("| --- | ---: | ---: | ---: |")
    for name, s in (("U_I (zero-shot)", u), ("its distance term", dist),
                    ("its sequence term (U_I - distance term)", u - dist)):
        print(f"| {name} | {aupr(yq, s):.3f} | {auroc(yq, s):.3f} | {s.std():.3f} |")


if __name__ == "__main__":
    main()
