"""Chromosome splits: train / val / test, never a random split of loci.

Defaults when the user gives none (users should give them):

* a genome with >= 10 chromosomes (e.g. hg19): test = chr1-chr4 (the held-out
  chromosomes of the TargetFinder benchmark protocol), val = chr5, chr6;
* a small genome (e.g. ``prism simulate``, chr1..chr4): test = the last chromosome,
  val = the one before it (chr4 and chr3);
* two chromosomes: val = the last, no test chromosome.

A pair belongs to a split only if both of its chromosomes are in it; a pair straddling
two splits is used nowhere.
"""

from __future__ import annotations

import numpy as np

from ..errors import PrismInputError
from ..io.bed import chrom_sort_key


def default_splits(chroms: list[str], val: list[str] | None = None,
                   test: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(val, test) chromosome lists, filling in whichever the user did not give."""
    chroms = sorted(set(chroms), key=chrom_sort_key)
    taken = set(val or []) | set(test or [])
    free = [c for c in chroms if c not in taken]
    numbered = [c for c in free if chrom_sort_key(c)[0] == 0]
    if test is None:
        if len(chroms) >= 10:
            test = [c for c in numbered if chrom_sort_key(c)[1] in (1, 2, 3, 4)]
        elif len(free) >= 3 or (val is not None and len(free) >= 2):
            test = [free[-1]]
        else:
            test = []
        free = [c for c in free if c not in test]
        numbered = [c for c in numbered if c not in test]
    if val is None:
        if len(chroms) >= 10:
            val = [c for c in numbered if chrom_sort_key(c)[1] in (5, 6)]
        elif len(free) >= 2:
            val = [free[-1]]
        else:
            val = []
    return list(val), list(test)


def assign_splits(chrom1: np.ndarray, chrom2: np.ndarray, val: list[str],
                  test: list[str]) -> np.ndarray:
    """Per pair: "train", "val", "test" or "none" (straddles splits)."""
    def split_of(chrom: np.ndarray) -> np.ndarray:
        out = np.full(len(chrom), "train", dtype=object)
        out[np.isin(chrom, list(val))] = "val"
        out[np.isin(chrom, list(test))] = "test"
        return out

    s1, s2 = split_of(np.asarray(chrom1)), split_of(np.asarray(chrom2))
    return np.where(s1 == s2, s1, "none").astype(object)


def check_splits(chroms: list[str], val: list[str], test: list[str]) -> None:
    overlap = set(val) & set(test)
    if overlap:
        raise PrismInputError(f"chromosomes in both --val-chroms and --test-chroms: "
                              f"{','.join(sorted(overlap))}")
    if not val:
        raise PrismInputError("no validation chromosome: give --val-chroms (validation on "
                              "held-out chromosomes is required)")
    for option, names in (("--val-chroms", val), ("--test-chroms", test)):
        missing = [c for c in names if c not in set(chroms)]
        if missing:  # a typo would silently train on the real test chromosome
            raise PrismInputError(f"{option}: chromosome(s) {','.join(missing)} not in the dataset "
                                  f"(it has {','.join(sorted(set(chroms), key=chrom_sort_key))})")


def check_validation_pairs(split: np.ndarray, labels: np.ndarray, cell_of_pair: np.ndarray,
                           cells: list[str], val: list[str]) -> None:
    """The validation chromosomes must hold labelled pairs of both classes for at least one
    validated cell; otherwise validation (and the best epoch) would be meaningless."""
    rows = (split == "val") & (labels >= 0) & np.isin(cell_of_pair, list(cells))
    y = labels[rows]
    if not rows.any() or y.min() == y.max():
        raise PrismInputError(f"--val-chroms {','.join(val)}: {int(rows.sum())} labelled pairs "
                              f"of the cells {','.join(cells)} there "
                              f"({int((y == 1).sum())} positive); "
                              "validation needs both classes: choose other validation chromosomes")
