"""Shipped pretrained models, found by name: ``prism score -m prism-targetfinder5-hg19``.

A shipped model is a folder ``NAME/`` holding ``model.safetensors``, ``model.json`` and
``MODEL_CARD.md``.  Folders searched, in order: those listed in ``$PRISM_MODELS``
(separated by ``os.pathsep``), then the ``models/`` folder of the PRISM source tree this
package runs from.  An existing path always wins over a name.

Cells adapted to a shipped model are registered outside it (the model folder belongs to
the installation): in ``$PRISM_HOME/cells/NAME/``, ``$PRISM_HOME`` defaulting to
``$XDG_DATA_HOME/prism`` (``~/.local/share/prism``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import PrismInputError

SOURCE_MODELS = Path(__file__).resolve().parents[1] / "models"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("PRISM_MODELS", "").split(os.pathsep) if p]
    return extra + [SOURCE_MODELS]


def shipped_models() -> dict[str, Path]:
    """Name -> folder of every shipped model found (first folder wins)."""
    found: dict[str, Path] = {}
    for root in search_dirs():
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / "model.json").is_file() and d.name not in found:
                    found[d.name] = d
    return found


def resolve_model(value: str) -> Path:
    """A model given on the command line: an existing path, else a shipped model's name."""
    path = Path(value)
    if path.exists():
        return path
    models = shipped_models()
    if _NAME.match(value) and value in models:
        return models[value]
    names = ", ".join(models) or "none"
    raise PrismInputError(f"no such file or folder, nor a shipped model of that name "
                          f"(shipped models: {names})", value)


def shipped_name(model_path: str | Path) -> str | None:
    """The name of the shipped model ``model_path`` points into, else None."""
    folder = Path(model_path).resolve()
    folder = folder if folder.is_dir() else folder.parent
    for root in search_dirs():
        if root.is_dir() and folder.parent == root.resolve():
            return folder.name
    return None


def user_registry(name: str) -> Path:
    """Where cells adapted to shipped model ``name`` are registered."""
    home = os.environ.get("PRISM_HOME") or str(
        Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "prism")
    return Path(home) / "cells" / name
