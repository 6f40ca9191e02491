"""FASTA + BEDPE -> on-disk dataset: unique element windows as uint8 codes, a pair table.

Streaming: the BEDPE is read in chunks; each chunk's new elements are fetched from the
FASTA in position-sorted blocks, encoded with a lookup table and appended to the element
files. Memory is bounded by the chunk size and the number of unique elements, not by the
number of pairs. Layout: docs/dataset.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .candidates import centre_distance
from .dataset import FORMAT
from .encode import N_CODE
from .errors import PrismInputError
from .io.bed import BEDPE, BEDPE_COLUMNS, TableReader

ANCHORS = ("center", "start", "end", "five_prime")
BLOCK_SPAN = 1 << 20  # windows are fetched together in blocks of at most 1 Mbp ...
BLOCK_GAP = 1 << 13   # ... joining the next window only if it starts within 8 kb


@dataclass
class WindowSpec:
    """A fixed-length window placed on an element.

    ``center``: centred on the element; ``start``/``end``: beginning at the element's start
    / ending at its end; ``five_prime``: beginning at the 5' end on the element's strand
    (start for + or ., end for -, extending upstream-to-downstream).
    """
    length: int
    anchor: str = "center"

    def starts(self, start, end, strand) -> np.ndarray:
        start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
        if self.anchor == "center":
            return (start + end) // 2 - self.length // 2
        if self.anchor == "start":
            return start
        if self.anchor == "end":
            return end - self.length
        minus = np.asarray(strand, dtype=str) == "-"
        return np.where(minus, end - self.length, start)


class ElementStore:
    """Unique elements of one role: index assignment, window codes appended to a file."""

    def __init__(self, genome, spec: WindowSpec, root: Path, role: str):
        self.genome, self.spec, self.role = genome, spec, role
        self.index: dict[tuple, int] = {}
        self.codes_fh = open(root / f"{role}s.u8", "wb")
        self.table_fh = open(root / f"{role}s.tsv", "w")
        self.table_fh.write("chrom\tstart\tend\tstrand\twin_start\twin_end\tn_outside\tn_N\n")
        self.n_bases = 0
        self.n_N = 0
        self.n_outside = 0
        self.n_N_each: list[np.ndarray] = []  # N count per element, in index order

    def __len__(self) -> int:
        return len(self.index)

    def add(self, chroms, starts, ends, strands) -> np.ndarray:
        """Indices of the given elements, storing new ones. Returns int64, shape=(n,).

        The distinct elements of the call are found column-wise (pandas factorize); only
        those are looked up in the index, new ones numbered in order of first appearance.
        """
        use_strand = self.spec.anchor == "five_prime"
        keys = [chroms, starts, ends] + ([strands] if use_strand else [])
        group = _first_seen_groups(keys)
        first = np.unique(group, return_index=True)[1]  # one row per distinct element
        c, s, e = chroms[first].tolist(), starts[first].tolist(), ends[first].tolist()
        t = strands[first].tolist() if use_strand else [None] * len(first)
        index, new = self.index, []
        gidx = np.empty(len(first), dtype=np.int64)
        for g, key in enumerate(zip(c, s, e, t)):
            j = index.get(key)
            if j is None:
                j = index[key] = len(index)
                new.append(key)
            gidx[g] = j
        if new:
            self._store(new)
        return gidx[group]

    def _store(self, new: list[tuple]) -> None:
        L = self.spec.length
        chroms = np.array([k[0] for k in new], dtype=object)
        starts = np.array([k[1] for k in new], dtype=np.int64)
        ends = np.array([k[2] for k in new], dtype=np.int64)
        strands = np.array([k[3] or "." for k in new], dtype=object)
        wstart = self.spec.starts(starts, ends, strands)
        codes = np.empty((len(new), L), dtype=np.uint8)
        outside = np.zeros(len(new), dtype=np.int64)
        order = np.lexsort((wstart, chroms.astype(str)))
        i = 0
        while i < len(order):  # blocks of nearby windows on one chromosome, one fetch each
            j = i
            chrom, lo = chroms[order[i]], wstart[order[i]]
            while (j + 1 < len(order) and chroms[order[j + 1]] == chrom
                   and wstart[order[j + 1]] + L - lo <= BLOCK_SPAN
                   and wstart[order[j + 1]] - (wstart[order[j]] + L) <= BLOCK_GAP):
                j += 1
            hi = wstart[order[j]] + L
            block, _ = self.genome.fetch_codes(chrom, int(lo), int(hi))
            length = self.genome.lengths[chrom]
            for k in order[i:j + 1]:
                s = wstart[k]
                codes[k] = block[s - lo: s - lo + L]
                outside[k] = max(0, -s) + max(0, s + L - length)
            i = j + 1
        n_n = (codes == N_CODE).sum(axis=1)
        self.codes_fh.write(codes.tobytes())
        pd.DataFrame({"chrom": chroms, "start": starts, "end": ends, "strand": strands,
                      "win_start": wstart, "win_end": wstart + L, "n_outside": outside,
                      "n_N": n_n}).to_csv(self.table_fh, sep="\t", header=False, index=False)
        self.n_bases += codes.size
        self.n_N += int(n_n.sum())
        self.n_N_each.append(n_n)
        self.n_outside += int(outside.sum())

    def n_counts(self) -> np.ndarray:
        """N bases per element window, shape=(n_elements,)."""
        return np.concatenate(self.n_N_each) if self.n_N_each else np.zeros(0, np.int64)

    def close(self) -> None:
        self.codes_fh.close()
        self.table_fh.close()


@dataclass
class CellTally:
    pairs: int = 0
    positives: int = 0
    labelled: int = 0
    enhancers: set = field(default_factory=set)
    promoters: set = field(default_factory=set)


class _HashingWriter:
    """Binary sink that writes to a file and keeps a sha256 of what it wrote."""

    def __init__(self, path: Path):
        self.fh = open(path, "wb")
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.fh.write(data)

    def close(self) -> None:
        self.fh.close()


def extract(genome, pairs_path, root: Path, enhancer: WindowSpec, promoter: WindowSpec,
            cells: list[str] | None = None, cell_col: str = "cell", label_col: str = "label",
            default_cell: str = ".", progress=None, source: dict | None = None,
            chunk_rows: int = 50_000) -> dict:
    """Build a dataset in ``root`` (an empty folder) and return its manifest.

    ``progress(bytes_read, bytes_total)`` is called after each chunk when given.
    """
    reader = TableReader(pairs_path, BEDPE, genome=genome, label_col=label_col,
                         required=[cell_col] if cells else [], chunk_rows=chunk_rows)
    stores = {"enhancer": ElementStore(genome, enhancer, root, "enhancer"),
              "promoter": ElementStore(genome, promoter, root, "promoter")}
    out = _HashingWriter(root / "pairs.tsv")
    tallies: dict[str, CellTally] = {}
    extra_cols: list[str] | None = None
    try:
        for chunk in reader:
            if extra_cols is None:
                extra_cols = [c for c in reader.columns[len(BEDPE_COLUMNS):]
                              if c not in (cell_col, label_col)]
                header = BEDPE_COLUMNS + ["cell", "label", "distance", "enh_idx", "prom_idx"]
                out.write(("\t".join(header + extra_cols) + "\n").encode())
            chunk = _prepare(chunk, reader, cells, cell_col, label_col, default_cell)
            if chunk is None:
                continue
            chunk["enh_idx"] = stores["enhancer"].add(
                chunk["chrom1"].to_numpy(), chunk["start1"].to_numpy(),
                chunk["end1"].to_numpy(), chunk["strand1"].to_numpy())
            chunk["prom_idx"] = stores["promoter"].add(
                chunk["chrom2"].to_numpy(), chunk["start2"].to_numpy(),
                chunk["end2"].to_numpy(), chunk["strand2"].to_numpy())
            chunk["distance"] = centre_distance(chunk["start1"], chunk["end1"],
                                                chunk["start2"], chunk["end2"])
            cols = BEDPE_COLUMNS + ["cell", "label", "distance", "enh_idx", "prom_idx"]
            out.write(tsv_bytes(chunk[cols + extra_cols]))
            _tally(chunk, tallies)
            del chunk  # freed before the reader parses the next one
            if progress:
                progress(reader.bytes_read, reader.bytes_total)
    finally:
        out.close()
        for s in stores.values():
            s.close()
    if cells:
        missing = [c for c in cells if c not in tallies]
        if missing:
            raise PrismInputError(f"cell(s) {', '.join(missing)} not found in column "
                                  f"'{cell_col}'", str(pairs_path))
    n_pairs = sum(t.pairs for t in tallies.values())
    if n_pairs == 0:
        raise PrismInputError("no pairs to extract", str(pairs_path))
    e, p = stores["enhancer"], stores["promoter"]
    manifest = {
        "format": FORMAT, "version": __version__,
        "genome": {"path": str(Path(genome.path).resolve()), "fai_md5": genome.fai_md5()},
        "source": source or {"pairs": str(Path(pairs_path).resolve())},
        "enhancer_length": enhancer.length, "promoter_length": promoter.length,
        "enhancer_anchor": enhancer.anchor, "promoter_anchor": promoter.anchor,
        "n_pairs": n_pairs, "n_enhancers": len(e), "n_promoters": len(p),
        "n_fraction": (e.n_N + p.n_N) / max(e.n_bases + p.n_bases, 1),
        "n_outside": e.n_outside + p.n_outside,
        "cells": {c: _cell_summary(t, e, p) for c, t in sorted(tallies.items())},
        "columns": extra_cols or [],
        "sha256": out.sha.hexdigest(),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _prepare(chunk, reader, cells, cell_col, label_col, default_cell):
    """Cell/label columns, cell filter and the intra-chromosomal check for one chunk."""
    chunk["cell"] = chunk[cell_col] if cell_col in chunk else default_cell
    if cells:
        chunk = chunk[chunk["cell"].isin(cells)]
        if chunk.empty:
            return None
    chunk["label"] = chunk[label_col] if label_col in chunk else np.int8(-1)
    inter = (chunk["chrom1"] != chunk["chrom2"]).to_numpy()
    if inter.any():
        row = chunk.iloc[int(np.flatnonzero(inter)[0])]
        raise PrismInputError(f"inter-chromosomal pair ({row.chrom1} - {row.chrom2}); enhancer and "
                              "promoter must be on one chromosome", reader.name, int(row._line))
    return chunk.copy()


def _cell_summary(t: CellTally, e: ElementStore, p: ElementStore) -> dict:
    ne, np_ = e.n_counts(), p.n_counts()
    ie, ip = np.fromiter(t.enhancers, np.int64), np.fromiter(t.promoters, np.int64)
    bases = len(ie) * e.spec.length + len(ip) * p.spec.length
    return {"pairs": t.pairs, "positives": t.positives, "labelled": t.labelled,
            "enhancers": len(ie), "promoters": len(ip),
            "n_fraction": float(ne[ie].sum() + np_[ip].sum()) / max(bases, 1)}


def _tally(chunk: pd.DataFrame, tallies: dict[str, CellTally]) -> None:
    for cell, g in chunk.groupby("cell", sort=False):
        t = tallies.setdefault(cell, CellTally())
        lab = g["label"].to_numpy()
        t.pairs += len(g)
        t.positives += int((lab == 1).sum())
        t.labelled += int((lab >= 0).sum())
        t.enhancers.update(np.unique(g["enh_idx"]).tolist())
        t.promoters.update(np.unique(g["prom_idx"]).tolist())


def _first_seen_groups(keys: list[np.ndarray]) -> np.ndarray:
    """Group number of each row by its values in ``keys`` (same-length columns), groups
    numbered in order of first appearance. Returns int64, shape=(n,)."""
    group, _ = pd.factorize(keys[0])
    for col in keys[1:]:
        codes, uniq = pd.factorize(col)
        group, _ = pd.factorize(group.astype(np.int64) * len(uniq) + codes)
    return group.astype(np.int64)


# --------------------------------------------------------------------------- pairs.tsv

_POW10 = 10 ** np.arange(19, dtype=np.int64)
_DIGITS4 = (np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1]) % 10
            + ord("0")).astype(np.uint8)  # "0000" ... "9999", shape=(10000, 4)
_MAX_CELLS = 1 << 21  # padded bytes per column table; a chunk with long values is halved
_QUOTED = (b'"', b"\t", b"\r", b"\x00")  # to_csv would quote these; NUL is the padding


class _TooWide(Exception):
    """A column's padded table would pass _MAX_CELLS bytes."""


def tsv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as tab-separated lines (no header, no index) in UTF-8: byte for byte what
    ``frame.to_csv(sep="\t", header=False, index=False)`` writes, built with numpy.

    Each column becomes a zero-padded byte table, shape=(rows, widest value); the tables
    and separators are joined side by side and the padding dropped. A column that is
    neither integers nor plain strings, a value to_csv would quote, or a one-column frame
    falls back to ``to_csv``.
    """
    n, k = frame.shape
    if n == 0:
        return b""
    try:
        cols = [_field_table(frame.iloc[:, j], _MAX_CELLS if n > 1 else None)
                for j in range(k)] if k > 1 else [None]
    except _TooWide:  # a few very long values: two smaller tables
        return tsv_bytes(frame.iloc[:n // 2]) + tsv_bytes(frame.iloc[n // 2:])
    if any(c is None for c in cols):
        return frame.to_csv(sep="\t", header=False, index=False).encode()
    sep = np.full((n, 1), ord("\t"), dtype=np.uint8)
    parts = [x for c in cols for x in (c, sep)]
    parts[-1] = np.full((n, 1), ord("\n"), dtype=np.uint8)
    table = np.hstack(parts)
    return table[table != 0].tobytes()


def _field_table(col: pd.Series, max_bytes: int | None) -> np.ndarray | None:
    """One column as a zero-padded uint8 table, shape=(n, width); None if not plain."""
    values = col.to_numpy()
    if values.dtype.kind in "iu":
        return _int_table(values.astype(np.int64))
    try:
        blob = ("\n".join(col.tolist()) + "\n").encode()
    except (TypeError, UnicodeEncodeError):
        return None
    if any(c in blob for c in _QUOTED) or blob.count(b"\n") != len(values):
        return None
    a = np.frombuffer(blob, dtype=np.uint8)
    end = np.flatnonzero(a == 10)
    start = np.concatenate([[0], end[:-1] + 1])
    length = end - start
    width = max(int(length.max()), 1)
    if max_bytes is not None and len(values) * width > max_bytes:
        raise _TooWide
    at = np.arange(width)
    table = a[np.minimum(start[:, None] + at, len(a) - 1)]
    table[at >= length[:, None]] = 0
    return table


def _int_table(v: np.ndarray) -> np.ndarray:
    """Decimal digits of int64 ``v``, right-aligned, with a leading '-' where negative;
    four digits at a time from a lookup table."""
    mag = np.abs(v)
    digits = np.maximum(np.searchsorted(_POW10, mag, side="right"), 1)
    groups = []
    for _ in range(-(-int(digits.max()) // 4)):
        groups.append(_DIGITS4[mag % 10_000])
        mag = mag // 10_000
    table = np.hstack(groups[::-1])
    w = table.shape[1]
    table[np.arange(w) < (w - digits)[:, None]] = 0
    if (v < 0).any():
        sign = np.where(v < 0, ord("-"), 0).astype(np.uint8)[:, None]
        table = np.hstack([sign, table])
    return table
