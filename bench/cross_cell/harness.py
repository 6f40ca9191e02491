"""Cross-cell benchmark: leave-one-cell-out x chromosome split (DESIGN §3).

    python -m bench.cross_cell run    --dataset sim|real|real-full --mode cpu|full -o OUT
    python -m bench.cross_cell report -o OUT [OUT2 ...] [--markdown FILE] [--plot PNG]
    python -m bench.cross_cell export -o OUT --to bench/results/cross_cell/NAME

`run` prepares the data (`prism simulate` / `prism extract`), then for each held-out cell
(and seed) fits every method on the SAME split and writes one TSV of metrics per task
under OUT/tasks/ (resumable: finished tasks are skipped), then OUT/results.tsv (their
concatenation, for convenience). `report` renders the markdown tables and the
learning-curve plot from OUT/tasks/ alone, so the docs can be regenerated without
retraining; `export` copies the task records (not results.tsv) into the repository.

The run measures the code of the checkout it runs from: in-process imports and every
`prism` call (PYTHONPATH = this checkout) use the same prism_cli, and a task whose
prism_cli changed while it ran is marked failed (code digest before and after).  To
measure a fixed commit while editing the working tree, run from a worktree of it:

    git worktree add /tmp/prism_bench COMMIT && cd /tmp/prism_bench
    python -m bench.cross_cell run ... -o OUT

Methods (docs/cross_cell.md has the protocol and the reasons):

  distance-lr        logistic regression on [log10 d, (log10 d)^2]
  kmer-lr            canonical k-mer frequencies of both windows, k in 3..6 and C chosen
                     on the training cells' validation chromosomes
  kmer+dist-lr       the same plus the distance features
  crossattn          `prism train --arch crossattn` on the training cells (zero-shot)
  crossattn-ft       the same fine-tuned on the support set (16/64/256): the standard
                     few-shot baseline (bench/cross_cell/finetune.py; not a PRISM feature)
  prism zero-shot    `prism score --zero-shot` (the average training environment)
  prism adapt        `prism adapt` on the support set (16/64/256) + `prism score`
  prism nearest      `prism score -c NEAREST`: the teacher environment of the training cell
                     nearest to the adapted environment (nearest_cells[0] of the 64-pair
                     adapt record)
  ablations          prism with one switch off (adversary, distill, opportunist,
                     stop_gradient, prototype_map), evaluated like prism
  (sim only)         oracle (true p), mean-env reference (U - mean R of the training
                     cells), U alone, from truth.tsv over the same query pairs
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from prism_cli.metrics import best_f1_threshold, group_metrics

from . import cli
from .split import SUPPORT_SIZES, make_fold, window_hashes

DEFAULT_DATA_DIR = Path("/work/shared/data")
ABLATIONS = ("adversary", "distill", "opportunist", "stop_gradient", "prototype_map")
RESULT_COLUMNS = ["dataset", "held_out", "seed", "model", "variant", "mode", "support",
                  "n", "positives", "prevalence", "aupr", "aupr_balanced", "auroc", "brier",
                  "threshold", "f1_at_t", "best_f1", "threshold_rule"]

# --------------------------------------------------------------------------- settings

DATASETS = {
    "sim": {"val": ["chr3"], "test": ["chr4"], "windows": (500, 500, "center", "center")},
    "real": {"val": ["chr5", "chr6"], "test": ["chr1", "chr2", "chr3", "chr4"],
             "windows": (200, 200, "start", "start"), "bedpe": "targetfinder_w200.bedpe"},
    "real-full": {"val": ["chr5", "chr6"], "test": ["chr1", "chr2", "chr3", "chr4"],
                  "windows": (500, 1000, "center", "center"),
                  "bedpe": "targetfinder_full.bedpe"},
}

# CPU mode: a small model and short training so that one dataset finishes in about
# 30 minutes on 2 cores (one training process, --threads 1); every setting it does not
# name is the product default.  Full mode: the defaults of ModelConfig / TrainConfig
# (prism_cli/model/config.py, prism_cli/train/config.py).  (The stored CPU-mode rows of
# 2026-11-27 were made with "pretrain_steps": 200 in the CPU mode; docs/benchmarks.md.)
SMALL_MODEL = {"channels": 32, "d_model": 32, "dilations": [2], "d_z": 32,
               "student_hidden": 32, "d_f": 16, "d_env": 16}
MODES = {
    "cpu": {"held_out": {"sim": ["CELL0"], "real": ["K562"], "real-full": ["K562"]},
            "seeds": [0, 1, 2], "ablation_seeds": [0],
            "model": SMALL_MODEL,
            "train": {"epochs": 6, "steps_per_epoch": 40, "batch_episodes": 4,
                      "query_size": 64, "warmup_steps": 20, "val_episodes": 8,
                      "val_max_pairs": 1000, "log_every": 40},
            "kmer_sizes": [3, 4, 5, 6], "finetune": {"epochs": 20, "max_steps": 200},
            "jobs": 2, "threads": 1},
    "full": {"held_out": {}, "seeds": [0, 1, 2], "ablation_seeds": [0, 1, 2],
             "model": {}, "train": {},
             "kmer_sizes": [3, 4, 5, 6], "finetune": {"epochs": 20, "max_steps": 200},
             "jobs": 4, "threads": 4},
}
# medium: CPU mode's cells, seeds and processes with the default model, 5 epochs, on a
# world large enough to learn motifs from (run with --sim-genome-size 20000000
# --sim-pairs 100000): 53-57 minutes on 2 CPU cores for one held-out cell
MODES["medium"] = {**MODES["cpu"], "model": {}, "train": {"epochs": 5, "log_every": 40}}


# --------------------------------------------------------------------------- data

def prepare_data(dataset: str, out: Path, data_dir: Path, log: Path, sim_seed: int = 0,
                 sim_pairs: int | None = None, sim_genome_size: int | None = None) -> dict:
    """Build (or reuse) OUT/data and return {"data", "fasta", "world"}."""
    spec = DATASETS[dataset]
    le, lp, ae, ap = spec["windows"]
    data = out / "data"
    world = None
    if dataset == "sim":
        world = out / "world"
        fasta = world / "genome.fa"
        bedpe = world / "pairs.bedpe"
        if not (world / "truth.tsv").exists():
            args = ["simulate", "-o", world, "--seed", sim_seed, "--force"]
            if sim_pairs:
                args += ["--pairs", sim_pairs]
            if sim_genome_size:
                args += ["--genome-size", sim_genome_size]
            cli.run_prism(args, log)
    else:
        fasta = data_dir / "hg19_sparse.fa.gz"
        bedpe = data_dir / spec["bedpe"]
        for p in (fasta, bedpe):
            if not p.exists():
                raise SystemExit(f"{p}: not found (give --data-dir)")
    if not (data / "manifest.json").exists():
        cli.run_prism(["extract", "-g", fasta, "-p", bedpe, "--enhancer-length", le,
                       "--promoter-length", lp, "--enhancer-anchor", ae, "--promoter-anchor",
                       ap, "-o", data, "--force"], log)
    return {"data": data, "fasta": fasta, "world": world}


def sim_truth(world: Path, pairs: pd.DataFrame) -> pd.DataFrame:
    """truth.tsv rows aligned with the dataset's pairs (joined on name and cell)."""
    truth = pd.read_csv(world / "truth.tsv", sep="\t", dtype={"name": str, "cell": str})
    key = pairs[["name", "cell"]].astype(str)
    merged = key.merge(truth, on=["name", "cell"], how="left", validate="one_to_one")
    if merged["p"].isna().any():
        raise RuntimeError("truth.tsv does not cover every dataset pair")
    return merged


# --------------------------------------------------------------------------- metrics

def metric_row(y, s, threshold=None, **keys) -> dict:
    """Result row: the keys + prism_cli.evaluate.group_metrics of (y, s, threshold)."""
    m = group_metrics(np.asarray(y), np.asarray(s, dtype=np.float64),
                      None if threshold is None or not math.isfinite(threshold) else threshold)
    row = {k: keys.get(k) for k in ("dataset", "held_out", "seed", "model", "variant", "mode",
                                    "support", "threshold_rule")}
    for k in ("n", "positives", "prevalence", "aupr", "aupr_balanced", "auroc", "brier",
              "f1_at_t", "best_f1"):
        row[k] = m[k]
    row["threshold"] = threshold
    return row


def support_threshold(y, s) -> float:
    """F1-best threshold of a method's scores on a support set (no query label used)."""
    t, _ = best_f1_threshold(np.asarray(y), np.asarray(s, dtype=np.float64))
    return t


# --------------------------------------------------------------------------- tasks

class Context:
    """Everything a task needs: dataset, folds, settings, output folders."""

    def __init__(self, args, prepared: dict):
        from prism_cli.dataset import PairDataset

        self.args = args
        self.dataset = args.dataset
        self.out = Path(args.out)
        self.data = Path(prepared["data"])
        self.fasta = Path(prepared["fasta"])
        self.world = prepared["world"]
        self.ds = PairDataset(self.data)
        self.pairs = self.ds.pairs
        self.labels = self.pairs["label"].to_numpy().astype(np.int64)
        spec = DATASETS[self.dataset]
        self.val_chroms, self.test_chroms = spec["val"], spec["test"]
        self.mode = MODES[args.mode]
        self.enh_hash = window_hashes(self.ds.enhancers)
        self.prom_hash = window_hashes(self.ds.promoters)
        self.folds: dict[tuple[str, int], object] = {}
        self.lock = threading.Lock()
        self.truth = sim_truth(Path(self.world), self.pairs) if self.world else None
        self.threads = args.threads or self.mode["threads"]
        self.device = args.device
        import torch
        torch.set_num_threads(self.threads)  # the in-process fine-tuning baseline

    def fold(self, cell: str, seed: int):
        key = (cell, seed)
        with self.lock:
            if key not in self.folds:
                self.folds[key] = make_fold(self.pairs, cell, self.val_chroms,
                                            self.test_chroms, self.enh_hash, self.prom_hash,
                                            SUPPORT_SIZES, seed=seed)
            return self.folds[key]

    def train_config(self, variant: str) -> dict:
        """The --config JSON of `prism train`: the mode's overrides (keys the installed
        ModelConfig / TrainConfig do not know are dropped, so the benchmark survives
        renamed options) plus the ablation switch."""
        import dataclasses

        from prism_cli.model.config import ModelConfig
        from prism_cli.train.config import TrainConfig

        model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
        train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
        model = {k: v for k, v in self.mode["model"].items() if k in model_keys}
        if variant != "full":
            switch = variant.removeprefix("no-").replace("-", "_")
            if switch not in model_keys:
                raise ValueError(f"ModelConfig has no switch {switch!r}")
            model[switch] = False
        train = {k: v for k, v in self.mode["train"].items() if k in train_keys}
        if self.args.epochs:
            train["epochs"] = self.args.epochs
        return {"model": model, "train": train}

    def keys(self, cell, seed, **kw) -> dict:
        return {"dataset": self.dataset, "held_out": cell, "seed": seed, **kw}


def task_references(ctx: Context, cell: str, seeds: list[int]) -> tuple[list[dict], dict]:
    """Sim only: oracle p, mean-env reference (U - mean R over the training cells) and U
    alone, over the held-out cell's query pairs.  truth.tsv's R_mean_other is the mean R
    over every other cell, which is exactly the training cells in leave-one-cell-out."""
    fold = ctx.fold(cell, seeds[0])
    t = ctx.truth.iloc[fold.query]
    y = ctx.labels[fold.query]
    rows = []
    for seed in seeds:
        f = ctx.fold(cell, seed)
        ts = ctx.truth.iloc[f.supports[64]]
        ys = ctx.labels[f.supports[64]]
        for variant, s_query, s_sup in (
                ("oracle", t["p"], ts["p"]),
                ("mean-env", t["U"] - t["R_mean_other"], ts["U"] - ts["R_mean_other"]),
                ("U-alone", t["U"], ts["U"])):
            rows.append(metric_row(y, s_query, support_threshold(ys, s_sup),
                                   **ctx.keys(cell, seed, model="truth", variant=variant,
                                              mode="reference", support=0,
                                              threshold_rule="F1-best on support-64")))
    return rows, {"fold": fold.summary()}


def task_linear(ctx: Context, cell: str, seeds: list[int]) -> tuple[list[dict], dict]:
    """distance-lr, kmer-lr, kmer+dist-lr: fitted once per held-out cell (deterministic);
    the F1 threshold is chosen on each seed's 64-pair support set."""
    from .baselines import PairFeatures, fit_selected

    fold = ctx.fold(cell, seeds[0])
    feats = PairFeatures(ctx.ds.enhancers, ctx.ds.promoters, ctx.pairs["enh_idx"].to_numpy(),
                         ctx.pairs["prom_idx"].to_numpy(), ctx.ds.log_distance())
    cells = ctx.pairs["cell"].to_numpy()
    ks = ctx.args.kmer_sizes or ctx.mode["kmer_sizes"]
    fits = {
        "distance-lr": fit_selected("distance-lr", feats, ctx.labels, cells, fold.train,
                                    fold.val, [None], True, c_grid=(1.0,)),
        "kmer-lr": fit_selected("kmer-lr", feats, ctx.labels, cells, fold.train, fold.val,
                                ks, False),
    }
    best_k = fits["kmer-lr"].k
    fits["kmer+dist-lr"] = fit_selected("kmer+dist-lr", feats, ctx.labels, cells, fold.train,
                                        fold.val, [best_k], True)
    rows, info = [], {"selection": {}}
    y = ctx.labels[fold.query]
    for name, fit in fits.items():
        info["selection"][name] = {"k": fit.k, "C": fit.C, "tried": fit.selection}
        s_query = fit.model.predict_proba(feats.matrix(fold.query, fit.k, fit.distance))[:, 1]
        for seed in seeds:
            sup = ctx.fold(cell, seed).supports[64]
            s_sup = fit.model.predict_proba(feats.matrix(sup, fit.k, fit.distance))[:, 1]
            rows.append(metric_row(y, s_query, support_threshold(ctx.labels[sup], s_sup),
                                   **ctx.keys(cell, seed, model=name, variant=f"k={fit.k}"
                                              if fit.k else "-", mode="fit", support=0,
                                              threshold_rule="F1-best on support-64")))
    return rows, info


def _train_info(run: Path) -> dict:
    """Best epoch, validation AUPR, collapse flags and competition statistics of a run."""
    info = {}
    try:
        meta = json.loads((run / "best.json").read_text())
        info["best_epoch"] = meta.get("epoch")
        info["val_mean_aupr"] = meta.get("val", {}).get("mean_aupr")
        info["val_mean_prevalence"] = meta.get("val", {}).get("mean_prevalence")
        epochs = [json.loads(line) for line in open(run / "log.jsonl")
                  if '"kind": "epoch"' in line]
        info["epochs"] = len(epochs)
        info["collapse_last_epoch"] = sorted(epochs[-1]["val"].get("collapse", {})) \
            if epochs else []
        keys = ("main", "teacher", "distill", "adversary", "opportunist", "rho", "push",
                "pull", "T")
        info["train_last_epoch"] = {k: epochs[-1]["train"].get(k) for k in keys
                                    if k in epochs[-1]["train"]} if epochs else {}
    except (OSError, ValueError, KeyError) as err:
        info["error"] = repr(err)
    return info


def task_crossattn(ctx: Context, cell: str, seed: int) -> tuple[list[dict], dict]:
    """crossattn trained on the training cells; zero-shot and fine-tuned on the support."""
    from .finetune import finetuned_scores

    fold = ctx.fold(cell, seed)
    work = ctx.out / "runs" / f"{cell}.s{seed}.crossattn"
    log = work.parent / f"{work.name}.log"
    t_train = cli.train(ctx.data, fold.training_cells, ctx.val_chroms, ctx.test_chroms,
                        "crossattn", ctx.train_config("full"), seed, work, log, ctx.threads,
                        ctx.device)
    y = ctx.labels[fold.query]
    sup64 = fold.supports[64]
    # zero-shot through `prism score` (the product path)
    bed = cli.concat_bedpe([
        cli.write_bedpe(ctx.pairs, fold.query, work / "q.bedpe", cell=".",
                        extra={"part": "query"}),
        cli.write_bedpe(ctx.pairs, sup64, work / "s.bedpe", cell=".",
                        extra={"part": "support"})], work / "score_in.bedpe")
    scored = cli.score(work, bed, ctx.fasta, work / "scored.bedpe", log, None, ctx.threads,
                       ctx.device)
    q = scored[scored["part"] == "query"].set_index("row").loc[fold.query]
    s = scored[scored["part"] == "support"].set_index("row").loc[sup64]
    rows = [metric_row(y, q["prob"], support_threshold(ctx.labels[sup64], s["prob"]),
                       **ctx.keys(cell, seed, model="crossattn", variant="full",
                                  mode="zero-shot", support=0,
                                  threshold_rule="F1-best on support-64"))]
    info = {"train_seconds": t_train, "train": _train_info(work), "finetune": {}}
    for n in SUPPORT_SIZES:
        sup = fold.supports[n]
        t0 = time.perf_counter()
        ft = finetuned_scores(str(work), ctx.ds, sup, fold.query, seed=seed,
                              device=ctx.device, **ctx.mode["finetune"])
        info["finetune"][n] = {"steps": ft["steps"], "final_loss": ft["final_loss"],
                               "seconds": time.perf_counter() - t0, "support": len(sup)}
        rows.append(metric_row(y, ft["query"], support_threshold(ctx.labels[sup],
                                                                 ft["support"]),
                               **ctx.keys(cell, seed, model="crossattn", variant="full",
                                          mode="finetune", support=n,
                                          threshold_rule="F1-best on support (in-sample)")))
    return rows, info


def task_prism(ctx: Context, cell: str, seed: int, variant: str) -> tuple[list[dict], dict]:
    """PRISM (or an ablation) trained on the training cells; zero-shot, adapted with
    16/64/256 support pairs, and scored in the nearest training cell's teacher
    environment; all through the command line."""
    fold = ctx.fold(cell, seed)
    work = ctx.out / "runs" / f"{cell}.s{seed}.prism-{variant}"
    log = work.parent / f"{work.name}.log"
    t_train = cli.train(ctx.data, fold.training_cells, ctx.val_chroms, ctx.test_chroms,
                        "prism", ctx.train_config(variant), seed, work, log, ctx.threads,
                        ctx.device)
    registry = work / "bench_cells"
    if registry.exists():
        shutil.rmtree(registry)
    info = {"train_seconds": t_train, "train": _train_info(work), "adapt": {}}
    names = {}
    for n in SUPPORT_SIZES:
        sup = fold.supports[n]
        name = f"heldout.{cell}.n{n}"
        path = cli.write_bedpe(ctx.pairs, sup, work / f"support{n}.bedpe", cell=name)
        t0 = time.perf_counter()
        rec = cli.adapt(work, path, ctx.fasta, name, registry, seed, log, ctx.threads,
                        ctx.device)
        names[n] = name
        info["adapt"][n] = {"seconds": time.perf_counter() - t0, "threshold": rec["threshold"],
                            "nearest_cells": rec.get("nearest_cells"),
                            "spread": rec.get("spread"), "cross_fit": rec.get("cross_fit"),
                            "pi": rec.get("pi"), "support": rec.get("support")}
    nearest = info["adapt"][64]["nearest_cells"][0]["cell"]
    info["nearest_cell"] = nearest
    sup64 = fold.supports[64]
    parts = [cli.write_bedpe(ctx.pairs, fold.query, work / "q_zero.bedpe", cell=".",
                             extra={"part": "query", "variant": "zero-shot"}),
             cli.write_bedpe(ctx.pairs, fold.query, work / "q_near.bedpe", cell=nearest,
                             extra={"part": "query", "variant": "nearest"}),
             cli.write_bedpe(ctx.pairs, sup64, work / "s_zero.bedpe", cell=".",
                             extra={"part": "support", "variant": "zero-shot"}),
             cli.write_bedpe(ctx.pairs, sup64, work / "s_near.bedpe", cell=nearest,
                             extra={"part": "support", "variant": "nearest"})]
    for n, name in names.items():
        parts.append(cli.write_bedpe(ctx.pairs, fold.query, work / f"q_n{n}.bedpe", cell=name,
                                     extra={"part": "query", "variant": f"adapt{n}"}))
    bed = cli.concat_bedpe(parts, work / "score_in.bedpe")
    t0 = time.perf_counter()
    scored = cli.score(work, bed, ctx.fasta, work / "scored.bedpe", log, registry,
                       ctx.threads, ctx.device)
    info["score_seconds"] = time.perf_counter() - t0
    y = ctx.labels[fold.query]

    def pick(part, var, rows):
        sel = scored[(scored["part"] == part) & (scored["variant"] == var)]
        return sel.set_index("row").loc[rows]

    out = []
    for var, mode in (("zero-shot", "zero-shot"), ("nearest", "nearest-teacher")):
        q, s = pick("query", var, fold.query), pick("support", var, sup64)
        out.append(metric_row(y, q["prob"], support_threshold(ctx.labels[sup64], s["prob"]),
                              **ctx.keys(cell, seed, model="prism", variant=variant,
                                         mode=mode, support=0 if var == "zero-shot" else 64,
                                         threshold_rule="F1-best on support-64")))
    for n in SUPPORT_SIZES:
        q = pick("query", f"adapt{n}", fold.query)
        out.append(metric_row(y, q["prob"], info["adapt"][n]["threshold"],
                              **ctx.keys(cell, seed, model="prism", variant=variant,
                                         mode="adapt", support=n,
                                         threshold_rule="adapt's cross-fit threshold")))
    # U_I of the adapted scoring equals zero-shot U_I: a check that the paths agree
    q0 = pick("query", "zero-shot", fold.query)
    q64 = pick("query", "adapt64", fold.query)
    info["U_I_paths_agree"] = bool(np.allclose(q0["U_I"], q64["U_I"], atol=1e-5))
    info["R_sd_adapt64"] = float(np.std(q64["R"]))
    return out, info


# --------------------------------------------------------------------------- driver

def plan_tasks(ctx: Context, methods: list[str]) -> list[tuple[str, tuple]]:
    """(task id, (function, args)) in the order they run."""
    mode = ctx.mode
    cells = ctx.args.cells or mode["held_out"].get(ctx.dataset) or \
        sorted(set(ctx.pairs.loc[ctx.labels >= 0, "cell"]) - {"."})
    seeds = ctx.args.seeds if ctx.args.seeds is not None else mode["seeds"]
    abl_seeds = ctx.args.ablation_seeds if ctx.args.ablation_seeds is not None \
        else mode["ablation_seeds"]
    tasks = []
    for cell in cells:
        if ctx.world and "references" in methods:
            tasks.append((f"{cell}.references", (task_references, (ctx, cell, seeds))))
        if "linear" in methods:
            tasks.append((f"{cell}.linear", (task_linear, (ctx, cell, seeds))))
    for seed in seeds:
        for cell in cells:
            if "prism" in methods:
                tasks.append((f"{cell}.s{seed}.prism-full",
                              (task_prism, (ctx, cell, seed, "full"))))
            if "crossattn" in methods:
                tasks.append((f"{cell}.s{seed}.crossattn", (task_crossattn, (ctx, cell, seed))))
    if "ablations" in methods:
        for seed in abl_seeds:
            for cell in cells:
                for a in (ctx.args.ablations or ABLATIONS):
                    v = "no-" + a.replace("_", "-")
                    tasks.append((f"{cell}.s{seed}.prism-{v}",
                                  (task_prism, (ctx, cell, seed, v))))
    return tasks


def run_task(ctx: Context, task_id: str, fn, args) -> str:
    tasks_dir = ctx.out / "tasks"
    done = tasks_dir / f"{task_id}.tsv"
    if done.exists() and not ctx.args.redo:
        return f"{task_id}: done before, skipped"
    t0 = time.perf_counter()
    digest = code_digest()
    try:
        rows, info = fn(*args)
    except Exception as err:  # keep going: a failed task is reported, not fatal
        (tasks_dir / f"{task_id}.error").write_text(traceback.format_exc())
        return f"{task_id}: FAILED ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
    info["task_seconds"] = time.perf_counter() - t0
    info["code_digest"] = digest
    if code_digest() != digest:   # prism_cli changed while the task ran: do not trust it
        (tasks_dir / f"{task_id}.error").write_text(
            f"prism_cli or bench code changed during the task ({digest} -> {code_digest()}); "
            "rerun it\n")
        return f"{task_id}: FAILED (code changed while it ran)"
    (tasks_dir / f"{task_id}.json").write_text(json.dumps(info, indent=1, default=float))
    table = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    tmp = done.with_suffix(".tmp")
    table.to_csv(tmp, sep="\t", index=False)
    os.replace(tmp, done)
    err_file = tasks_dir / f"{task_id}.error"
    if err_file.exists():
        err_file.unlink()
    return f"{task_id}: {info['task_seconds']:.0f} s"


def collect(out: Path) -> pd.DataFrame:
    """All task tables of OUT/tasks as one results table (also written to results.tsv)."""
    frames = [pd.read_csv(p, sep="\t") for p in sorted((out / "tasks").glob("*.tsv"))]
    table = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=RESULT_COLUMNS)
    table.to_csv(out / "results.tsv", sep="\t", index=False)
    return table


def code_digest(root: Path = cli.REPO) -> str:
    """sha256 over ROOT/prism_cli/**/*.py (default: this checkout's, the code the run
    measures): which PRISM code made a result."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted((root / "prism_cli").rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cmd_run(args) -> None:
    out = Path(args.out)
    (out / "tasks").mkdir(parents=True, exist_ok=True)
    log = out / "commands.log"
    started = time.perf_counter()
    prepared = prepare_data(args.dataset, out, Path(args.data_dir), log,
                            sim_pairs=args.sim_pairs, sim_genome_size=args.sim_genome_size)
    ctx = Context(args, prepared)
    methods = args.methods.split(",")
    tasks = plan_tasks(ctx, methods)
    run_meta = {"dataset": args.dataset, "mode": args.mode, "argv": sys.argv,
                "started": _dt.datetime.now().isoformat(timespec="seconds"),
                "machine": f"{platform.node()} {os.cpu_count()} cpus, "
                           f"{platform.python_version()}",
                "code_digest": code_digest(),
                "val_chroms": ctx.val_chroms, "test_chroms": ctx.test_chroms,
                "settings": {k: v for k, v in ctx.mode.items() if k != "held_out"},
                "tasks": [t for t, _ in tasks]}
    try:
        import torch
        run_meta["torch"] = torch.__version__
        run_meta["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    print(f"{len(tasks)} tasks -> {out}", flush=True)
    jobs = args.jobs or ctx.mode["jobs"]
    if jobs <= 1:
        for task_id, (fn, fargs) in tasks:
            print(f"[{_dt.datetime.now():%H:%M:%S}] {run_task(ctx, task_id, fn, fargs)}",
                  flush=True)
    else:
        with ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(run_task, ctx, t, fn, fa) for t, (fn, fa) in tasks]
            for fut in as_completed(futures):
                print(f"[{_dt.datetime.now():%H:%M:%S}] {fut.result()}", flush=True)
    run_meta["finished"] = _dt.datetime.now().isoformat(timespec="seconds")
    run_meta["wall_seconds"] = time.perf_counter() - started
    folds = {c: ctx.fold(c, s).summary() for (c, s) in sorted(ctx.folds) if s == min(
        s2 for (c2, s2) in ctx.folds if c2 == c)}
    run_meta["folds"] = folds
    history = out / "run_meta.json"
    previous = json.loads(history.read_text()) if history.exists() else []
    previous = previous if isinstance(previous, list) else [previous]
    history.write_text(json.dumps(previous + [run_meta], indent=1, default=str))
    table = collect(out)
    print(f"{len(table)} result rows -> {out / 'results.tsv'} "
          f"({run_meta['wall_seconds'] / 60:.1f} min)")


def cmd_report(args) -> None:
    from .report import render

    text = render([Path(p) for p in args.out], plot=args.plot)
    if args.markdown:
        Path(args.markdown).write_text(text)
    else:
        print(text)


def cmd_export(args) -> None:
    """Copy the light result files (no sequence data) of OUT into DEST, for the repo:
    run_meta.json and the task records; not results.tsv, which is their concatenation."""
    out, dest = Path(args.out), Path(args.to)
    (dest / "tasks").mkdir(parents=True, exist_ok=True)
    if (out / "run_meta.json").exists():
        shutil.copyfile(out / "run_meta.json", dest / "run_meta.json")
    for p in (out / "tasks").iterdir():
        if p.suffix in (".tsv", ".json", ".error"):
            shutil.copyfile(p, dest / "tasks" / p.name)
    print(f"{out} -> {dest}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="prepare data, fit every method, write results")
    run.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    run.add_argument("--mode", choices=sorted(MODES), default="cpu")
    run.add_argument("-o", "--out", required=True)
    run.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                     help="folder with hg19_sparse.fa.gz and the TargetFinder BEDPEs")
    run.add_argument("--cells", type=lambda s: s.split(","), default=None,
                     help="held-out cells (default: the mode's; full mode: every cell)")
    run.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=None)
    run.add_argument("--ablation-seeds", type=lambda s: [int(x) for x in s.split(",") if x],
                     default=None)
    run.add_argument("--methods", default="references,linear,prism,crossattn,ablations",
                     help="comma-separated subset of references,linear,prism,crossattn,"
                          "ablations")
    run.add_argument("--ablations", type=lambda s: [x.strip() for x in s.split(",") if x],
                     default=None, help="ModelConfig switches to turn off one at a time "
                                        f"(default: {','.join(ABLATIONS)})")
    run.add_argument("--epochs", type=int, default=None, help="override the mode's epochs")
    run.add_argument("--jobs", type=int, default=None, help="tasks run in parallel")
    run.add_argument("--threads", type=int, default=None, help="torch threads per process")
    run.add_argument("--device", default="auto")
    run.add_argument("--sim-pairs", type=int, default=None,
                     help="`prism simulate --pairs` (default: its default, 20000)")
    run.add_argument("--sim-genome-size", type=int, default=None,
                     help="`prism simulate --genome-size` (default: its default)")
    run.add_argument("--kmer-sizes", type=lambda s: [int(x) for x in s.split(",")],
                     default=None, help="k values the k-mer baseline chooses from")
    run.add_argument("--redo", action="store_true", help="rerun tasks that finished before")
    run.set_defaults(func=cmd_run)
    rep = sub.add_parser("report", help="markdown tables (+ plot) from the task records")
    rep.add_argument("-o", "--out", nargs="+", required=True, help="result folder(s)")
    rep.add_argument("--markdown", default=None, help="write the markdown here")
    rep.add_argument("--plot", default=None, help="learning-curve PNG")
    rep.set_defaults(func=cmd_report)
    exp = sub.add_parser("export", help="copy run_meta.json and the task records (no "
                                        "sequences) to another folder")
    exp.add_argument("-o", "--out", required=True)
    exp.add_argument("--to", required=True)
    exp.set_defaults(func=cmd_export)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
