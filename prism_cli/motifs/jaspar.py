"""JASPAR matrices through pyjaspar (its SQLite database ships in the wheel; nothing is
downloaded).  Loading a collection takes a few seconds, so it is cached per process."""

from __future__ import annotations

import functools

import numpy as np

from .pwm import Motif, normalise


@functools.lru_cache(maxsize=1)
def _db():
    from pyjaspar import jaspardb

    return jaspardb()


def jaspar_release() -> str:
    """The JASPAR release pyjaspar serves, e.g. "JASPAR2026"."""
    return str(_db().release)


@functools.lru_cache(maxsize=8)
def _load(collection: str, tax_group: str | None) -> tuple[Motif, ...]:
    db = _db()
    groups = None if tax_group is None else [tax_group]
    out = []
    for m in db.fetch_motifs(collection=collection, tax_group=groups):
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64).T   # (W, 4)
        out.append(Motif(f"{m.matrix_id} {m.name}", normalise(counts), "jaspar"))
    return tuple(out)


def jaspar_motifs(collection: str = "CORE", tax_group: str | None = "vertebrates"
                  ) -> list[Motif]:
    """Latest version of every matrix in a JASPAR collection and taxonomic group.

    Names are "MA0139.2 CTCF" (matrix id, TF name), PWMs the normalised counts (no
    pseudocount: the scanner adds one), source "jaspar".  ``tax_group=None`` takes all
    groups.  Cached per process; the list is new on each call, the Motifs are shared.
    """
    return list(_load(collection, tax_group))
