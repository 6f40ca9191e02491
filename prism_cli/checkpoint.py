"""Checkpoints that load without running code: safetensors weights + JSON metadata.

A checkpoint is two files sharing a prefix:

    <prefix>.safetensors   the model's state dict (tensors only)
    <prefix>.json          metadata: {"format": "prism-checkpoint", "version", "model_config",
                           "cells" (registry, with teacher environments pi_T), "windows",
                           "splits", "dataset", "train_config", "epoch", "step", "val", ...}

``prism train`` writes RUN/best.* (chosen on validation) and RUN/last.*, plus
RUN/last.state.pt (optimiser and RNG state for ``--resume``; read back only with
``torch.load(weights_only=True)``, which refuses arbitrary pickles).

Nothing here unpickles: a pickle (or anything else) in place of a checkpoint is refused
with a PrismInputError before any of it is interpreted.

:class:`Checkpoint` is how the rest of PRISM reads one: the model and the metadata's
fields (windows, training cells, support sizes, element features, splits), parsed once.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import PrismInputError

FORMAT = "prism-checkpoint"
WEIGHTS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"


def _prefix(path: str | Path) -> Path:
    """A checkpoint prefix from a prefix, a .safetensors/.json path, or a directory
    (a run directory -> its best checkpoint, else last; any other directory -> dir/model)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best", "last", "model"):
            if (path / (name + WEIGHTS_SUFFIX)).exists():
                return path / name
        return path / "model"
    if path.suffix in (WEIGHTS_SUFFIX, META_SUFFIX):
        return path.with_suffix("")
    return path


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def save_checkpoint(dir_or_prefix: str | Path, model, meta: dict) -> Path:
    """Write <prefix>.safetensors and <prefix>.json (each atomically); returns the prefix.

    An existing directory means prefix ``dir/model``.
    """
    from safetensors.torch import save_file

    path = Path(dir_or_prefix)
    prefix = path / "model" if path.is_dir() else _prefix(path)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    full = dict(meta)
    full.update(format=FORMAT, version=__version__, model_config=model.cfg.to_dict())
    _atomic_write(prefix.with_suffix(WEIGHTS_SUFFIX),
                  lambda p: save_file(state, str(p), metadata={"format": FORMAT}))
    _atomic_write(prefix.with_suffix(META_SUFFIX),
                  lambda p: p.write_text(json.dumps(full, indent=1, default=_json_default)))
    return prefix


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file (pickles, zips, text) up front."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        raise PrismInputError("not a safetensors checkpoint (file too short)", str(path))
    (n,) = struct.unpack("<Q", head[:8])
    # A safetensors file is an 8-byte little-endian header length, then a JSON header.
    # (Its first byte may be 0x80, like a pickle's, when that length is 128 mod 256: judge
    # by the length and the '{', never by the first byte alone.)
    if n < 2 or n + 8 > size or head[8:9] != b"{":
        raise PrismInputError("not a safetensors checkpoint (refusing to load it: PRISM never "
                              "unpickles checkpoints)", str(path))


def read_meta(path: str | Path) -> dict:
    """The metadata of a checkpoint (no weights loaded)."""
    prefix = _prefix(path)
    meta_path = prefix.with_suffix(META_SUFFIX)
    if not meta_path.exists():
        raise PrismInputError("checkpoint metadata not found", str(meta_path))
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PrismInputError(f"checkpoint metadata is not JSON ({err})", str(meta_path)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PrismInputError("not a PRISM checkpoint (format field missing)", str(meta_path))
    return meta


def load_checkpoint(path: str | Path, device=None):
    """Rebuild the model from a checkpoint.  Returns (model in eval mode, meta dict).

    path: a run directory, a prefix, or either file of the pair.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import ModelConfig, build_model

    prefix = _prefix(path)
    weights = prefix.with_suffix(WEIGHTS_SUFFIX)
    if not weights.exists():
        raise PrismInputError("checkpoint weights not found", str(weights))
    _check_safetensors(weights)
    meta = read_meta(prefix)
    try:
        cfg = ModelConfig.from_saved(meta["model_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise PrismInputError(f"bad model_config in checkpoint metadata ({err})",
                              str(prefix.with_suffix(META_SUFFIX))) from None
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise PrismInputError(f"unreadable safetensors checkpoint ({err})", str(weights)) from None
    bad = [k for k, t in state.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad:  # a diverged run or a damaged file: every prediction would be nan
        raise PrismInputError(f"checkpoint holds non-finite weights (NaN/Inf) in {len(bad)} "
                              f"tensor(s), e.g. {bad[0]}", str(weights))
    model = build_model(cfg)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise PrismInputError(f"checkpoint does not match its model_config ({first})",
                              str(weights)) from None
    if missing or unexpected:
        raise PrismInputError(f"checkpoint does not match its model_config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})", str(weights))
    if device is not None:
        model.to(device)
    model.eval()
    return model, meta


def weights_checksum(path: str | Path) -> str:
    """sha256 of a checkpoint's weights file (provenance of adapt/score outputs)."""
    import hashlib

    h = hashlib.sha256()
    with open(_prefix(path).with_suffix(WEIGHTS_SUFFIX), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Checkpoint:
    """A checkpoint with its metadata read once into typed fields.

    model : the model in eval mode (None from :meth:`read`, which loads no weights)
    arch : "prism" or "crossattn"
    windows : (enhancer, promoter) WindowSpec the training pairs were extracted with
    cells : training cell names, in teacher-table order
    support_sizes : (min, max) support size of the training episodes (what adapt uses)
    element_features : the FeatureStage state (None: codes only)
    splits : {"train", "val", "test": chromosomes} when recorded, else None
    dataset_path : the training dataset's folder when recorded, else None
    meta : the whole metadata dict (for what has no field)
    """

    model: object
    arch: str
    windows: tuple
    cells: list
    support_sizes: tuple
    element_features: dict | None
    splits: dict | None
    dataset_path: str | None
    meta: dict

    @classmethod
    def from_meta(cls, meta: dict, model=None) -> "Checkpoint":
        from .extract import WindowSpec

        w = meta.get("windows") or {}
        cfg = meta.get("model_config", {})
        le = int(w.get("enhancer_length") or cfg["enhancer_length"])
        lp = int(w.get("promoter_length") or cfg["promoter_length"])
        cells = meta.get("cells", [])
        if isinstance(cells, dict):
            cells = cells.get("names", list(cells))
        train = meta.get("train_config") or {}
        return cls(model=model, arch=(meta.get("model_config") or {}).get("arch", "prism"),
                   windows=(WindowSpec(le, w.get("enhancer_anchor", "center")),
                            WindowSpec(lp, w.get("promoter_anchor", "center"))),
                   cells=[c["name"] if isinstance(c, dict) else str(c) for c in cells],
                   support_sizes=(int(train.get("support_min", 8)),
                                  int(train.get("support_max", 256))),
                   element_features=meta.get("element_features"),
                   splits=meta.get("splits") or None,
                   dataset_path=(meta.get("dataset") or {}).get("path"), meta=meta)

    @classmethod
    def read(cls, path: str | Path) -> "Checkpoint":
        """The metadata only (no weights, no torch): ``model`` is None."""
        return cls.from_meta(read_meta(path))

    @classmethod
    def load(cls, path: str | Path, device=None) -> "Checkpoint":
        """Model and metadata; device None/"auto" = cuda when available, else cpu."""
        from .predict.cache import resolve_device

        model, meta = load_checkpoint(path, device=resolve_device(device))
        return cls.from_meta(meta, model)

    def element_inputs(self, ds, table: str | None = None):
        """(enhancer, promoter) ElementInputs of dataset ``ds`` for this model; ``table``:
        where a table:PATH feature source is now, if it moved."""
        from .features.stage import FeatureStage

        return FeatureStage.from_state(self.element_features, table).inputs(ds)

    def adapt(self, ds, sizes=None, n_episodes: int = 64, seed: int = 0, folds: int = 5,
              inputs=None, feature_table: str | None = None, path: str = "support",
              curve: bool = False) -> dict:
        """Adapt the model to the one cell of ``ds`` (labelled support pairs): the record
        ``prism adapt`` registers (predict/adapt.py ``adapt_cell``).  sizes: the support
        sizes (default: the training episodes'); inputs: ``ds``'s element inputs (default:
        :meth:`element_inputs`)."""
        from .predict.adapt import adapt_cell

        if inputs is None:
            inputs = self.element_inputs(ds, feature_table)
        return adapt_cell(self.model, ds, sizes or self.support_sizes, n_episodes, seed, folds,
                          self.cells, path=path, inputs=inputs, curve=curve)


def save_train_state(path: str | Path, state: dict) -> None:
    """Optimiser/RNG state for --resume: tensors, numbers, strings, lists and dicts only,
    written with torch.save and read back with weights_only=True."""
    import torch

    path = Path(path)
    _atomic_write(path, lambda p: torch.save(state, p))


def load_train_state(path: str | Path) -> dict:
    import pickle

    import torch

    path = Path(path)
    if not path.exists():
        raise PrismInputError("resume state not found", str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PrismInputError(f"refusing to load resume state ({first})", str(path)) from None
