"""External sort: scored chunks spilled to sorted run files, merged chromosome by chromosome."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .interact import _interact_bytes, _interact_chrom, interact_frame, interact_order
from .layout import (SLICE_ROWS, _bedpe_bytes, _coded_columns, _factorized, _natural,
                     _prepare, _take_coded, bedpe_order)


class ScoredParts:
    """Scored rows formatted into sorted run files in ``folder``, merged into an output
    by :func:`write_scored_bedpe`.

    Each added chunk is prepared, sorted and written as one run (+ an ``.npy`` of its
    integer sort keys).  A run's rows come grouped by chromosome (chrom1 for the BEDPE,
    chrom for interact records), so each chromosome is one contiguous segment of it.  The
    output is written chromosome by chromosome in output order: a chromosome held by one
    segment is copied as bytes, one held by several (spread over chunks) is merged by
    its segments' keys, stably (earlier runs win ties).  Memory: one chunk while adding;
    one chromosome's keys and text while merging, and only where it spans several runs.

    ``state()`` is JSON, and :meth:`combine` joins the states of several processes (the
    ranks of a torchrun job: prism_cli/shard.py) into one set of runs.
    """

    KINDS = ("bedpe", "interact")

    def __init__(self, folder: str | Path, interact: bool = False):
        self.folder = Path(folder)
        self.interact = interact
        self.columns: list[str] | None = None
        self.rows = 0
        self.runs: dict[str, list[dict]] = {k: [] for k in self.KINDS}

    @classmethod
    def spill(cls, chunks: Iterable[pd.DataFrame], folder: str | Path,
              interact: bool = False) -> "ScoredParts":
        """Add every chunk of ``chunks`` (any order; same columns) to new parts."""
        parts = cls(folder, interact)
        for chunk in chunks:
            parts.add(chunk)
        return parts

    def add(self, chunk: pd.DataFrame) -> None:
        factorized: dict = {}
        prepared, _ = _prepare(chunk, factorized)
        if self.columns is None:
            self.columns = list(prepared.columns)
        elif list(prepared.columns) != self.columns:
            raise ValueError(f"chunk {sum(map(len, self.runs.values()))} has columns "
                             f"{list(prepared.columns)}, expected {self.columns}")
        if prepared.empty:
            return
        self.rows += len(prepared)
        coded = _coded_columns(prepared, factorized)  # text factorized once for the chunk
        order = bedpe_order(prepared, factorized)
        prepared, coded = prepared.iloc[order], _take_coded(coded, order)
        chroms = _take_coded(factorized, order)
        chrom1, (codes2, names2) = chroms["chrom1"], chroms["chrom2"]
        keys = np.column_stack([prepared["start1"].to_numpy(np.int64),
                                prepared["end1"].to_numpy(np.int64), codes2.astype(np.int64),
                                prepared["start2"].to_numpy(np.int64),
                                prepared["end2"].to_numpy(np.int64)])
        self._spill("bedpe", chrom1, keys,
                    lambda rows: _bedpe_bytes(prepared.iloc[rows], _take_coded(coded, rows)),
                    [str(n) for n in names2])
        if self.interact:
            records = interact_frame(prepared)
            records = records.iloc[interact_order(records)]
            keys = np.column_stack([records["chromStart"].to_numpy(np.int64),
                                    records["chromEnd"].to_numpy(np.int64)])
            rcoded = _coded_columns(records)
            self._spill("interact", rcoded.get("chrom") or _factorized(records["chrom"]), keys,
                        lambda rows: _interact_bytes(records.iloc[rows],
                                                     _take_coded(rcoded, rows)), None)

    def _spill(self, kind: str, groups: tuple, keys: np.ndarray, text, names) -> None:
        """One sorted run: text, keys (n, k) int64 and the segment of each chromosome.
        groups: (codes, uniques) of each row's chromosome; text(rows) yields the bytes of
        the rows of a slice."""
        i = len(self.runs[kind])
        run = {"text": str(self.folder / f"{kind}.{i}.txt"),
               "keys": str(self.folder / f"{kind}.{i}.npy"), "names": names, "groups": []}
        codes, uniq = groups
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]])
        with open(run["text"], "wb") as fh:
            for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
                start = fh.tell()
                for piece in text(slice(lo, hi)):
                    fh.write(piece)
                run["groups"].append([str(uniq[codes[lo]]), lo, hi, start, fh.tell()])
        np.save(run["keys"], np.ascontiguousarray(keys, dtype=np.int64), allow_pickle=False)
        self.runs[kind].append(run)

    # ---- several processes ------------------------------------------------------------
    def state(self) -> dict:
        return {"columns": self.columns, "rows": self.rows, "interact": self.interact,
                "folder": str(self.folder), "runs": self.runs}

    @classmethod
    def combine(cls, states: list[dict]) -> "ScoredParts":
        """One set of parts from the states of several (in this order: earlier win ties)."""
        if not states:
            raise ValueError("no parts to combine")
        parts = cls(states[0]["folder"], bool(states[0]["interact"]))
        for st in states:
            if st["columns"] is None:
                continue
            if parts.columns is None:
                parts.columns = list(st["columns"])
            elif list(st["columns"]) != parts.columns:
                raise ValueError(f"parts with columns {st['columns']}, expected "
                                 f"{parts.columns}")
            if bool(st["interact"]) != parts.interact:
                raise ValueError("parts with and without interact records")
            parts.rows += int(st["rows"])
            for kind in cls.KINDS:
                parts.runs[kind].extend(st["runs"][kind])
        return parts

    # ---- merging ----------------------------------------------------------------------
    def write(self, kind: str, out) -> None:
        """Write the rows of ``kind`` to the binary handle ``out``, in output order."""
        segments: dict[str, list] = {}
        for run in self.runs[kind]:
            for name, lo, hi, start, end in run["groups"]:
                segments.setdefault(name, []).append((run, lo, hi, start, end))
        order = _natural if kind == "bedpe" else _interact_chrom
        for name in sorted(segments, key=order):
            segs = segments[name]
            if len(segs) == 1:
                _copy_bytes(segs[0][0]["text"], segs[0][3], segs[0][4], out)
            else:
                _merge_segments(segs, out, remap_names=kind == "bedpe")


def _copy_bytes(path: str, start: int, end: int, out) -> None:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            block = fh.read(min(left, 1 << 22))
            if not block:
                raise OSError(f"run file {path} is shorter than recorded")
            out.write(block)
            left -= len(block)


def _merge_segments(segs: list, out, remap_names: bool) -> None:
    """Rows of one chromosome from several runs, in key order (stable across runs).

    BEDPE keys are (start1, end1, chrom2, start2, end2) with chrom2 a code into the
    run's ``names``: codes become one natural-order rank first.  Lines that stay
    together in that order (all of them, when the runs follow one another) are copied as
    one block of bytes."""
    rank = {}
    if remap_names:
        names = {n for run, *_ in segs for n in run["names"]}
        rank = {n: i for i, n in enumerate(sorted(names, key=_natural))}
    keys = []
    for run, lo, hi, start, end in segs:
        k = np.array(np.load(run["keys"], mmap_mode="r")[lo:hi])
        if remap_names:
            k[:, 2] = np.array([rank[n] for n in run["names"]], dtype=np.int64)[k[:, 2]]
        keys.append(k)
    keys = np.concatenate(keys)
    order = np.lexsort(keys.T[::-1])  # stable; the first key column is the primary one
    if (order == np.arange(len(order))).all():
        for run, lo, hi, start, end in segs:
            _copy_bytes(run["text"], start, end, out)
        return
    pieces = []
    for run, lo, hi, start, end in segs:
        with open(run["text"], "rb") as fh:
            fh.seek(start)
            pieces.append(fh.read(end - start))
    text = b"".join(pieces)
    del pieces
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("\n")) + 1
    if len(ends) != len(keys):
        raise OSError("run files do not match their keys")
    starts = np.concatenate([[0], ends[:-1]])
    # blocks: runs of lines that are consecutive in the runs and in the output
    cut = np.flatnonzero(np.diff(order) != 1) + 1
    begin = starts[order[np.concatenate([[0], cut])]].tolist()
    finish = ends[order[np.concatenate([cut - 1, [len(order) - 1]])]].tolist()
    view = memoryview(text)
    for lo in range(0, len(begin), SLICE_ROWS):
        out.write(b"".join([view[a:b] for a, b in zip(begin[lo:lo + SLICE_ROWS],
                                                       finish[lo:lo + SLICE_ROWS])]))
