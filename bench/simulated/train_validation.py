"""Validation of a `prism train` run on a `prism simulate` world, against known truth.

For each cell of the run: the model's AUPR/AUROC on the held-out chromosome pairs, scored
through the inference path exactly as during training validation (support pool from the
cell's training chromosomes -> student environment -> predict), next to, on the same
pairs, the simulator's oracle (true p), the mean-environment reference (true U minus the
mean true R of the other cells) and U alone (truth.tsv), plus distance alone.  Also
summarises the competition log (rho, push, pull) of the run.

    python -m bench.simulated.train_validation --run RUN --sim SIM --data DATA [--split val|test]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv=None) -> None:
    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.dataset import PairDataset
    from prism_cli.metrics import aupr, auroc
    from prism_cli.train.splits import assign_splits
    from prism_cli.train.validate import plan_validation, validate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--sim", required=True, help="prism simulate folder (truth.tsv)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--checkpoint", default="best", choices=["best", "last"])
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    run = Path(args.run)
    model, meta = load_checkpoint(run / args.checkpoint)
    conf = json.loads((run / "config.json").read_text())
    tcfg = conf["train"]
    ds = PairDataset(args.data)
    pairs = ds.pairs
    labels = pairs["label"].to_numpy().astype(np.int64)
    held = conf["splits"][args.split]
    other = conf["splits"]["test" if args.split == "val" else "val"]
    split = assign_splits(pairs["chrom1"].to_numpy(), pairs["chrom2"].to_numpy(), held, other)
    cells = [(c, i) for i, c in enumerate(conf["cells"])] + [(c, None) for c in conf["val_cells"]]
    plan = plan_validation(pairs["cell"].to_numpy(), labels, split, cells,
                           tcfg["val_support_pool"], tcfg["val_max_pairs"], seed=tcfg["seed"])
    arrays = {"enhancers": ds.enhancers, "promoters": ds.promoters,
              "enh_idx": pairs["enh_idx"].to_numpy(), "prom_idx": pairs["prom_idx"].to_numpy(),
              "log_distance": ds.log_distance(), "labels": labels}
    val = validate(model, arrays, plan, (tcfg["support_min"], tcfg["support_max"]),
                   tcfg["val_episodes"], seed=tcfg["seed"])
    truth = pd.read_csv(Path(args.sim) / "truth.tsv", sep="\t").set_index("name")
    rows = []
    for vc in plan:
        q = pairs.iloc[vc.query]
        t = truth.loc[q["name"].to_numpy()]
        assert (t["cell"].to_numpy() == q["cell"].to_numpy()).all()
        y = labels[vc.query]
        m = val["cells"][vc.name]
        rows.append({
            "cell": vc.name, "held_out_cell": vc.cell_index is None, "n": len(y),
            "prevalence": float(y.mean()),
            "model_aupr": m["aupr"], "model_auroc": m["auroc"],
            "teacher_aupr": m.get("aupr_teacher", math.nan),
            "u_only_aupr": m.get("aupr_zero_shot", math.nan),
            "oracle_aupr": aupr(y, t["p"]), "oracle_auroc": auroc(y, t["p"]),
            "mean_env_aupr": aupr(y, t["U"] - t["R_mean_other"]),
            "mean_env_auroc": auroc(y, t["U"] - t["R_mean_other"]),
            "true_u_aupr": aupr(y, t["U"]), "true_u_auroc": auroc(y, t["U"]),
            "distance_aupr": aupr(y, -ds.log_distance()[vc.query]),
            "distance_auroc": auroc(y, -ds.log_distance()[vc.query]),
        })
    table = pd.DataFrame(rows)
    mean = table.drop(columns=["cell", "held_out_cell"]).mean(numeric_only=True)

    print(f"## {args.split} chromosomes {','.join(held)}; checkpoint {args.checkpoint} "
          f"(epoch {meta['epoch']})\n")
    print("| cell | n | prevalence | PRISM AUPR / AUROC | teacher AUPR | U_I-only AUPR | "
          "oracle p | true U − mean R(other) | true U alone | distance alone |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for _, r in list(table.iterrows()) + [(None, {**mean.to_dict(), "cell": "mean",
                                                    "n": int(table["n"].sum())})]:
        print(f"| {r['cell']} | {int(r['n'])} | {r['prevalence']:.3f} | "
              f"{r['model_aupr']:.3f} / {r['model_auroc']:.3f} | {r['teacher_aupr']:.3f} | "
              f"{r['u_only_aupr']:.3f} | {r['oracle_aupr']:.3f} / {r['oracle_auroc']:.3f} | "
              f"{r['mean_env_aupr']:.3f} / {r['mean_env_auroc']:.3f} | "
              f"{r['true_u_aupr']:.3f} / {r['true_u_auroc']:.3f} | "
              f"{r['distance_aupr']:.3f} / {r['distance_auroc']:.3f} |")

    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if r["kind"] == "step"]
    epochs = [r for r in log if r["kind"] == "epoch"]
    comp = {}
    if steps and "rho" in steps[0]:
        for key in ("rho", "push", "pull", "ratio", "gap"):
            vals = np.array([s[key] for s in steps if key in s])
            if len(vals):
                comp[key] = {"first": float(vals[0]), "last": float(vals[-1]),
                             "min": float(vals.min()), "max": float(vals.max()),
                             "mean": float(vals.mean()),
                             "share_non_neutral": float(np.mean(np.abs(
                                 vals - (1.0 if key in ("rho", "ratio") else 0.0)) > 1e-3))}
        print("\n| logged | first | last | min | max | mean | steps away from neutral |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for key, v in comp.items():
            print(f"| {key} | {v['first']:.3f} | {v['last']:.3f} | {v['min']:.3f} | "
                  f"{v['max']:.3f} | {v['mean']:.3f} | {100 * v['share_non_neutral']:.0f} % |")
        if epochs:
            print("\nρ per cell at the end:",
                  ", ".join(f"{c} {v:.3f}" for c, v in epochs[-1]["rho_per_cell"].items()))
    print("\n| epoch | val mean AUPR | val mean AUROC | train main | train teacher |")
    print("| --- | --- | --- | --- | --- |")
    for e in epochs:
        print(f"| {e['epoch']} | {e['val']['mean_aupr']:.3f} | {e['val']['mean_auroc']:.3f} | "
              f"{e['train'].get('main', math.nan):.3f} | "
              f"{e['train'].get('teacher', math.nan):.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"cells": rows, "competition": comp,
                                               "epochs": [{k: e[k] for k in ("epoch", "train")}
                                                          for e in epochs]}, indent=1,
                                              default=float))


if __name__ == "__main__":
    main()
