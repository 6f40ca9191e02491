"""Cells a model knows: its training cells (teacher environments, in the checkpoint) and
cells registered by ``prism adapt`` (one JSON sidecar per cell in a registry folder,
``<model dir>/cells/`` by default; for a shipped model, a folder of the user's, see
shipped.py).

A model directory is never rewritten by ``adapt``: it only adds ``cells/NAME.json``, and
refuses to replace an existing one without ``--force``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import PrismInputError
from .io.atomic import atomic_file

REGISTRY_FOLDER = "cells"
RECORD_FORMAT = "prism-adapted-cell"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def model_dir(model_path: str | Path) -> Path:
    """Folder holding a checkpoint given as a run/model folder or a checkpoint file."""
    path = Path(model_path)
    return path if path.is_dir() else path.parent


def registry_dir(model_path: str | Path, registry: str | Path | None = None) -> Path:
    """``registry`` when given; else the model folder's cells/, or for a shipped model
    (prism_cli/shipped.py) the user's registry of that model."""
    from .shipped import shipped_name, user_registry

    if registry:
        return Path(registry)
    name = shipped_name(model_path)
    return user_registry(name) if name else model_dir(model_path) / REGISTRY_FOLDER


def check_cell_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise PrismInputError(f"cell name '{name}' must be letters, digits and . _ + - "
                              "(starting with a letter or digit)")
    return name


def adapted_path(registry: Path, name: str) -> Path:
    return registry / f"{check_cell_name(name)}.json"


def load_adapted(registry: Path, name: str) -> dict | None:
    path = adapted_path(registry, name)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PrismInputError(f"adapted-cell record is not JSON ({err})", str(path)) from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise PrismInputError("not a PRISM adapted-cell record", str(path))
    return record


def unknown_cell(name: str, training: list[str], registry: Path, where: str | None = None,
                 line: int | None = None) -> PrismInputError:
    """The error for a cell that is neither a training cell nor registered by adapt."""
    adapted = sorted(p.stem for p in registry.glob("*.json")) if registry.is_dir() else []
    return PrismInputError(f"unknown cell '{name}': training cells "
                           f"{', '.join(training) or 'none'}; adapted cells ({registry}) "
                           f"{', '.join(adapted) or 'none'} (register it with `prism adapt`, "
                           "or score without a cell with --zero-shot)", where, line)


def is_known_cell(name: str, training: list[str], registry: Path) -> bool:
    if name in training:
        return True
    return bool(_NAME.match(name or "")) and adapted_path(registry, name).exists()


def save_adapted(registry: Path, name: str, record: dict, force: bool = False) -> Path:
    path = adapted_path(registry, name)
    registry.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, force=force) as fh:
        json.dump({"format": RECORD_FORMAT, **record}, fh, indent=2)
        fh.write("\n")
    return path
