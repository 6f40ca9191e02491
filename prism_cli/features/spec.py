"""``--element-features``: which element features a model reads.

A comma-separated list of sources (order does not matter):

    discover       motifs learned label-free from the training-chromosome elements
    jaspar         known motifs: JASPAR CORE vertebrates (pyjaspar's bundled database)
    table:PATH     columns of a per-element feature table (features/table.py)
    conv           the convolutional sequence towers (+ k-mer token), learned from pairs

e.g. ``discover`` (the default), ``jaspar,discover``, ``table:world/element_features.tsv``,
``discover,conv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PrismInputError

MOTIF_SOURCES = ("discover", "jaspar")
DEFAULT = "discover"


@dataclass(frozen=True)
class FeatureSpec:
    motifs: tuple[str, ...] = ()   # subset of MOTIF_SOURCES, in that order
    table: str | None = None       # absolute path of the feature table
    conv: bool = False

    @classmethod
    def parse(cls, text: str | None) -> "FeatureSpec":
        text = DEFAULT if text is None else text
        motifs, table, conv = set(), None, False
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise PrismInputError(f"--element-features {text!r}: name at least one source "
                                  "(discover, jaspar, table:PATH, conv)")
        for item in items:
            if item in MOTIF_SOURCES:
                motifs.add(item)
            elif item == "conv":
                conv = True
            elif item.startswith("table:") and item[6:]:
                if table is not None:
                    raise PrismInputError("--element-features: only one table:PATH")
                path = Path(item[6:])
                if not path.is_file():
                    raise PrismInputError("feature table not found", str(path))
                table = str(path.resolve())
            else:
                raise PrismInputError(f"--element-features: unknown source {item!r} (choose from "
                                      "discover, jaspar, table:PATH, conv)")
        return cls(tuple(s for s in MOTIF_SOURCES if s in motifs), table, conv)

    @property
    def has_features(self) -> bool:
        return bool(self.motifs or self.table)

    @property
    def feature_dropout(self) -> float | None:
        """The feature tower's default input dropout: 0 for a table without motif
        sources (exact values, read as they are; a conv tower beside it keeps its own
        dropout), None (the model's dropout, 0.3) with motif sources, whose redundant
        motifs over-fit without it.  Chosen on validation chromosomes of the
        20 Mb simulated world (docs/benchmarks.md, "feature dropout")."""
        return 0.0 if self.table and not self.motifs else None

    def __str__(self) -> str:
        parts = list(self.motifs) + ([f"table:{self.table}"] if self.table else [])
        return ",".join(parts + (["conv"] if self.conv else []))

    def to_dict(self) -> dict:
        return {"motifs": list(self.motifs), "table": self.table, "conv": self.conv}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        return cls(tuple(d.get("motifs", ())), d.get("table"), bool(d.get("conv", False)))
