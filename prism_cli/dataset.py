"""Read the on-disk dataset that ``prism extract`` writes (layout: docs/dataset.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PrismInputError

FORMAT = "prism-dataset"
PAIR_DTYPES = {"chrom1": str, "chrom2": str, "name": str, "score": str, "strand1": str,
               "strand2": str, "cell": str}


class PairDataset:
    """An extracted dataset.

    Attributes
    ----------
    manifest : dict
    enhancers : np.memmap, uint8, shape=(n_enhancers, enhancer_length)
    promoters : np.memmap, uint8, shape=(n_promoters, promoter_length)
    pairs : pandas.DataFrame, one row per pair (enh_idx, prom_idx, cell, label, distance, ...)

    ``pairs`` given: the pair table is that frame (one kept in memory by
    ``extract.extract_in_memory``, which writes no pairs.tsv), not read from pairs.tsv.
    """

    def __init__(self, root: str | Path, pairs: pd.DataFrame | None = None):
        self.root = Path(root)
        mf = self.root / "manifest.json"
        if not mf.exists():
            raise PrismInputError("not a PRISM dataset (no manifest.json); make one with "
                                  "`prism extract`", str(root))
        try:
            self.manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as err:
            raise PrismInputError(f"manifest is not valid JSON ({err.msg}); re-run `prism extract`",
                                  str(mf), err.lineno) from None
        except (UnicodeDecodeError, OSError) as err:
            raise PrismInputError(f"unreadable manifest ({type(err).__name__}); re-run "
                                  "`prism extract`", str(mf)) from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise PrismInputError("manifest.json is not a PRISM dataset manifest", str(mf))
        try:
            self.enhancer_length = int(self.manifest["enhancer_length"])
            self.promoter_length = int(self.manifest["promoter_length"])
            self.enhancers = self._memmap("enhancers.u8", self.manifest["n_enhancers"],
                                          self.enhancer_length)
            self.promoters = self._memmap("promoters.u8", self.manifest["n_promoters"],
                                          self.promoter_length)
            if pairs is None:
                pairs = pd.read_csv(self.root / "pairs.tsv", sep="\t", dtype=PAIR_DTYPES,
                                    keep_default_na=False)
                pairs["label"] = pairs["label"].astype(np.int8)
            self.pairs = pairs
        except (KeyError, TypeError, ValueError, OSError, pd.errors.ParserError) as err:
            what = f"missing {err}" if isinstance(err, KeyError) else str(err).splitlines()[0]
            raise PrismInputError(f"damaged dataset ({what}); re-run `prism extract`",
                                  str(root)) from None

    def _memmap(self, name: str, n: int, length: int) -> np.ndarray:
        path = self.root / name
        if n == 0:
            return np.zeros((0, length), dtype=np.uint8)
        return np.memmap(path, dtype=np.uint8, mode="r", shape=(int(n), length))

    @property
    def checksum(self) -> str:
        return self.manifest["sha256"]

    @property
    def cells(self) -> list[str]:
        return sorted(self.manifest["cells"])

    def log_distance(self) -> np.ndarray:
        """log10 of the enhancer-promoter centre distance, shape=(n_pairs,), float32."""
        return np.log10(np.maximum(self.pairs["distance"].to_numpy(), 1)).astype(np.float32)

    def enhancer_table(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "enhancers.tsv", sep="\t", dtype={"chrom": str})

    def promoter_table(self) -> pd.DataFrame:
        return pd.read_csv(self.root / "promoters.tsv", sep="\t", dtype={"chrom": str})

    def __len__(self) -> int:
        return len(self.pairs)
