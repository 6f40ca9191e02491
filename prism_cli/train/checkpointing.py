"""A run's checkpoints: RUN/best and RUN/last (safetensors + JSON metadata) and
RUN/last.state.pt (optimiser, RNG and competition state), written at the end of each
epoch and read back by ``--resume``."""

from __future__ import annotations

import datetime as _dt
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import load_train_state, read_meta, save_checkpoint, save_train_state


@dataclass
class Progress:
    """Where the run stands: the next epoch, steps taken, best validation score so far."""

    start_epoch: int = 1
    step: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0


def restore(run) -> Progress:
    """--resume: load RUN/last into ``run``'s model, optimiser, competition state, torch
    RNG, episode sampler and batch builder; the progress to continue from."""
    from safetensors.torch import load_file

    out = run.out
    meta = read_meta(out / "last")
    run.model.load_state_dict(load_file(str(out / "last.safetensors"), device="cpu"))
    state = load_train_state(out / "last.state.pt")
    run.optimizer.load_state_dict(state["optimizer"])
    run.objective.rho.copy_(state["rho"])
    run.objective.rho_seen.copy_(state["rho_seen"])
    torch.set_rng_state(state["torch_rng"])
    r = meta["resume"]
    run.sampler.set_state(r["sampler"])
    run.builder.set_state(r["builder"])
    return Progress(r["epoch"] + 1, r["step"], r["best_score"], r["best_epoch"])


def save_epoch(run, progress: Progress, epoch: int, val: dict, improved: bool) -> None:
    """RUN/best (when ``improved``), RUN/last with its resume record, RUN/last.state.pt."""
    meta = _meta(run.model, run.config, run.cells, run.val_cells, epoch, progress.step, val,
                 run.tcfg)
    if improved:
        save_checkpoint(run.out / "best", run.model, meta)
    meta["resume"] = {"epoch": epoch, "step": progress.step, "sampler": run.sampler.state(),
                      "builder": run.builder.state(), "best_score": progress.best_score,
                      "best_epoch": progress.best_epoch}
    save_checkpoint(run.out / "last", run.model, meta)
    save_train_state(run.out / "last.state.pt", {
        "optimizer": run.optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
        "rho": run.objective.rho.detach().cpu(),
        "rho_seen": run.objective.rho_seen.detach().cpu()})


def keep_last_as_best(out: Path) -> bool:
    """No finite validation score at all: copy RUN/last to RUN/best; whether it did."""
    if (out / "best.json").exists() or not (out / "last.json").exists():
        return False
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(out / f"last{suffix}", out / f"best{suffix}")
    return True


def saved_best_val(out: Path) -> dict:
    """The validation metrics stored with RUN/best ({} without one)."""
    return read_meta(out / "best").get("val", {}) if (out / "best.json").exists() else {}


def _meta(model, config, cells, val_cells, epoch, step, val, tcfg) -> dict:
    """Checkpoint metadata: the cell registry (with each cell's teacher environment
    pi_teacher, (K,)), windows, splits, dataset, features, train config, validation."""
    registry = []
    if model.has_environment:
        from ..predict.environment import teacher_pi
        for i, c in enumerate(cells):
            registry.append({"name": c, "index": i, "pi_teacher": teacher_pi(model, i).tolist()})
    else:
        registry = [{"name": c, "index": i} for i, c in enumerate(cells)]
    return {"arch": model.cfg.arch, "cells": registry, "val_cells": val_cells,
            "windows": {"enhancer_length": model.cfg.enhancer_length,
                        "promoter_length": model.cfg.promoter_length,
                        "enhancer_anchor": config["dataset"].get("enhancer_anchor", "center"),
                        "promoter_anchor": config["dataset"].get("promoter_anchor", "center")},
            "splits": config["splits"], "dataset": config["dataset"],
            "element_features": config["element_features"],
            "train_config": tcfg.to_dict(),
            "epoch": epoch, "step": step,
            "val": {k: val[k] for k in ("cells", "mean_aupr", "mean_auroc", "mean_prevalence")},
            "created": _dt.datetime.now().isoformat(timespec="seconds")}
