"""The training loop behind ``prism train``: episodes -> losses -> validation -> checkpoints.

One process, or one process per GPU under ``torchrun`` (distributed.py).  The run is
built by setup.py, checkpointed by checkpointing.py and reported by report.py.

Run directory (RUN/):
    config.json        resolved model + train config, cells, splits, dataset
    log.jsonl          one JSON record per logged step ("kind": "step") and per epoch
                       ("kind": "epoch", with validation metrics)
    val.tsv            per epoch x cell validation metrics
    best.safetensors / best.json      checkpoint with the best validation mean AUPR
    last.safetensors / last.json      checkpoint at the end of the latest epoch
    last.state.pt      optimiser, RNG and competition state for --resume
"""

from __future__ import annotations

import contextlib
import math
import time

import torch

from .checkpointing import keep_last_as_best, save_epoch, saved_best_val
from .config import TrainConfig
from .distributed import barrier, param_checksums, setup_distributed
from .report import Reporter, append_jsonl, append_val_tsv, fmt_epoch, fmt_step
from .setup import RUN_EXISTS, Run, TrainRequest, prepare
from .validate import validate

__all__ = ["RUN_EXISTS", "TrainRequest", "run_training"]


def run_training(req: TrainRequest) -> dict:
    """Train; returns a summary dict (best epoch, best validation metrics, run dir)."""
    from ..predict.cache import resolve_device

    if req.threads:
        torch.set_num_threads(int(req.threads))
    rank, world, device = setup_distributed(resolve_device(req.device))
    reporter = Reporter(enabled=rank == 0 and not req.quiet, verbose=req.verbose)
    run = prepare(req, device, rank, world, reporter)
    _announce(run, reporter)
    p = run.progress
    last_val: dict = {}
    best_val: dict = {}
    reporter.start(run.total_steps, (p.start_epoch - 1) * run.steps_per_epoch)
    try:
        for epoch in range(p.start_epoch, run.tcfg.epochs + 1):
            means, seconds = _train_epoch(run, epoch, reporter)
            checksums = param_checksums(run.model, world)
            if run.is_main:
                last_val, improved = _end_epoch(run, epoch, means, seconds, checksums,
                                                reporter)
                best_val = last_val if improved else best_val
            barrier(world)
    finally:
        reporter.stop()
    if run.is_main:
        if keep_last_as_best(run.out):  # no finite validation score at all
            best_val, p.best_epoch = last_val, run.tcfg.epochs
        best_val = best_val or saved_best_val(run.out)
        reporter.table(best_val, f"validation (inference path), best epoch {p.best_epoch}")
        reporter.line(f"run directory: {run.out}  (best.safetensors = epoch {p.best_epoch})")
    return {"out": str(run.out), "best_epoch": p.best_epoch, "best_score": p.best_score,
            "best_val": best_val, "last_val": last_val, "model": run.model, "steps": p.step,
            "objective": run.objective}


def _lr_at(step: int, total: int, tcfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of lr."""
    if step < tcfg.warmup_steps:
        return tcfg.lr * (step + 1) / tcfg.warmup_steps
    frac = min(1.0, (step - tcfg.warmup_steps) / max(1, total - tcfg.warmup_steps))
    return tcfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _announce(run: Run, reporter: Reporter) -> None:
    """The run's first lines: features, cells, splits, size, device; unvalidated cells."""
    if not run.is_main:
        return
    reporter.line(f"element features: {run.stage.describe()}")
    splits = run.config["splits"]
    reporter.line(f"prism train: {len(run.cells)} training cells ({','.join(run.cells)}), "
                  f"val chroms {','.join(splits['val'])}, test chroms "
                  f"{','.join(splits['test']) or '-'} (never used), "
                  f"{run.n_train_pairs} training pairs, {run.steps_per_epoch} steps/epoch, "
                  f"device {run.device}{' x' + str(run.world) if run.world > 1 else ''}")
    for vc in run.plan:
        if len(vc.query) == 0:
            reporter.warn(f"cell {vc.name} has no labelled pairs on the validation "
                          "chromosomes: it is not validated")


def _train_epoch(run: Run, epoch: int, reporter: Reporter) -> tuple[dict, float]:
    """One epoch of optimiser steps; (mean of each loss term, seconds).  Logs every
    ``log_every`` steps to RUN/log.jsonl ("kind": "step")."""
    tcfg, p = run.tcfg, run.progress
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if run.req.amp else \
        contextlib.nullcontext
    run.objective.train()
    sums: dict[str, float] = {}
    interval: dict[str, float] = {}
    n_int, pairs_int, t_int = 0, 0, time.perf_counter()
    t_epoch = time.perf_counter()
    for _ in range(run.steps_per_epoch):
        lr = _lr_at(p.step, run.total_steps, tcfg)
        for g in run.optimizer.param_groups:
            g["lr"] = lr
        batch = run.builder.build(run.sampler.sample(tcfg.batch_episodes),
                                  with_support=run.model.has_environment).to(run.device)
        with amp():
            loss, stats = run.module(batch)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), tcfg.grad_clip)
        run.optimizer.step()
        p.step += 1
        vals = {k: float(v) for k, v in stats.items()}
        if not math.isfinite(vals["loss"]):
            raise RuntimeError(f"non-finite training loss at step {p.step}")
        for k, v in vals.items():
            sums[k] = sums.get(k, 0.0) + v
            interval[k] = interval.get(k, 0.0) + v
        n_int += 1
        pairs_int += batch.n_pairs
        reporter.step(" ".join(f"{k} {vals[k]:.3f}" for k in
                               ("loss", "main", "rho", "push", "pull") if k in vals))
        if run.is_main and (p.step % tcfg.log_every == 0):
            dt = time.perf_counter() - t_int
            rec = {"kind": "step", "epoch": epoch, "step": p.step, "lr": lr,
                   **{k: v / n_int for k, v in interval.items()},
                   "pairs_per_s": pairs_int * run.world / max(dt, 1e-9)}
            append_jsonl(run.out / "log.jsonl", rec)
            if reporter.verbose:
                reporter.line(fmt_step(rec))
            interval, n_int, pairs_int, t_int = {}, 0, 0, time.perf_counter()
    means = {k: v / run.steps_per_epoch for k, v in sums.items()}
    return means, time.perf_counter() - t_epoch


def _end_epoch(run: Run, epoch: int, train_means: dict, seconds: float,
               checksums: list[float], reporter: Reporter) -> tuple[dict, bool]:
    """Rank 0 after an epoch: validate, log (log.jsonl, val.tsv, console), checkpoint;
    (validation metrics, whether they are the best so far)."""
    tcfg, p = run.tcfg, run.progress
    val = validate(run.model, run.arrays, run.plan, tcfg.support_sizes, tcfg.val_episodes,
                   seed=tcfg.seed)
    score = val["mean_aupr"]
    improved = math.isfinite(score) and score > p.best_score
    if improved:
        p.best_score, p.best_epoch = score, epoch
    rho = dict(zip(run.cells, run.objective.rho.detach().cpu().tolist()))
    rec = {"kind": "epoch", "epoch": epoch, "step": p.step, "time_s": seconds,
           "train": train_means, "rho_per_cell": rho, "val": val, "best": improved}
    if run.world > 1:
        rec["ddp_param_checksums"] = checksums
    append_jsonl(run.out / "log.jsonl", rec)
    append_val_tsv(run.out / "val.tsv", epoch, val, rho)
    reporter.line(fmt_epoch(epoch, tcfg.epochs, train_means, val, improved))
    for name, why in val["collapse"].items():
        reporter.warn(f"epoch {epoch}: validation predictions for {name} look "
                      f"COLLAPSED: {why}")
    save_epoch(run, p, epoch, val, improved)
    return val, improved
