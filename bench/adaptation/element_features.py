"""Element features and adaptation on held-out cells: one table per (features, cell, seed).

    python -m bench.adaptation.element_features --data DATA [--world WORLD] --features discover \
        --held-out CELL0 --seeds 0 --val-chroms chr3 --test-chroms chr4 -o OUT

For each held-out cell (leave-one-cell-out, chromosome split of bench/cross_cell/split.py:
the held-out cell's support from training chromosomes, its query on the test chromosomes,
pairs sharing a window with training/support pairs removed) and seed:

* trains PRISM on the other cells with ``--element-features FEATURES`` (product defaults
  otherwise; ``--epochs`` and ``--config`` override, and are recorded);
* scores the query through the inference path (the functions ``prism adapt``/``score``
  call): zero-shot (the average training environment, what ``prism score --zero-shot``
  gives), U_I alone (u-only), and the environment estimated from supports of 16/64/256
  pairs (``--draws`` nested random draws each);
* with --crossattn, the crossattn baseline trained on the same fold, zero-shot and
  fine-tuned on the same support sizes (bench/cross_cell/finetune.py's fixed recipe);
* baselines on the same split: distance LR, GC content + distance LR, 5-mer + distance
  LR (C chosen on the training cells' validation chromosomes), and with --world the simulator's oracle (true p), the
  mean-environment reference (U - mean R of the other cells) and U alone;
* ``features-lr`` (always, for a run with at most 64 element features): the simulator's
  cross-cell regression on the run's own element features, fitted on the fold's train
  rows and scored on its query (:func:`features_lr`).

Rows go to OUT/results.tsv (appended; one row per method x support) and the wall time of
training to OUT/timing.tsv.  `--report OUT... [--columns A,B] [--both]` prints the per-cell
table docs/benchmarks.md shows.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cross_cell.baselines import PairFeatures, fit_selected
from bench.cross_cell.split import make_fold, window_hashes
from prism_cli.metrics import aupr, auroc

SIZES = (16, 64, 256)


def _row(y, s, **keys) -> dict:
    return {**keys, "n": int(len(y)), "prevalence": float(np.mean(y)),
            "aupr": aupr(y, s), "auroc": auroc(y, s)}


def references(args, ds, fold, keys) -> list[dict]:
    rows = []
    y = ds.pairs["label"].to_numpy()[fold.query]
    feats = PairFeatures(ds.enhancers, ds.promoters, ds.pairs["enh_idx"].to_numpy(),
                         ds.pairs["prom_idx"].to_numpy(), ds.log_distance())
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    cells = ds.pairs["cell"].to_numpy()
    # 1-mer frequencies of both windows = their GC content: the composition baseline the
    # data's selection bias calls for (../shared/data/README.md: negatives are GC-richer)
    for name, ks, dist in (("distance-lr", [None], True), ("gc+dist-lr", [1], True),
                           ("5mer+dist-lr", [5], True)):
        fit = fit_selected(name, feats, labels, cells, fold.train, fold.val, ks, dist)
        rows.append(_row(y, fit.score(feats, fold.query), method=name, support=0, **keys))
    if args.world:
        truth = pd.read_csv(Path(args.world) / "truth.tsv", sep="\t",
                            dtype={"name": str, "cell": str})
        key = ds.pairs[["name", "cell"]].iloc[fold.query].astype(str)
        t = key.merge(truth, on=["name", "cell"], how="left", validate="one_to_one")
        rows.append(_row(y, t["p"].to_numpy(), method="oracle", support=0, **keys))
        rows.append(_row(y, (t["U"] - t["R_mean_other"]).to_numpy(), method="mean-env",
                         support=0, **keys))
        rows.append(_row(y, t["U"].to_numpy(), method="U-true", support=0, **keys))
    return rows


class Outputs:
    """U_I and z_F of chosen pair rows of the dataset through the inference path."""

    def __init__(self, model, ds, inputs, rows: np.ndarray):
        from prism_cli.predict.pairs import rows_outputs

        rows = np.unique(rows)
        e_idx = ds.pairs["enh_idx"].to_numpy()[rows]
        p_idx = ds.pairs["prom_idx"].to_numpy()[rows]
        self.out = rows_outputs(model, inputs[0], inputs[1], e_idx, p_idx,
                                ds.log_distance()[rows])
        self.pos = {int(r): i for i, r in enumerate(rows)}

    def rows(self, rows, key: str):
        """``key`` ("U", "z_F", "z_I") of the given dataset rows, in their order."""
        import torch

        return self.out[key][torch.tensor([self.pos[int(r)] for r in rows], dtype=torch.long)]

    def take(self, rows):
        return self.rows(rows, "U"), self.rows(rows, "z_F")


def adapted_scores(model, outputs, labels, pool, query, size, draws, rng):
    """(AUPR, AUROC, Laplace pi sd) of ``query`` for ``draws`` supports of ``size`` from
    ``pool``, estimated exactly as `prism adapt` estimates them."""
    from prism_cli.predict.environment import estimate_environment, predict
    from prism_cli.predict.support import draw_support

    u, z_f = outputs.take(query)
    y = labels[query]
    scores = []
    for _ in range(draws):
        pick = pool[draw_support(labels[pool], size, rng)]
        su, sz = outputs.take(pick)
        pi, pi_sd, _ = estimate_environment(
            model, {"z_F": sz, "U": su, "y": labels[pick]}, size, 0)
        p = predict(model, u, z_f, pi)["p"].numpy()
        scores.append((aupr(y, p), auroc(y, p), float(pi_sd.mean())))
    return np.array(scores)


def training_cell_rows(fold, cells, labels):
    """(cell, training-chromosome rows, validation-chromosome rows) of each training cell
    of ``fold`` with at least 64 training rows and both labels among its validation rows
    (where the benchmarks choose settings without looking at the held-out cell)."""
    for c in fold.training_cells:
        pool = fold.train[cells[fold.train] == c]
        val = fold.val[cells[fold.val] == c]
        if len(pool) >= 64 and len(np.unique(labels[val])) >= 2:
            yield c, pool, val


def choose_strength(model, ds, inputs, fold, labels, grid, draws, seed) -> tuple[float, dict]:
    """The prior strength with the best mean AUPR of adapted environments (supports of
    16 and 64 pairs from training chromosomes) on the TRAINING cells' validation
    chromosomes: no held-out cell is looked at."""
    rng = np.random.default_rng(seed + 29)
    cells = ds.pairs["cell"].to_numpy()
    tasks = []
    for c, pool, val in training_cell_rows(fold, cells, labels):
        pool = np.sort(rng.choice(pool, min(len(pool), 1024), replace=False))
        val = np.sort(rng.choice(val, min(len(val), 1500), replace=False))
        tasks.append((pool, val))
    outputs = Outputs(model, ds, inputs, np.concatenate([np.concatenate(t) for t in tasks]))
    keep = model.cfg.env_prior_strength
    table = {}
    for strength in grid:
        model.cfg.env_prior_strength = strength
        vals = [adapted_scores(model, outputs, labels, pool, val, size, draws,
                               np.random.default_rng(seed + size))[:, 0].mean()
                for pool, val in tasks for size in (16, 64)]
        table[strength] = float(np.mean(vals))
    model.cfg.env_prior_strength = keep
    return max(table, key=table.get), table


FEATURES_LR_MAX = 64   # features-lr fits 2F + F^2 + 1 columns: only for a few features


def features_lr(inputs, ds, fold, keys) -> list[dict]:
    """``features-lr``: the simulator's cross-cell regression (``pwm_lr`` / ``count_lr`` of
    prism_cli.simulate.references: signed log1p features of enhancer, promoter, their
    products, log10 distance; L2 LR with its fixed C) on the run's own element features,
    fitted on the fold's train rows (the rows PRISM trains on) and scored on its query --
    the ceiling of a head reading these features, on the very rows PRISM is scored on.
    Empty when the run has no features or more than FEATURES_LR_MAX of them."""
    from prism_cli.simulate.references import fit_pair_regression, pair_features

    enh, prom = inputs[0].features, inputs[1].features
    if enh is None or prom is None or enh.shape[1] > FEATURES_LR_MAX:
        return []
    content = np.concatenate([enh, prom]).astype(np.float32)
    content = np.sign(content) * np.log1p(np.abs(content))
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    pair = (ds.pairs["enh_idx"].to_numpy().astype(np.int64) * len(prom)
            + ds.pairs["prom_idx"].to_numpy())
    # one row per (pair, label) of the train rows, weighted by how many rows carry it
    _, first, weight = np.unique(pair[fold.train] * 2 + labels[fold.train],
                                 return_index=True, return_counts=True)
    rows = np.concatenate([fold.train[first], fold.query])
    if len(np.unique(labels[fold.train])) < 2:   # one class: no regression to fit
        return []

    def features_of(r):
        return pair_features(content, ds.pairs["enh_idx"].to_numpy()[r],
                             len(enh) + ds.pairs["prom_idx"].to_numpy()[r],
                             np.maximum(ds.pairs["distance"].to_numpy()[r], 1))

    x = features_of(rows)
    x_pairs = features_of(fold.train[np.unique(pair[fold.train], return_index=True)[1]])
    mu = x_pairs.mean(0, dtype=np.float64).astype(np.float32)
    sd = x_pairs.std(0, dtype=np.float64).astype(np.float32)
    sd[sd < 1e-12] = 1.0
    x = (x - mu) / sd
    n = len(first)
    model = fit_pair_regression(x[:n], labels[rows[:n]], weight)
    return [_row(labels[fold.query], model.decision_function(x[n:]), method="features-lr",
                 support=0, **keys)]


def evaluate_prism(run: Path, ds, fold, keys, draws: int, seed: int, grid) -> list[dict]:
    """Zero-shot (the average environment), U_I alone and adapted environments on the
    query, with the trained prior strength and with the one chosen on the training cells'
    validation chromosomes."""
    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.features import model_inputs
    from prism_cli.predict.environment import mean_environment, predict

    model, meta = load_checkpoint(run)
    inputs = model_inputs(ds, meta)
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    res = features_lr(inputs, ds, fold, keys)
    outputs = Outputs(model, ds, inputs, np.concatenate([fold.query, fold.support_pool]))
    u, z_f = outputs.take(fold.query)
    y = labels[fold.query]
    # zero-shot = `prism score --zero-shot` (the average training environment; rows made
    # before 2026-12-02 call U_I alone "zero-shot" and this one "prior-mean")
    res += [_row(y, predict(model, u, z_f, mean_environment(model))["p"].numpy(),
                 method="prism", variant="zero-shot", support=0, **keys),
            _row(y, predict(model, u, z_f, None)["p"].numpy(), method="prism",
                 variant="u-only", support=0, **keys)]
    trained = model.cfg.env_prior_strength
    strengths = {"adapt": trained}
    if grid:
        chosen, table = choose_strength(model, ds, inputs, fold, labels, grid, draws, seed)
        print(f"prior strength on validation chromosomes: {table} -> {chosen}", flush=True)
        strengths["adapt-valstrength"] = chosen
    # inference-time ablations of the estimate on the same trained model (training itself
    # always unrolled the MAP from the student's guess)
    variants = [(v, st, {}) for v, st in strengths.items()]
    variants += [("student-only", trained, {"env_map_steps": 0}),
                 ("map-from-prior", trained, {"env_init": "prior"})]
    for variant, strength, change in variants:
        model.cfg.env_prior_strength = strength
        saved = {k: getattr(model.cfg, k) for k in change}
        for k, v in change.items():
            setattr(model.cfg, k, v)
        for size in SIZES:
            if size > len(fold.support_pool):
                continue
            a = adapted_scores(model, outputs, labels, fold.support_pool, fold.query, size,
                               draws, np.random.default_rng(seed + 17 + size))
            res.append({**keys, "method": "prism", "variant": variant, "support": size,
                        "strength": strength, "n": int(len(y)), "prevalence": float(y.mean()),
                        "aupr": a[:, 0].mean(), "auroc": a[:, 1].mean(),
                        "aupr_sd": a[:, 0].std(), "pi_sd": a[:, 2].mean()})
        for k, v in saved.items():
            setattr(model.cfg, k, v)
    model.cfg.env_prior_strength = trained
    return res


def evaluate_crossattn(run: Path, ds, fold, keys, draws: int, seed: int) -> list[dict]:
    """The crossattn baseline on the same fold: zero-shot, and fine-tuned on supports of
    16/64/256 pairs (the fixed recipe of bench/cross_cell/finetune.py, every parameter,
    ``draws`` random supports each, drawn as PRISM's are)."""
    from bench.cross_cell.finetune import finetuned_scores, predict_rows

    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.features import model_inputs
    from prism_cli.predict.support import draw_support

    model, meta = load_checkpoint(run)
    labels = ds.pairs["label"].to_numpy().astype(np.int64)
    y = labels[fold.query]
    res = [_row(y, predict_rows(model, ds, fold.query, model_inputs(ds, meta)),
                method="crossattn", variant="zero-shot", support=0, **keys)]
    for size in SIZES:
        if size > len(fold.support_pool):
            continue
        rng = np.random.default_rng(seed + 17 + size)
        got = []
        for d in range(draws):
            pick = fold.support_pool[draw_support(labels[fold.support_pool], size, rng)]
            p = finetuned_scores(str(run), ds, pick, fold.query, seed=seed + d,
                                 element_inputs=True)["query"]
            got.append((aupr(y, p), auroc(y, p)))
        got = np.array(got)
        res.append({**keys, "method": "crossattn", "variant": "fine-tuned", "support": size,
                    "n": int(len(y)), "prevalence": float(y.mean()), "aupr": got[:, 0].mean(),
                    "auroc": got[:, 1].mean(), "aupr_sd": got[:, 0].std()})
    return res


def run(args) -> None:
    from prism_cli.dataset import PairDataset
    from prism_cli.train.loop import TrainRequest, run_training

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = PairDataset(args.data)
    eh, ph = window_hashes(ds.enhancers), window_hashes(ds.promoters)
    conf = json.loads(Path(args.config).read_text()) if args.config else {}
    for cell in args.held_out:
        for seed in args.seeds:
            fold = make_fold(ds.pairs, cell, args.val_chroms, args.test_chroms, eh, ph,
                             seed=seed)
            keys = {"features": args.features, "held_out": cell, "seed": seed,
                    "tag": args.tag, "date": _dt.date.today().isoformat()}
            rows = references(args, ds, fold, keys) if args.references else []
            run_dir = out / f"run_{args.tag}_{cell}_{seed}"
            train = {**conf.get("train", {}), "seed": seed}
            if args.epochs:
                train["epochs"] = args.epochs
            t0 = time.perf_counter()
            if not (args.reuse and (run_dir / "best.json").exists()):
                run_training(TrainRequest(
                    data=args.data, out=str(run_dir), cells=fold.training_cells,
                    val_chroms=args.val_chroms, test_chroms=args.test_chroms,
                    element_features=args.features, model=conf.get("model", {}),
                    train=train, threads=args.threads, force=True, quiet=True))
            wall = time.perf_counter() - t0
            rows += evaluate_prism(run_dir, ds, fold, keys, args.draws, seed, args.strengths)
            if args.crossattn:
                ca_dir = out / f"run_{args.tag}_crossattn_{cell}_{seed}"
                if not (args.reuse and (ca_dir / "best.json").exists()):
                    run_training(TrainRequest(
                        data=args.data, out=str(ca_dir), cells=fold.training_cells,
                        val_chroms=args.val_chroms, test_chroms=args.test_chroms,
                        element_features=args.features,
                        model={**conf.get("model", {}), "arch": "crossattn"}, train=train,
                        threads=args.threads, force=True, quiet=True))
                rows += evaluate_crossattn(ca_dir, ds, fold, keys, args.draws, seed)
            frame = pd.DataFrame(rows)
            path = out / "results.tsv"
            # rows of earlier runs are kept; columns are the union (a later run may add one)
            done = pd.read_csv(path, sep="\t") if path.exists() else None
            pd.concat([done, frame], ignore_index=True).to_csv(
                path, sep="\t", index=False, float_format="%.4f")
            timing = pd.DataFrame([{**keys, "train_s": round(wall, 1),
                                    "machine": f"{platform.machine()} {args.threads} threads"}])
            tpath = out / "timing.tsv"
            timing.to_csv(tpath, sep="\t", index=False, mode="a", header=not tpath.exists())
            print(frame.to_string(index=False), flush=True)
            print(f"trained in {wall:.0f} s", flush=True)


def report(args) -> None:
    """Per held-out cell, mean over seeds: one column per method (variant, support), the
    table docs/benchmarks.md shows.  ``--metric aupr`` or ``auroc``; ``--both`` writes
    AUPR / AUROC in each cell."""
    frame = pd.concat([pd.read_csv(Path(o), sep="\t") if o.endswith(".tsv")
                       else pd.read_csv(Path(o) / "results.tsv", sep="\t")
                       for o in args.out_all], ignore_index=True)
    variant = frame["variant"] if "variant" in frame else pd.Series("", index=frame.index)
    variant = variant.fillna("").astype(str)
    support = frame["support"].astype(int).astype(str)
    frame["column"] = (frame["method"] + np.where(variant != "", " " + variant, "")
                       + np.where(frame["support"] > 0, " " + support, ""))
    order = list(dict.fromkeys(frame["column"]))
    # several model tags (e.g. a default and an ablation): one block of rows per tag; the
    # reference rows carry the tag of the run that computed them
    tags = frame["tag"].astype(str) if "tag" in frame else pd.Series("", index=frame.index)
    model_tags = list(dict.fromkeys(tags[frame["method"].isin(["prism", "crossattn"])]))
    frame["group"] = tags if len(model_tags) > 1 else ""
    cols = [c for c in args.columns if c in order] if args.columns else order
    mean = frame.groupby(["group", "held_out", "column"])[["aupr", "auroc"]].mean()
    seeds = frame.groupby(["group", "held_out"])["seed"].nunique()

    def cell(values) -> str:
        a, r = values
        return f"{a:.3f} / {r:.3f}" if args.both else f"{(a if args.metric == 'aupr' else r):.3f}"

    def row(name, table) -> str:
        return (f"| {name} | " + " | ".join(cell(table.loc[k]) if k in table.index else ""
                                           for k in cols))

    lines = ["| held-out | " + " | ".join(cols) + " | seeds |",
             "| --- |" + " ---: |" * (len(cols) + 1)]
    groups = list(dict.fromkeys(frame["group"]))
    for g in groups:
        for c in dict.fromkeys(frame.loc[frame["group"] == g, "held_out"]):
            lines.append(row(f"{c} {g}".strip(), mean.loc[(g, c)]) + f" | {seeds[(g, c)]} |")
    for g in groups:
        lines.append(row(f"mean {g}".strip(), mean.loc[g].groupby("column").mean()) + " | |")
    print("\n".join(lines))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data")
    ap.add_argument("--world", default=None, help="prism simulate folder (references)")
    ap.add_argument("--features", default="discover")
    ap.add_argument("--tag", default=None, help="run name (default: the features)")
    ap.add_argument("--held-out", type=lambda s: s.split(","), default=["CELL0"])
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0])
    ap.add_argument("--val-chroms", type=lambda s: s.split(","), default=["chr3"])
    ap.add_argument("--test-chroms", type=lambda s: s.split(","), default=["chr4"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--config", default=None, help='JSON {"model": {}, "train": {}}')
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--strengths", type=lambda s: [float(x) for x in s.split(",") if x],
                    default=[0.25, 1.0, 4.0, 16.0],
                    help="prior strengths tried on the training cells' validation chromosomes")
    ap.add_argument("--crossattn", action="store_true",
                    help="also train the crossattn baseline on each fold and fine-tune it "
                         "on the same supports")
    ap.add_argument("--reuse", action="store_true", help="evaluate an existing run again")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-references", dest="references", action="store_false")
    ap.add_argument("--report", dest="out_all", nargs="+", default=None,
                    help="OUT folders or results TSVs: print the per-cell table")
    ap.add_argument("--columns", type=lambda s: s.split(","), default=None,
                    help="with --report: the columns, in order (e.g. 'distance-lr,prism adapt 64')")
    ap.add_argument("--metric", choices=("aupr", "auroc"), default="aupr")
    ap.add_argument("--both", action="store_true", help="with --report: AUPR / AUROC")
    ap.add_argument("-o", "--out")
    args = ap.parse_args(argv)
    if args.out_all:
        return report(args)
    args.tag = args.tag or args.features.replace("table:", "table-").split("/")[0]
    run(args)


if __name__ == "__main__":
    main()
