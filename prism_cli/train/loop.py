"""The training loop behind ``prism train``: episodes -> losses -> validation -> checkpoints.

One process, or one process per GPU under ``torchrun`` (DistributedDataParallel; each
rank draws its own episodes, gradients are averaged by DDP, rank 0 validates and writes).

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
import datetime as _dt
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..checkpoint import load_train_state, read_meta, save_checkpoint, save_train_state
from ..errors import PrismInputError
from ..model import ModelConfig, build_model
from . import splits as splits_mod
from .config import TrainConfig
from .episodes import BatchBuilder, EpisodeSampler
from .losses import EpisodeObjective
from .validate import plan_validation, validate

MIN_CELL_PAIRS = 16


@dataclass
class TrainRequest:
    """What the command line (or a test) asks for."""

    data: str
    out: str
    cells: list[str] | None = None
    val_cells: list[str] = field(default_factory=list)
    val_chroms: list[str] | None = None
    test_chroms: list[str] | None = None
    element_features: str | None = None              # --element-features (None: default)
    model: dict = field(default_factory=dict)        # ModelConfig overrides
    train: dict = field(default_factory=dict)        # TrainConfig overrides
    device: str = "auto"
    amp: bool = False
    resume: bool = False
    force: bool = False
    threads: int | None = None
    verbose: bool = False
    quiet: bool = False


# ---------------------------------------------------------------------------------------
# distributed helpers


def _dist_env() -> tuple[int, int, int]:
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def _setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    import torch.distributed as dist

    rank, world, local = _dist_env()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    return rank, world, device


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist
        dist.barrier()


# ---------------------------------------------------------------------------------------
# setup


def _resolve_cells(pairs, requested, val_cells) -> tuple[list[str], list[str]]:
    present = sorted(set(pairs["cell"][pairs["label"] >= 0]) - {"."})
    if not present:
        raise PrismInputError("the dataset has no labelled pairs with a cell name")
    val_cells = list(val_cells or [])
    if requested is not None and not requested:  # --cells "" or ",": not "all cells"
        raise PrismInputError(f"--cells names no cell (cells: {','.join(present)})")
    cells = requested if requested else [c for c in present if c not in val_cells]
    for c in list(cells) + val_cells:
        if c not in present:
            raise PrismInputError(f"cell {c!r} has no labelled pairs in the dataset "
                             f"(cells: {','.join(present)})")
    both = set(cells) & set(val_cells)
    if both:
        raise PrismInputError(f"cells in both --cells and --val-cells: {','.join(sorted(both))}")
    if not cells:
        raise PrismInputError("no training cell left")
    return list(cells), val_cells


def _feature_stage(req: TrainRequest, saved: dict | None, ds, pairs, all_train, tcfg,
                   device, reporter):
    """The run's element-feature stage: rebuilt from config.json on --resume, else fitted
    on the training-chromosome elements of the training pairs (no labels used)."""
    from ..features import FeatureSpec, FeatureStage

    if saved is not None:
        return FeatureStage.from_state(saved.get("element_features"))
    spec = FeatureSpec.parse(req.element_features)
    ids = {"enhancer": np.unique(pairs["enh_idx"].to_numpy()[all_train]),
           "promoter": np.unique(pairs["prom_idx"].to_numpy()[all_train])}
    return FeatureStage.fit(spec, ds, ids, tcfg.discover_settings(), log=reporter.line,
                            device=str(device))


def _lr_at(step: int, total: int, tcfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of lr."""
    if step < tcfg.warmup_steps:
        return tcfg.lr * (step + 1) / tcfg.warmup_steps
    frac = min(1.0, (step - tcfg.warmup_steps) / max(1, total - tcfg.warmup_steps))
    return tcfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _optimizer(model: torch.nn.Module, tcfg: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "position" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr)


RUN_EXISTS = "use --force to overwrite it or --resume to continue it"


def _prepare_run_dir(out: Path, resume: bool, force: bool) -> None:
    if resume:
        if not (out / "last.json").exists():
            raise PrismInputError("nothing to resume: no last checkpoint in the run directory",
                             str(out))
        return
    if out.exists() or out.is_symlink():
        from ..io.atomic import remove_output_dir

        # --force replaces only a run directory PRISM wrote (the shared rule of io.atomic)
        remove_output_dir(out, force, advice=RUN_EXISTS)
    out.mkdir(parents=True, exist_ok=True)


class _Reporter:
    """Live progress on a terminal (rich), one line per epoch otherwise."""

    def __init__(self, enabled: bool, verbose: bool):
        from rich.console import Console

        self.enabled = enabled
        self.verbose = verbose
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.progress = None

    def start(self, total_steps: int, done: int):
        if not self.live:
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}"), console=self.console,
                                 transient=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=total_steps, completed=done, info="")

    def step(self, info: str):
        if self.progress is not None:
            self.progress.update(self.task, advance=1, info=info)

    def line(self, text: str, style: str | None = None):
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.console.print(text, style=style, highlight=False)
        else:
            self.console.print(text, style=style, highlight=False, soft_wrap=True)

    def warn(self, text: str):
        # warnings are shown even when quiet
        if self.progress is not None:
            self.progress.console.print(f"WARNING: {text}", style="bold red", highlight=False)
        else:
            self.console.print(f"WARNING: {text}", style="bold red", highlight=False,
                               soft_wrap=True)

    def stop(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def table(self, val: dict, title: str):
        if not self.enabled or not val.get("cells"):
            return
        from rich.table import Table

        t = Table(title=title)
        for col in ("cell", "n", "prevalence", "AUPR", "AUROC", "spread", "AUPR teacher",
                    "AUPR U-only"):
            t.add_column(col, justify="right" if col != "cell" else "left")

        def f(x):
            return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) \
                else f"{x:.3f}"
        for name, m in val["cells"].items():
            t.add_row(name, str(m["n"]), f(m["prevalence"]), f(m["aupr"]), f(m["auroc"]),
                      f(m["spread"]), f(m.get("aupr_teacher")), f(m.get("aupr_zero_shot")))
        self.console.print(t)


# ---------------------------------------------------------------------------------------


def run_training(req: TrainRequest) -> dict:
    """Train; returns a summary dict (best epoch, best validation metrics, run dir)."""
    from ..dataset import PairDataset
    from ..inference import resolve_device

    if req.threads:
        torch.set_num_threads(int(req.threads))
    device = resolve_device(req.device)
    rank, world, device = _setup_distributed(device)
    is_main = rank == 0
    out = Path(req.out)
    ds = PairDataset(req.data)
    pairs = ds.pairs

    # ---- configuration (fresh, or from the run being resumed) --------------------------
    if req.resume:
        if not (out / "config.json").exists():
            raise PrismInputError("nothing to resume: no config.json", str(out))
        try:
            saved = json.loads((out / "config.json").read_text())
        except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError
            raise PrismInputError(f"config.json is not valid JSON ({type(err).__name__})",
                             str(out / "config.json")) from None
        if saved.get("dataset", {}).get("sha256") != ds.checksum:
            raise PrismInputError("--resume with a different dataset than the run was trained on "
                             f"(checksum {ds.checksum[:12]} != "
                             f"{saved.get('dataset', {}).get('sha256', '?')[:12]})", req.data)
        tdict = dict(saved["train"])
        if "epochs" in req.train:
            tdict["epochs"] = req.train["epochs"]
        tcfg = TrainConfig.from_dict(tdict)
        mcfg = ModelConfig.from_saved(saved["model"])
        cells, val_cells = saved["cells"], saved["val_cells"]
        val_chroms, test_chroms = saved["splits"]["val"], saved["splits"]["test"]
        for option, asked, used in (("--cells", req.cells, cells),
                                    ("--val-cells", req.val_cells or None, val_cells),
                                    ("--val-chroms", req.val_chroms, val_chroms),
                                    ("--test-chroms", req.test_chroms, test_chroms)):
            if asked is not None and list(asked) != list(used):  # not silently ignored
                raise PrismInputError(f"{option} {','.join(asked)} differs from the run being "
                                 f"resumed ({','.join(used) or 'none'}); --resume keeps the "
                                 "run's own setting", str(out))
    else:
        try:
            tcfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **req.train})
        except (TypeError, ValueError) as err:
            raise PrismInputError(f"bad train config: {err}") from None
        cells, val_cells = _resolve_cells(pairs, req.cells, req.val_cells)
        chroms = sorted(set(pairs["chrom1"]) | set(pairs["chrom2"]))
        val_chroms, test_chroms = splits_mod.default_splits(chroms, req.val_chroms,
                                                            req.test_chroms)
        splits_mod.check_splits(chroms, val_chroms, test_chroms)
        mcfg = None
    split = splits_mod.assign_splits(pairs["chrom1"].to_numpy(), pairs["chrom2"].to_numpy(),
                                     val_chroms, test_chroms)
    labels = pairs["label"].to_numpy().astype(np.int64)
    cell_col = pairs["cell"].to_numpy()
    splits_mod.check_validation_pairs(split, labels, cell_col, list(cells) + list(val_cells),
                                      val_chroms)
    log_d = ds.log_distance()
    train_rows = {}
    for i, c in enumerate(cells):
        rows = np.flatnonzero((cell_col == c) & (labels >= 0) & (split == "train"))
        y = labels[rows]
        if len(rows) < MIN_CELL_PAIRS or y.min() == y.max():
            raise PrismInputError(f"cell {c!r} has {len(rows)} labelled training-chromosome pairs "
                             f"({int((y == 1).sum())} positive): need >= {MIN_CELL_PAIRS} "
                             "with both classes")
        train_rows[i] = rows
    all_train = np.concatenate(list(train_rows.values()))
    reporter_pre = _Reporter(enabled=is_main and not req.quiet, verbose=req.verbose)
    stage = _feature_stage(req, saved if req.resume else None, ds, pairs, all_train, tcfg,
                           device, reporter_pre)
    if mcfg is None:
        try:
            mdict = {**ModelConfig().to_dict(), **req.model}
            mdict.update(n_features=stage.n_features,
                         sequence_tower=stage.spec.conv or not stage.n_features)
            mdict.update(n_cells=len(cells), enhancer_length=ds.enhancer_length,
                         promoter_length=ds.promoter_length,
                         distance_mean=float(log_d[all_train].mean()),
                         distance_sd=float(log_d[all_train].std() + 1e-3))
            mcfg = ModelConfig.from_dict(mdict)
        except (TypeError, ValueError) as err:
            raise PrismInputError(f"bad model config: {err}") from None
    if req.amp and device.type != "cuda":
        req.amp = False  # bf16 autocast is for CUDA; silently full precision on CPU
    if is_main:
        _prepare_run_dir(out, req.resume, req.force)
    _barrier(world)

    steps_per_epoch = tcfg.steps_per_epoch or max(
        1, tcfg.min_steps_per_epoch,
        math.ceil(len(all_train) / (tcfg.batch_episodes * tcfg.query_size * world)))
    total_steps = steps_per_epoch * tcfg.epochs
    dataset_info = {"path": str(Path(req.data).resolve()), "sha256": ds.checksum,
                    "genome_fai_md5": ds.manifest.get("genome", {}).get("fai_md5"),
                    "enhancer_anchor": ds.manifest.get("enhancer_anchor", "center"),
                    "promoter_anchor": ds.manifest.get("promoter_anchor", "center")}
    config = {"model": mcfg.to_dict(), "train": tcfg.to_dict(), "cells": cells,
              "val_cells": val_cells,
              "splits": {"val": val_chroms, "test": test_chroms,
                         "train": sorted(set(pairs["chrom1"][split == "train"]))},
              "dataset": dataset_info, "steps_per_epoch": steps_per_epoch,
              "world_size": world, "device": str(device), "amp": req.amp,
              "element_features": stage.state(), "version": __version__}
    if is_main:
        (out / "config.json").write_text(json.dumps(config, indent=1))

    # ---- model, objective, optimiser ---------------------------------------------------
    torch.manual_seed(tcfg.seed)
    model = build_model(mcfg)
    objective = EpisodeObjective(model, tcfg).to(device)
    optimizer = _optimizer(model, tcfg)
    sampler = EpisodeSampler(train_rows, labels, tcfg.support_sizes, tcfg.query_size,
                             tcfg.cell_weighting, tcfg.unlabelled_support_fraction,
                             seed=tcfg.seed * 1009 + rank)
    enh_inputs, prom_inputs = stage.inputs(ds)
    builder = BatchBuilder(enh_inputs, prom_inputs, pairs["enh_idx"].to_numpy(),
                           pairs["prom_idx"].to_numpy(), log_d, labels, tcfg.max_shift,
                           tcfg.rc_augment and mcfg.rc == "none",
                           seed=tcfg.seed * 2003 + 1 + rank, mutation_rate=tcfg.mutation_rate)
    torch.manual_seed(tcfg.seed * 7 + 3 + rank)
    start_epoch, step, best_score, best_epoch = 1, 0, -math.inf, 0
    if req.resume:
        meta = read_meta(out / "last")
        from safetensors.torch import load_file
        model.load_state_dict(load_file(str(out / "last.safetensors"), device="cpu"))
        state = load_train_state(out / "last.state.pt")
        optimizer.load_state_dict(state["optimizer"])
        objective.rho.copy_(state["rho"])
        objective.rho_seen.copy_(state["rho_seen"])
        torch.set_rng_state(state["torch_rng"])
        r = meta["resume"]
        sampler.set_state(r["sampler"])
        builder.set_state(r["builder"])
        start_epoch, step = r["epoch"] + 1, r["step"]
        best_score, best_epoch = r["best_score"], r["best_epoch"]
    if not req.resume and tcfg.pretrain_steps > 0 and mcfg.sequence_tower:
        from .pretrain import pretrain_towers

        reporter_pre.line(f"pretraining towers (element vs shuffled element) for "
                          f"{tcfg.pretrain_steps} steps on training-chromosome elements")
        history, _ = pretrain_towers(
            model, ds.enhancers, ds.promoters, np.unique(pairs["enh_idx"].to_numpy()[all_train]),
            np.unique(pairs["prom_idx"].to_numpy()[all_train]), steps=tcfg.pretrain_steps,
            batch=tcfg.pretrain_batch, lr=tcfg.pretrain_lr, max_shift=tcfg.max_shift,
            seed=tcfg.seed)
        if is_main:
            for rec in history:
                _append_jsonl(out / "log.jsonl", {"kind": "pretrain", **rec})
            reporter_pre.line(f"pretraining: element-vs-shuffled accuracy "
                              f"{history[-1]['acc']:.3f} (last 25 steps)")
        torch.manual_seed(tcfg.seed * 7 + 3 + rank)
    if tcfg.freeze_motifs and tcfg.pretrain_steps > 0 and mcfg.sequence_tower:
        for tower in (model.enhancer_tower, model.promoter_tower):
            for p in list(tower.motifs.parameters()) + list(tower.motif_norm.parameters()):
                p.requires_grad_(False)
    train_module = objective
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_module = DDP(objective, device_ids=[device.index] if device.type == "cuda"
                           else None, find_unused_parameters=True)

    arrays = {"enhancers": enh_inputs, "promoters": prom_inputs,
              "enh_idx": pairs["enh_idx"].to_numpy(), "prom_idx": pairs["prom_idx"].to_numpy(),
              "log_distance": log_d, "labels": labels}
    plan = plan_validation(cell_col, labels, split,
                           [(c, i) for i, c in enumerate(cells)] + [(c, None) for c in val_cells],
                           tcfg.val_support_pool, tcfg.val_max_pairs, seed=tcfg.seed)
    reporter = _Reporter(enabled=is_main and not req.quiet, verbose=req.verbose)
    if is_main:
        reporter.line(f"element features: {stage.describe()}")
        reporter.line(f"prism train: {len(cells)} training cells ({','.join(cells)}), "
                      f"val chroms {','.join(val_chroms)}, test chroms "
                      f"{','.join(test_chroms) or '-'} (never used), "
                      f"{len(all_train)} training pairs, {steps_per_epoch} steps/epoch, "
                      f"device {device}{' x' + str(world) if world > 1 else ''}")
        for vc in plan:
            if len(vc.query) == 0:
                reporter.warn(f"cell {vc.name} has no labelled pairs on the validation "
                              "chromosomes: it is not validated")

    log_path = out / "log.jsonl"
    val_path = out / "val.tsv"
    amp_ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if req.amp else \
        contextlib.nullcontext
    last_val: dict = {}
    best_val: dict = {}
    reporter.start(total_steps, (start_epoch - 1) * steps_per_epoch)
    try:
        for epoch in range(start_epoch, tcfg.epochs + 1):
            objective.train()
            sums: dict[str, float] = {}
            interval: dict[str, float] = {}
            n_int, pairs_int, t_int = 0, 0, time.perf_counter()
            t_epoch = time.perf_counter()
            for _ in range(steps_per_epoch):
                lr = _lr_at(step, total_steps, tcfg)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                batch = builder.build(sampler.sample(tcfg.batch_episodes),
                                      with_support=model.has_environment).to(device)
                with amp_ctx():
                    loss, stats = train_module(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if tcfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
                optimizer.step()
                step += 1
                vals = {k: float(v) for k, v in stats.items()}
                if not math.isfinite(vals["loss"]):
                    raise RuntimeError(f"non-finite training loss at step {step}")
                for k, v in vals.items():
                    sums[k] = sums.get(k, 0.0) + v
                    interval[k] = interval.get(k, 0.0) + v
                n_int += 1
                pairs_int += batch.n_pairs
                reporter.step(" ".join(f"{k} {vals[k]:.3f}" for k in
                                       ("loss", "main", "rho", "push", "pull") if k in vals))
                if is_main and (step % tcfg.log_every == 0):
                    dt = time.perf_counter() - t_int
                    rec = {"kind": "step", "epoch": epoch, "step": step, "lr": lr,
                           **{k: v / n_int for k, v in interval.items()},
                           "pairs_per_s": pairs_int * world / max(dt, 1e-9)}
                    _append_jsonl(log_path, rec)
                    if reporter.verbose:
                        reporter.line(_fmt_step(rec))
                    interval, n_int, pairs_int, t_int = {}, 0, 0, time.perf_counter()
            train_means = {k: v / steps_per_epoch for k, v in sums.items()}
            epoch_time = time.perf_counter() - t_epoch
            checksums = _param_checksums(model, world)

            if is_main:
                val = validate(model, arrays, plan, tcfg.support_sizes, tcfg.val_episodes,
                               seed=tcfg.seed)
                score = val["mean_aupr"]
                improved = math.isfinite(score) and score > best_score
                if improved:
                    best_score, best_epoch = score, epoch
                rho = objective.rho.detach().cpu().tolist()
                rec = {"kind": "epoch", "epoch": epoch, "step": step, "time_s": epoch_time,
                       "train": train_means, "rho_per_cell": dict(zip(cells, rho)),
                       "val": val, "best": improved}
                if world > 1:
                    rec["ddp_param_checksums"] = checksums
                _append_jsonl(log_path, rec)
                _append_val_tsv(val_path, epoch, val, dict(zip(cells, rho)))
                reporter.line(_fmt_epoch(epoch, tcfg.epochs, train_means, val, improved))
                for name, why in val["collapse"].items():
                    reporter.warn(f"epoch {epoch}: validation predictions for {name} look "
                                  f"COLLAPSED: {why}")
                meta = _meta(model, config, cells, val_cells, epoch, step, val, tcfg)
                if improved:
                    save_checkpoint(out / "best", model, meta)
                    best_val = val
                meta["resume"] = {"epoch": epoch, "step": step, "sampler": sampler.state(),
                                  "builder": builder.state(), "best_score": best_score,
                                  "best_epoch": best_epoch}
                save_checkpoint(out / "last", model, meta)
                save_train_state(out / "last.state.pt", {
                    "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                    "rho": objective.rho.detach().cpu(),
                    "rho_seen": objective.rho_seen.detach().cpu()})
                last_val = val
            _barrier(world)
    finally:
        reporter.stop()
    if is_main and not (out / "best.json").exists() and (out / "last.json").exists():
        # no finite validation score at all: keep the last checkpoint as "best" too
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(out / f"last{suffix}", out / f"best{suffix}")
        best_val, best_epoch = last_val, tcfg.epochs
    if is_main:
        if not best_val and (out / "best.json").exists():
            best_val = read_meta(out / "best").get("val", {})
        reporter.table(best_val, f"validation (inference path), best epoch {best_epoch}")
        reporter.line(f"run directory: {out}  (best.safetensors = epoch {best_epoch})")
    return {"out": str(out), "best_epoch": best_epoch, "best_score": best_score,
            "best_val": best_val, "last_val": last_val, "model": model, "steps": step,
            "objective": objective}


def _param_checksums(model, world: int) -> list[float]:
    """Sum of every parameter (float64) on each rank: all equal when DDP keeps the
    replicas in step.  Logged per epoch under torchrun."""
    value = torch.tensor([sum(float(p.detach().double().sum()) for p in model.parameters())],
                         dtype=torch.float64, device=next(model.parameters()).device)
    if world == 1:
        return [float(value)]
    import torch.distributed as dist
    out = [torch.zeros_like(value) for _ in range(world)]
    dist.all_gather(out, value)
    return [float(v) for v in out]


def _meta(model, config, cells, val_cells, epoch, step, val, tcfg) -> dict:
    registry = []
    if model.has_environment:
        from ..inference import teacher_pi
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
            "train_config": tcfg.to_dict(), "support_sizes": list(tcfg.support_sizes),
            "epoch": epoch, "step": step,
            "val": {k: val[k] for k in ("cells", "mean_aupr", "mean_auroc", "mean_prevalence")},
            "created": _dt.datetime.now().isoformat(timespec="seconds")}


def _append_jsonl(path: Path, rec: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(rec, default=float) + "\n")


VAL_COLUMNS = ["n", "n_pos", "prevalence", "aupr", "auroc", "spread", "bce", "aupr_teacher",
               "auroc_teacher", "aupr_zero_shot", "auroc_zero_shot", "pi_sd"]


def _append_val_tsv(path: Path, epoch: int, val: dict, rho: dict) -> None:
    new = not path.exists()
    with open(path, "a") as fh:
        if new:
            fh.write("\t".join(["epoch", "cell"] + VAL_COLUMNS + ["rho", "collapse"]) + "\n")
        for name, m in val["cells"].items():
            row = [str(epoch), name] + [_fmt(m.get(k)) for k in VAL_COLUMNS]
            row += [_fmt(rho.get(name)), "yes" if name in val["collapse"] else "no"]
            fh.write("\t".join(row) + "\n")


def _fmt(x) -> str:
    if x is None:
        return "."
    if isinstance(x, float):
        return "nan" if not math.isfinite(x) else f"{x:.5g}"
    return str(x)


def _fmt_step(rec: dict) -> str:
    keys = ("loss", "main", "teacher", "distill", "adversary", "opportunist", "rho", "push",
            "pull", "T")
    parts = [f"{k} {rec[k]:.3f}" for k in keys if k in rec]
    return f"step {rec['step']}: " + " ".join(parts) + f" ({rec['pairs_per_s']:.0f} pairs/s)"


def _fmt_epoch(epoch, epochs, train, val, improved) -> str:
    parts = [f"epoch {epoch}/{epochs}", f"loss {train.get('loss', math.nan):.4f}"]
    for k in ("main", "teacher", "rho", "push", "pull"):
        if k in train:
            parts.append(f"{k} {train[k]:.3f}")
    parts.append(f"val AUPR {val['mean_aupr']:.3f} (prev {val['mean_prevalence']:.3f}) "
                 f"AUROC {val['mean_auroc']:.3f}")
    if improved:
        parts.append("*best*")
    return "  ".join(parts)


def main_entry() -> None:  # pragma: no cover - for `python -m prism_cli.train.loop`
    print("use `prism train` (or torchrun -m prism_cli.cli train ...)", file=sys.stderr)
