"""Leave-one-cell-out x chromosome splits for the cross-cell benchmark (DESIGN §3).

For a held-out cell h and chromosome sets (val, test):

* training cells  = every other labelled cell;
* train rows      = training cells' labelled pairs on training chromosomes (neither val
                    nor test): what every method may fit on;
* val rows        = training cells' labelled pairs on val chromosomes: model / hyper-
                    parameter selection (best epoch, k of the k-mer baseline), nothing else;
* support pool    = h's labelled pairs on training chromosomes; the support sets of sizes
                    16, 64, 256 are nested stratified draws from it (seeded);
* query           = h's labelled pairs on test chromosomes, which no training cell used
                    either, minus every pair that shares an enhancer or promoter window
                    (by sequence, so identical windows at different coordinates count) with
                    the train/val rows or the support pool.  The removed pairs are counted.

A pair belongs to a chromosome split only when both ends are on it (``prism train``'s
rule, ``prism_cli.train.splits.assign_splits``); pairs straddling splits are dropped.

Pure numpy/pandas: no model, no torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prism_cli.train.splits import assign_splits

SUPPORT_SIZES = (16, 64, 256)
MIN_PER_CLASS = 2   # what `prism adapt` needs of each class


@dataclass
class Fold:
    """One held-out cell: row indices into the dataset's pairs table (int64 arrays)."""

    held_out: str
    training_cells: list[str]
    train: np.ndarray
    val: np.ndarray
    support_pool: np.ndarray
    query: np.ndarray
    supports: dict[int, np.ndarray] = field(default_factory=dict)   # size -> rows (nested)
    dedup: dict = field(default_factory=dict)                      # what was removed, why

    def summary(self) -> dict:
        return {"held_out": self.held_out, "training_cells": ",".join(self.training_cells),
                "train_pairs": len(self.train), "val_pairs": len(self.val),
                "support_pool": len(self.support_pool), "query_pairs": len(self.query),
                **{f"support_{n}": len(r) for n, r in self.supports.items()},
                **{f"dedup_{k}": v for k, v in self.dedup.items()}}


def window_hashes(codes: np.ndarray) -> np.ndarray:
    """A digest per element window (identical bases -> identical digest).

    codes : uint8, shape=(n, L).  Returns object array of 16-byte digests, shape=(n,).
    """
    return np.array([hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=16)
                     .digest() for row in codes], dtype=object)


def split_of_pairs(pairs: pd.DataFrame, val: list[str], test: list[str]) -> np.ndarray:
    """'train' / 'val' / 'test' / 'none' per pair (prism train's rule)."""
    return assign_splits(pairs["chrom1"].to_numpy(), pairs["chrom2"].to_numpy(), val, test)


def labelled_cells(pairs: pd.DataFrame) -> list[str]:
    return sorted(set(pairs.loc[pairs["label"] >= 0, "cell"]) - {"."})


def nested_supports(pool: np.ndarray, labels: np.ndarray, sizes=SUPPORT_SIZES,
                    seed: int = 0) -> dict[int, np.ndarray]:
    """Nested, stratified support sets drawn from ``pool`` (rows of the pairs table).

    Each size n keeps the pool's class balance: round(n * prevalence) positives, clipped
    to [MIN_PER_CLASS, n - MIN_PER_CLASS]; the positives (and negatives) of a smaller set
    are the first ones of a larger set, so support 16 ⊂ 64 ⊂ 256.  A size larger than
    the pool (or than one class allows) is capped; the result maps each requested size to
    its rows (shape=(<= n,)), sorted.
    """
    rng = np.random.default_rng(seed)
    pool = np.asarray(pool, dtype=np.int64)
    y = labels[pool]
    pos = rng.permutation(pool[y == 1])
    neg = rng.permutation(pool[y == 0])
    if len(pos) < MIN_PER_CLASS or len(neg) < MIN_PER_CLASS:
        raise ValueError(f"support pool has {len(pos)} positives and {len(neg)} negatives; "
                         f"need >= {MIN_PER_CLASS} of each")
    prevalence = len(pos) / (len(pos) + len(neg))
    out, last_k = {}, 0
    for n in sorted(sizes):
        n_eff = min(n, len(pos) + len(neg))
        k = int(round(n_eff * prevalence))
        k = max(MIN_PER_CLASS, min(k, n_eff - MIN_PER_CLASS, len(pos)))
        k = max(k, last_k)                                 # keep the sets nested
        m = min(n_eff - k, len(neg))
        out[n] = np.sort(np.concatenate([pos[:k], neg[:m]]))
        last_k = k
    return out


def make_fold(pairs: pd.DataFrame, held_out: str, val: list[str], test: list[str],
              enh_hash: np.ndarray | None = None, prom_hash: np.ndarray | None = None,
              sizes=SUPPORT_SIZES, seed: int = 0,
              training_cells: list[str] | None = None) -> Fold:
    """The leave-``held_out``-out fold (see the module docstring).

    pairs     : the dataset's pairs table (columns chrom1, chrom2, cell, label, enh_idx,
                prom_idx)
    enh_hash, prom_hash : window digests per element row (``window_hashes``); without
                them elements are compared by index (= by coordinates)
    training_cells : default = every other labelled cell
    """
    labels = pairs["label"].to_numpy()
    cell = pairs["cell"].to_numpy()
    split = split_of_pairs(pairs, val, test)
    cells = labelled_cells(pairs)
    if held_out not in cells:
        raise ValueError(f"held-out cell {held_out!r} has no labelled pairs ({cells})")
    training = training_cells or [c for c in cells if c != held_out]
    if held_out in training:
        raise ValueError("the held-out cell cannot be a training cell")
    lab = labels >= 0
    in_train_cells = np.isin(cell, training) & lab
    is_h = (cell == held_out) & lab
    train = np.flatnonzero(in_train_cells & (split == "train"))
    val_rows = np.flatnonzero(in_train_cells & (split == "val"))
    pool = np.flatnonzero(is_h & (split == "train"))
    query0 = np.flatnonzero(is_h & (split == "test"))

    enh_idx = pairs["enh_idx"].to_numpy()
    prom_idx = pairs["prom_idx"].to_numpy()
    e_key = enh_hash[enh_idx] if enh_hash is not None else enh_idx
    p_key = prom_hash[prom_idx] if prom_hash is not None else prom_idx
    seen = np.concatenate([train, val_rows, pool])
    seen_e, seen_p = set(e_key[seen].tolist()), set(p_key[seen].tolist())
    shared_e = np.array([k in seen_e for k in e_key[query0]], dtype=bool)
    shared_p = np.array([k in seen_p for k in p_key[query0]], dtype=bool)
    keep = ~(shared_e | shared_p)
    query = query0[keep]

    # informational: query pairs also labelled in a training cell (on the test
    # chromosomes, which nobody trains on), and how often those labels agree
    pair_key = pairs["chrom1"].astype(str) + ":" + pairs["start1"].astype(str) + "-" + \
        pairs["end1"].astype(str) + "|" + pairs["start2"].astype(str) + "-" + \
        pairs["end2"].astype(str)
    pk = pair_key.to_numpy()
    other_test = np.flatnonzero(in_train_cells & (split == "test"))
    other_label = pd.Series(labels[other_test], index=pk[other_test]).groupby(level=0).max()
    in_other = np.isin(pk[query], other_label.index)
    agree = (other_label.reindex(pk[query][in_other]).to_numpy() == labels[query][in_other])

    dedup = {"query_before": int(len(query0)),
             "removed_shared_enhancer": int(shared_e.sum()),
             "removed_shared_promoter": int(shared_p.sum()),
             "removed": int((~keep).sum()),
             "straddling_pairs_dropped": int(((cell == held_out) & lab & (split == "none"))
                                             .sum()),
             "query_pairs_labelled_in_other_cells": int(in_other.sum()),
             "their_label_agreement": float(agree.mean()) if agree.size else float("nan")}
    if len(query) == 0:
        raise ValueError(f"held-out cell {held_out!r} has no query pairs on {test}")
    supports = nested_supports(pool, labels, sizes, seed)
    return Fold(held_out, list(training), train, val_rows, pool, query, supports, dedup)
