"""FASTA + BEDPE -> on-disk dataset: unique element windows as uint8 codes, a pair table.

Streaming: the BEDPE is read in chunks; each chunk's new elements are fetched from the
FASTA in position-sorted blocks, encoded with a lookup table and appended to the element
files. Memory is bounded by the chunk size and the number of unique elements, not by the
number of pairs. Layout: docs/dataset.md. ``extract_in_memory`` (``prism score``'s
temporary dataset) keeps the pair table in memory instead of writing pairs.tsv.
"""

from __future__ import annotations

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
from .pair_table import PAIR_HEADER, FrameSink, NotPlain, TsvSink

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


def extract(genome, pairs_path, root: Path, enhancer: WindowSpec, promoter: WindowSpec,
            cells: list[str] | None = None, cell_col: str = "cell", label_col: str = "label",
            default_cell: str = ".", progress=None, source: dict | None = None,
            chunk_rows: int = 50_000, parsed=None) -> dict:
    """Build a dataset in ``root`` (an empty folder) and return its manifest.

    ``progress(bytes_read, bytes_total)`` is called after each chunk when given.
    ``parsed``: the chunks of ``pairs_path`` already read and validated with these options
    (a :class:`~prism_cli.io.bed.KeptTable`), used instead of reading the file again.
    """
    sink = TsvSink(root / "pairs.tsv")
    return _extract(genome, pairs_path, root, enhancer, promoter, cells, cell_col, label_col,
                    default_cell, progress, source, chunk_rows, parsed, sink)


def extract_in_memory(genome, pairs_path, root: Path, enhancer: WindowSpec,
                      promoter: WindowSpec, cell_col: str = "cell", label_col: str = "label",
                      default_cell: str = ".", progress=None, parsed=None
                      ) -> tuple[dict, pd.DataFrame | None]:
    """:func:`extract`, but the pair table stays in memory instead of going to pairs.tsv:
    ``(manifest, pairs)``, ``pairs`` the frame :class:`~prism_cli.dataset.PairDataset`
    would read back from pairs.tsv (same columns, names, dtypes and values).

    For a dataset used once and removed (``prism score``'s): the element files and the
    manifest are written as by :func:`extract`, pairs.tsv is not, and the manifest's
    ``sha256`` is a digest of the pair table's integer columns, naming the dataset for the
    feature cache. An extra input column with a value that is not a plain integer (how
    pandas' reader would type it, only that reader knows), or a header name with a quote,
    makes it :func:`extract` after all (the file read again): ``pairs`` is then None and
    the dataset is read from disk.
    """
    sink = FrameSink()
    try:
        manifest = _extract(genome, pairs_path, root, enhancer, promoter, None, cell_col,
                            label_col, default_cell, progress, None, 50_000, parsed, sink)
    except NotPlain:
        for role in ("enhancer", "promoter"):  # this attempt's files
            for ext in (".u8", ".tsv"):
                (root / f"{role}s{ext}").unlink(missing_ok=True)
        return extract(genome, pairs_path, root, enhancer, promoter, cell_col=cell_col,
                       label_col=label_col, default_cell=default_cell,
                       progress=progress), None
    return manifest, sink.table()


def _extract(genome, pairs_path, root, enhancer, promoter, cells, cell_col, label_col,
             default_cell, progress, source, chunk_rows, parsed, sink) -> dict:
    """:func:`extract`, the pair table going to ``sink`` (TsvSink or FrameSink)."""
    reader = parsed if parsed is not None else TableReader(
        pairs_path, BEDPE, genome=genome, label_col=label_col,
        required=[cell_col] if cells else [], chunk_rows=chunk_rows)
    stores = {"enhancer": ElementStore(genome, enhancer, root, "enhancer"),
              "promoter": ElementStore(genome, promoter, root, "promoter")}
    tallies: dict[str, CellTally] = {}
    extra_cols: list[str] | None = None
    try:
        for chunk in reader:
            if extra_cols is None:
                extra_cols = [c for c in reader.columns[len(BEDPE_COLUMNS):]
                              if c not in (cell_col, label_col)]
                sink.start(PAIR_HEADER + extra_cols)
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
            sink.write(chunk[PAIR_HEADER + extra_cols])
            _tally(chunk, tallies)
            del chunk  # freed before the reader parses the next one
            if progress:
                progress(reader.bytes_read, reader.bytes_total)
    finally:
        sink.close()
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
        "sha256": sink.sha256(),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _prepare(chunk, reader, cells, cell_col, label_col, default_cell):
    """Cell/label columns, cell filter and the intra-chromosomal check for one chunk (the
    reader's own frame, given the columns in place)."""
    chunk["cell"] = chunk[cell_col] if cell_col in chunk else default_cell
    if cells:
        chunk = chunk[chunk["cell"].isin(cells)].copy()
        if chunk.empty:
            return None
    chunk["label"] = chunk[label_col] if label_col in chunk else np.int8(-1)
    inter = (chunk["chrom1"] != chunk["chrom2"]).to_numpy()
    if inter.any():
        row = chunk.iloc[int(np.flatnonzero(inter)[0])]
        raise PrismInputError(f"inter-chromosomal pair ({row.chrom1} - {row.chrom2}); enhancer and "
                              "promoter must be on one chromosome", reader.name, int(row._line))
    return chunk


def _cell_summary(t: CellTally, e: ElementStore, p: ElementStore) -> dict:
    ne, np_ = e.n_counts(), p.n_counts()
    ie, ip = np.fromiter(t.enhancers, np.int64), np.fromiter(t.promoters, np.int64)
    bases = len(ie) * e.spec.length + len(ip) * p.spec.length
    return {"pairs": t.pairs, "positives": t.positives, "labelled": t.labelled,
            "enhancers": len(ie), "promoters": len(ip),
            "n_fraction": float(ne[ie].sum() + np_[ip].sum()) / max(bases, 1)}


def _tally(chunk: pd.DataFrame, tallies: dict[str, CellTally]) -> None:
    """Add the chunk's pairs, labels and elements to the tally of each of its cells."""
    codes, cells = pd.factorize(chunk["cell"].to_numpy(dtype=object))
    label, enh, prom = (chunk[c].to_numpy() for c in ("label", "enh_idx", "prom_idx"))
    for k, cell in enumerate(cells.tolist()):
        rows = codes == k if len(cells) > 1 else slice(None)
        t = tallies.setdefault(cell, CellTally())
        lab = label[rows]
        t.pairs += len(lab)
        t.positives += int((lab == 1).sum())
        t.labelled += int((lab >= 0).sum())
        t.enhancers.update(np.unique(enh[rows]).tolist())
        t.promoters.update(np.unique(prom[rows]).tolist())


def _first_seen_groups(keys: list[np.ndarray]) -> np.ndarray:
    """Group number of each row by its values in ``keys`` (same-length columns), groups
    numbered in order of first appearance. Returns int64, shape=(n,)."""
    group, _ = pd.factorize(keys[0])
    for col in keys[1:]:
        codes, uniq = pd.factorize(col)
        group, _ = pd.factorize(group.astype(np.int64) * len(uniq) + codes)
    return group.astype(np.int64)
