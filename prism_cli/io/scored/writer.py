"""write_scored_bedpe(): the sorted scored BEDPE, its JSON sidecar and interact track."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import OutputGroup, check_writable
from .interact import _interact_bytes, interact_frame, interact_order, interact_track_line
from .layout import (FORMAT_NAME, FORMAT_VERSION, _bedpe_bytes, _coded_columns, _prepare,
                     _take_coded, bedpe_order)
from .parts import ScoredParts


def write_scored_bedpe(data: pd.DataFrame | Iterable[pd.DataFrame] | ScoredParts,
                       path: str | Path, force: bool = False,
                       header_comment: str | None = None, sidecar: dict | None = None,
                       interact_path: str | Path | None = None) -> dict:
    """Write scored pairs as a sorted scored BEDPE (+ ``<path>.json`` sidecar, + interact).

    data : DataFrame, an iterable of DataFrame chunks (any order; all with the same
        columns), or :class:`ScoredParts` already spilled (with interact records when
        ``interact_path`` is given). Needs chrom1 start1 end1 chrom2 start2 end2 prob;
        name, strand1, strand2 default to '.', U_I and R to missing, cell to '.'; an input
        ``score`` is replaced by round(1000 * prob). Other columns pass through in input
        order.
    header_comment : extra provenance text written as ``##`` lines above the column
        header (bedtools and `read_scored_bedpe` skip them). Default: none, so the file
        has exactly one ``#`` line.
    sidecar : provenance dict stored in ``<path>.json`` along with the format name,
        columns, row count, PRISM version and date. `prism evaluate` reads its
        ``thresholds`` key (``{cell: threshold}``) when present.
    Returns the sidecar dict that was written. Refuses to replace any existing output
    (BEDPE, sidecar, interact) unless ``force``; every file is written to a temporary
    name, and all are renamed into place together (under the output's lock, the sidecar
    first) only when all are complete. A ``path`` ending in .gz is written as BGZF.
    """
    path = Path(path)
    sidecar_path = Path(str(path) + ".json")
    for p in (path, sidecar_path, interact_path):
        if p is not None:
            check_writable(p, force)

    comment = ""
    if header_comment:
        comment = "".join(f"## {line}\n" for line in str(header_comment).splitlines())

    with OutputGroup([path, sidecar_path, interact_path], force) as group:
        if isinstance(data, pd.DataFrame):
            columns, n_rows = _write_frame(data, path, interact_path, group, comment)
        else:
            if not isinstance(data, ScoredParts):
                # the run files live in the group's scratch folder, removed with it
                data = ScoredParts.spill(data, group.scratch_dir(), interact_path is not None)
            columns, n_rows = _write_parts(data, path, interact_path, group, comment)
        meta = _sidecar_meta(sidecar, columns, n_rows, interact_path)
        fh = group.open(sidecar_path)
        json.dump(meta, fh, indent=2, default=_json_default)
        fh.write("\n")
        group.commit()
    return meta


def _sidecar_meta(sidecar, columns, n_rows, interact_path) -> dict:
    from ... import __version__

    meta = dict(sidecar or {})
    meta.update({
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "columns": columns,
        "rows": n_rows,
        "prism_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    if interact_path is not None:
        meta["interact"] = str(interact_path)
    return meta


def _write_frame(df: pd.DataFrame, path: Path, interact_path, group: OutputGroup,
                 comment: str) -> tuple[list[str], int]:
    """One DataFrame: sort in memory, format and write a slice at a time."""
    factorized: dict = {}
    prepared, _ = _prepare(df, factorized)
    coded = _coded_columns(prepared, factorized)
    order = bedpe_order(prepared, factorized)
    prepared, coded = prepared.iloc[order], _take_coded(coded, order)
    columns = list(prepared.columns)
    fh = group.open(path)  # (text: the locale's encoding, as ever)
    fh.write(comment + "#" + "\t".join(columns) + "\n")
    fh.writelines(piece.decode() for piece in _bedpe_bytes(prepared, coded))
    if interact_path is not None:
        records = interact_frame(prepared)
        records = records.iloc[interact_order(records)]
        fh = group.open(interact_path)
        fh.write(interact_track_line(_stem(path)))
        fh.writelines(piece.decode()
                      for piece in _interact_bytes(records, _coded_columns(records)))
    return columns, len(prepared)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bgz"):
        name = name.removesuffix(suffix)
    return Path(name).stem


def _write_parts(parts: ScoredParts, path: Path, interact_path, group: OutputGroup,
                 comment: str) -> tuple[list[str], int]:
    """Sorted runs (from chunks in any order, or from several processes): merged."""
    if parts.columns is None:
        raise ValueError("no scored pairs given (an empty iterable of chunks)")
    if interact_path is not None and not parts.interact:
        raise ValueError("the scored parts were spilled without interact records")
    fh = group.open(path, "wb")
    fh.write((comment + "#" + "\t".join(parts.columns) + "\n").encode())
    parts.write("bedpe", fh)
    if interact_path is not None:
        fh = group.open(interact_path, "wb")
        fh.write(interact_track_line(_stem(path)).encode())
        parts.write("interact", fh)
    return parts.columns, parts.rows


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray,)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in the JSON sidecar")


