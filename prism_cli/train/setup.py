"""Everything ``prism train`` builds before its first step, in this order (the order fixes
the random streams, so it is part of the result):

settings (fresh, or from RUN/config.json on --resume) -> chromosome splits and the
training rows of each cell -> element-feature stage -> model config -> run directory and
RUN/config.json -> model, objective, optimiser, episode sampler, batch builder ->
restored state (--resume) or tower pretraining -> validation plan.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .. import __version__
from ..errors import PrismInputError
from ..model import ModelConfig, build_model
from . import splits as splits_mod
from .checkpointing import Progress, restore
from .config import TrainConfig
from .distributed import barrier, wrap_ddp
from .episodes import BatchBuilder, EpisodeSampler
from .losses import EpisodeObjective
from .report import append_jsonl
from .validate import plan_validation

MIN_CELL_PAIRS = 16
RUN_EXISTS = "use --force to overwrite it or --resume to continue it"


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


class _Settings(NamedTuple):
    saved: dict | None           # RUN/config.json of the run being resumed
    tcfg: TrainConfig
    mcfg: ModelConfig | None     # None: built once the feature stage is known
    cells: list[str]
    val_cells: list[str]
    val_chroms: list[str]
    test_chroms: list[str]


@dataclass
class Run:
    """A prepared run.  ``arrays`` are what validation reads (element inputs, pair indices,
    log distances, labels, one entry per pair or element); ``module`` is the objective, or
    its DDP wrapper under torchrun."""

    req: TrainRequest
    out: Path
    device: torch.device
    rank: int
    world: int
    tcfg: TrainConfig
    cells: list[str]
    val_cells: list[str]
    config: dict                 # what RUN/config.json holds
    stage: object                # features.FeatureStage
    n_train_pairs: int
    steps_per_epoch: int
    model: torch.nn.Module
    objective: EpisodeObjective
    optimizer: torch.optim.Optimizer
    sampler: EpisodeSampler
    builder: BatchBuilder
    module: torch.nn.Module | None = None
    arrays: dict | None = None
    plan: list | None = None
    progress: Progress = field(default_factory=Progress)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.tcfg.epochs


def prepare(req: TrainRequest, device: torch.device, rank: int, world: int,
            reporter) -> Run:
    """Build the run ``req`` asks for (module docstring: the steps, in order)."""
    from ..dataset import PairDataset

    out = Path(req.out)
    ds = PairDataset(req.data)
    pairs = ds.pairs
    s = _resumed_settings(req, ds, out) if req.resume else _fresh_settings(req, pairs)
    split = splits_mod.assign_splits(pairs["chrom1"].to_numpy(), pairs["chrom2"].to_numpy(),
                                     s.val_chroms, s.test_chroms)
    labels = pairs["label"].to_numpy().astype(np.int64)
    cell_col = pairs["cell"].to_numpy()
    splits_mod.check_validation_pairs(split, labels, cell_col,
                                      list(s.cells) + list(s.val_cells), s.val_chroms)
    log_d = ds.log_distance()
    train_rows = _train_rows(s.cells, split, labels, cell_col)
    all_train = np.concatenate(list(train_rows.values()))
    val_rows = np.flatnonzero((split == "val") & (labels >= 0) & np.isin(cell_col, s.cells))
    stage = _feature_stage(req, s.saved, ds, pairs, all_train, val_rows, s.tcfg, device,
                           reporter)
    mcfg = s.mcfg if s.mcfg is not None else _model_config(req, stage, s.cells, ds,
                                                           log_d[all_train])
    if req.amp and device.type != "cuda":
        req.amp = False  # bf16 autocast is for CUDA; silently full precision on CPU
    if rank == 0:
        _prepare_run_dir(out, req.resume, req.force)
    barrier(world)

    tcfg = s.tcfg
    steps_per_epoch = tcfg.steps_per_epoch or max(
        1, tcfg.min_steps_per_epoch,
        math.ceil(len(all_train) / (tcfg.batch_episodes * tcfg.query_size * world)))
    config = _run_config(req, ds, s, mcfg, split, stage, steps_per_epoch, world, device)
    if rank == 0:
        (out / "config.json").write_text(json.dumps(config, indent=1))

    # model, objective, optimiser, episodes: each seeded as the first releases did
    torch.manual_seed(tcfg.seed)
    model = build_model(mcfg)
    objective = EpisodeObjective(model, tcfg).to(device)
    sampler = EpisodeSampler(train_rows, labels, tcfg.support_sizes, tcfg.query_size,
                             tcfg.cell_weighting, tcfg.unlabelled_support_fraction,
                             seed=tcfg.seed * 1009 + rank)
    enh_inputs, prom_inputs = stage.inputs(ds)
    enh_idx, prom_idx = pairs["enh_idx"].to_numpy(), pairs["prom_idx"].to_numpy()
    builder = BatchBuilder(enh_inputs, prom_inputs, enh_idx, prom_idx, log_d, labels,
                           tcfg.max_shift, tcfg.rc_augment and mcfg.rc == "none",
                           seed=tcfg.seed * 2003 + 1 + rank, mutation_rate=tcfg.mutation_rate)
    run = Run(req, out, device, rank, world, tcfg, s.cells, s.val_cells, config, stage,
              len(all_train), steps_per_epoch, model, objective, _optimizer(model, tcfg),
              sampler, builder)
    torch.manual_seed(tcfg.seed * 7 + 3 + rank)
    if req.resume:
        run.progress = restore(run)
    elif tcfg.pretrain_steps > 0 and mcfg.sequence_tower:
        _pretrain(run, ds, enh_idx[all_train], prom_idx[all_train], reporter)
    run.module = wrap_ddp(objective, device, world)
    run.arrays = {"enhancers": enh_inputs, "promoters": prom_inputs, "enh_idx": enh_idx,
                  "prom_idx": prom_idx, "log_distance": log_d, "labels": labels}
    run.plan = plan_validation(
        cell_col, labels, split,
        [(c, i) for i, c in enumerate(s.cells)] + [(c, None) for c in s.val_cells],
        tcfg.val_support_pool, tcfg.val_max_pairs, seed=tcfg.seed)
    return run


def _resumed_settings(req: TrainRequest, ds, out: Path) -> _Settings:
    """The settings of the run being resumed (RUN/config.json); only ``epochs`` may change,
    and a split or cell option that differs from the run's is an error."""
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
    try:
        tcfg = TrainConfig.from_dict(tdict)
        mcfg = ModelConfig.from_saved(saved["model"])
    except (TypeError, ValueError) as err:
        raise PrismInputError(f"bad config in the run being resumed: {err}",
                              str(out / "config.json")) from None
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
    return _Settings(saved, tcfg, mcfg, cells, val_cells, val_chroms, test_chroms)


def _fresh_settings(req: TrainRequest, pairs) -> _Settings:
    """Defaults + the request's overrides; cells and chromosome splits checked."""
    try:
        tcfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **req.train})
    except (TypeError, ValueError) as err:
        raise PrismInputError(f"bad train config: {err}") from None
    cells, val_cells = _resolve_cells(pairs, req.cells, req.val_cells)
    chroms = sorted(set(pairs["chrom1"]) | set(pairs["chrom2"]))
    val_chroms, test_chroms = splits_mod.default_splits(chroms, req.val_chroms,
                                                        req.test_chroms)
    splits_mod.check_splits(chroms, val_chroms, test_chroms)
    return _Settings(None, tcfg, None, cells, val_cells, val_chroms, test_chroms)


def _resolve_cells(pairs, requested, val_cells) -> tuple[list[str], list[str]]:
    """(training cells, validation-only cells); default: every labelled cell not in
    ``val_cells``."""
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


def _train_rows(cells, split, labels, cell_col) -> dict[int, np.ndarray]:
    """Cell index -> its labelled training-chromosome pair rows (>= MIN_CELL_PAIRS, both
    classes)."""
    train_rows = {}
    for i, c in enumerate(cells):
        rows = np.flatnonzero((cell_col == c) & (labels >= 0) & (split == "train"))
        y = labels[rows]
        if len(rows) < MIN_CELL_PAIRS or y.min() == y.max():
            raise PrismInputError(f"cell {c!r} has {len(rows)} labelled training-chromosome "
                                  f"pairs ({int((y == 1).sum())} positive): need >= "
                                  f"{MIN_CELL_PAIRS} with both classes")
        train_rows[i] = rows
    return train_rows


def _feature_stage(req: TrainRequest, saved: dict | None, ds, pairs, all_train, val_rows,
                   tcfg, device, reporter):
    """The run's element-feature stage: rebuilt from config.json on --resume, else fitted
    on the training-chromosome elements of the training pairs (no labels used), then,
    with ``motif_finetune_steps``, the discovered motifs' calibration fine-tuned on the
    training pairs' labels and kept at the step best on the training cells' validation
    pairs ``val_rows``."""
    from ..features import FeatureSpec, FeatureStage

    if saved is not None:
        return FeatureStage.from_state(saved.get("element_features"))
    spec = FeatureSpec.parse(req.element_features)
    if tcfg.motif_finetune_steps < 0 or not tcfg.motif_finetune_lr >= 0:
        raise PrismInputError(f"motif_finetune_steps and motif_finetune_lr must be >= 0, got "
                              f"{tcfg.motif_finetune_steps} and {tcfg.motif_finetune_lr}")
    ids = {"enhancer": np.unique(pairs["enh_idx"].to_numpy()[all_train]),
           "promoter": np.unique(pairs["prom_idx"].to_numpy()[all_train])}
    stage = FeatureStage.fit(spec, ds, ids, tcfg.discover_settings(), log=reporter.line,
                             device=str(device))
    stage.finetune(ds, all_train, val_rows, tcfg.finetune_settings(), log=reporter.line)
    return stage


def _model_config(req: TrainRequest, stage, cells, ds, train_log_d: np.ndarray) -> ModelConfig:
    """Defaults + the request's overrides + what the data fixes (features, cells, window
    lengths, log-distance standardisation over the training pairs)."""
    try:
        mdict = {**ModelConfig().to_dict(), "feature_dropout": stage.spec.feature_dropout,
                 **req.model}
        mdict.update(n_features=stage.n_features,
                     sequence_tower=stage.spec.conv or not stage.n_features)
        mdict.update(n_cells=len(cells), enhancer_length=ds.enhancer_length,
                     promoter_length=ds.promoter_length,
                     distance_mean=float(train_log_d.mean()),
                     distance_sd=float(train_log_d.std() + 1e-3))
        return ModelConfig.from_dict(mdict)
    except (TypeError, ValueError) as err:
        raise PrismInputError(f"bad model config: {err}") from None


def _run_config(req, ds, s: _Settings, mcfg, split, stage, steps_per_epoch, world,
                device) -> dict:
    """RUN/config.json: resolved model + train config, cells, splits, dataset."""
    dataset_info = {"path": str(Path(req.data).resolve()), "sha256": ds.checksum,
                    "genome_fai_md5": ds.manifest.get("genome", {}).get("fai_md5"),
                    "enhancer_anchor": ds.manifest.get("enhancer_anchor", "center"),
                    "promoter_anchor": ds.manifest.get("promoter_anchor", "center")}
    train_chroms = sorted(set(ds.pairs["chrom1"][split == "train"]))
    return {"model": mcfg.to_dict(), "train": s.tcfg.to_dict(), "cells": s.cells,
            "val_cells": s.val_cells,
            "splits": {"val": s.val_chroms, "test": s.test_chroms, "train": train_chroms},
            "dataset": dataset_info, "steps_per_epoch": steps_per_epoch,
            "world_size": world, "device": str(device), "amp": req.amp,
            "element_features": stage.state(), "version": __version__}


def _pretrain(run: Run, ds, enh_ids: np.ndarray, prom_ids: np.ndarray, reporter) -> None:
    """Label-free tower pretraining (pretrain.py) on the training pairs' elements; its
    history goes to RUN/log.jsonl ("kind": "pretrain")."""
    from .pretrain import pretrain_towers

    tcfg = run.tcfg
    reporter.line(f"pretraining towers (element vs shuffled element) for "
                  f"{tcfg.pretrain_steps} steps on training-chromosome elements")
    history, _ = pretrain_towers(
        run.model, ds.enhancers, ds.promoters, np.unique(enh_ids), np.unique(prom_ids),
        steps=tcfg.pretrain_steps, batch=tcfg.pretrain_batch, lr=tcfg.pretrain_lr,
        max_shift=tcfg.max_shift, seed=tcfg.seed)
    if run.is_main:
        for rec in history:
            append_jsonl(run.out / "log.jsonl", {"kind": "pretrain", **rec})
        reporter.line(f"pretraining: element-vs-shuffled accuracy "
                      f"{history[-1]['acc']:.3f} (last 25 steps)")
    torch.manual_seed(tcfg.seed * 7 + 3 + run.rank)


def _optimizer(model: torch.nn.Module, tcfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and position embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "position" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr)


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
