"""Scored BEDPE: the output of `prism score`, read back by `prism evaluate`.

Layout (see docs/scored_bedpe.md): one ``#`` header line naming the columns, then one
tab-separated row per pair:

    chrom1 start1 end1 chrom2 start2 end2 name score strand1 strand2   (bedtools BEDPE)
    prob U_I R cell                                                    (PRISM)
    <passthrough columns, in their input order>                        (e.g. label)

``score = round(1000 * prob)`` (round half to even, an int in 0..1000); floats are written
with the shortest representation that reads back to the same float64; missing values are
``.``. Rows are sorted by (chrom1, start1, end1, chrom2, start2, end2) with chromosomes in
natural order (chr1, chr2, ..., chr10, ..., chr22, chrX, chrY, chrM, then other contigs
by name; the order of ``prism_cli.io.bed.chrom_sort_key``),
stably (tied rows keep their input order).

Large outputs: ``write_scored_bedpe`` takes either one DataFrame (sorted in memory with
integer keys and written in slices, so only one slice of text exists at a time; fine for
a few million rows) or an iterable of DataFrame chunks in any order (each chunk is
sorted and spilled to a temporary run file next to the output, :class:`ScoredParts`;
the runs are then written chromosome by chromosome: copied where a chromosome lies in one
run, merged by integer keys, stably, where it spans several), or the runs that the ranks
of a torchrun job spilled (``ScoredParts.combine``).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PrismInputError
from .atomic import OutputGroup, check_writable
from .bed import chrom_sort_key as _bed_chrom_sort_key

BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                 "name", "score", "strand1", "strand2"]
PRISM_COLUMNS = ["prob", "U_I", "R", "cell"]
SCORED_COLUMNS = BEDPE_COLUMNS + PRISM_COLUMNS
COORD_COLUMNS = ["start1", "end1", "start2", "end2"]
# Columns read back as text whatever they look like (chromosome "1" is not a number).
TEXT_COLUMNS = ["chrom1", "chrom2", "name", "strand1", "strand2", "cell"]

INTERACT_COLUMNS = ["chrom", "chromStart", "chromEnd", "name", "score", "value", "exp",
                    "color", "sourceChrom", "sourceStart", "sourceEnd", "sourceName",
                    "sourceStrand", "targetChrom", "targetStart", "targetEnd", "targetName",
                    "targetStrand"]
INTERACT_COLOR = "#000000"
MISSING = "."
FORMAT_NAME = "prism-scored-bedpe"
FORMAT_VERSION = 1
SLICE_ROWS = 100_000  # rows formatted to text at a time
# pandas < 3 parses floats exactly only with float_precision="round_trip"; pandas 3 always
# does and deprecates the argument.
_PANDAS_MAJOR = int(pd.__version__.split(".")[0])


# --------------------------------------------------------------------------- ordering

# One natural chromosome order for every PRISM output (defined in io/bed.py); cached
# because it is asked once per name.
chrom_sort_key = lru_cache(maxsize=None)(_bed_chrom_sort_key)


def _natural(name: str) -> tuple:
    """Natural order, names that tie on it (``chr1`` and ``1``) ordered by name."""
    return (chrom_sort_key(name), name)


def _interact_chrom(name: str) -> bytes:
    return name.encode()  # `LC_ALL=C sort -k1,1` order, what bedToBigBed expects


def _chrom_ranks(*columns: pd.Series, key=_natural) -> list[np.ndarray]:
    """Integer rank of each chromosome name under ``key`` (same mapping for all columns).
    Returns int64 arrays, shape=(len(column),)."""
    coded = [pd.factorize(c) for c in columns]
    names = sorted({str(u) for _, uniq in coded for u in uniq}, key=key)
    rank = {n: i for i, n in enumerate(names)}
    return [np.array([rank[str(u)] for u in uniq] + [-1], dtype=np.int64)[codes]
            for codes, uniq in coded]


def bedpe_order(df: pd.DataFrame) -> np.ndarray:
    """Row positions that sort ``df`` by chrom1, start1, end1, chrom2, start2, end2 (stable)."""
    rank1, rank2 = _chrom_ranks(df["chrom1"], df["chrom2"])
    coord = {c: df[c].to_numpy(dtype=np.int64) for c in COORD_COLUMNS}
    # np.lexsort is stable and takes the primary key last.
    return np.lexsort([coord["end2"], coord["start2"], rank2,
                       coord["end1"], coord["start1"], rank1])


# --------------------------------------------------------------------------- formatting

def _format_column(values: pd.Series) -> list[str]:
    """Text for one column: ints as ints, floats as shortest round-trip repr, '.' if missing."""
    missing = values.isna().to_numpy()
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        if not missing.any():
            return list(map(str, values.to_numpy().astype(np.int64).tolist()))
        return [MISSING if m else str(int(v)) for v, m in zip(values.tolist(), missing)]
    if pd.api.types.is_float_dtype(dtype):
        # float32 -> float64 is exact, and repr(float64) reads back to the same float64.
        text = list(map(repr, values.to_numpy(dtype=np.float64, na_value=np.nan).tolist()))
        for i in np.flatnonzero(missing):
            text[i] = MISSING
        return text
    if len(values) >= 64 and values.iloc[:256].nunique(dropna=False) <= 64:
        # text of a few distinct values (chromosome, strand, cell):
        codes, uniques = pd.factorize(values)  # each formatted once, then looked up
        uniques = list(uniques)
        # (1, 1.0 and True are one factorize key but print differently)
        if (4 * len(uniques) <= len(values)
                and len({type(u) for u in uniques if not isinstance(u, str)}) <= 1):
            lut = np.array([MISSING if u == "" else str(u) for u in uniques] + [MISSING],
                           dtype=object)
            return lut[codes].tolist()
    return [MISSING if m or v == "" else str(v) for v, m in zip(values.tolist(), missing)]


def _join_rows(columns: list[list[str]]) -> str:
    """Tab-join parallel text columns into newline-terminated rows."""
    if not columns or len(columns[0]) == 0:
        return ""
    text = "\n".join(map("\t".join, zip(*columns))) + "\n"
    n_rows = len(columns[0])
    if text.count("\n") != n_rows or text.count("\t") != n_rows * (len(columns) - 1) \
            or "\r" in text:
        raise ValueError("a text value contains a tab or newline; it cannot be written "
                         "to a tab-separated file")
    return text


def _no_missing_names(col: pd.Series) -> bool:
    return not any(pd.isna(u) or str(u) == "" for u in pd.unique(col))


def _prepare(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``df`` and return it with PRISM's column order plus the passthrough names."""
    missing = [c for c in ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "prob"]
               if c not in df.columns]
    if missing:
        raise ValueError(f"scored pairs lack column(s) {missing}; have {list(df.columns)}")
    if df.columns.duplicated().any():
        raise ValueError(f"duplicate column names: {list(df.columns[df.columns.duplicated()])}")
    out = df.copy()
    for c in ("chrom1", "chrom2"):
        if not _no_missing_names(out[c]):
            raise ValueError(f"column {c!r} has missing chromosome names")
    for c in COORD_COLUMNS:
        if not pd.api.types.is_integer_dtype(out[c].dtype):
            as_float = pd.to_numeric(out[c], errors="coerce")
            if as_float.isna().any() or (as_float % 1 != 0).any():
                raise ValueError(f"column {c!r} must hold integer coordinates")
            out[c] = as_float.astype(np.int64)
        if (out[c] < 0).any():
            raise ValueError(f"column {c!r} holds negative coordinates")
    prob = pd.to_numeric(out["prob"], errors="coerce").astype(np.float64)
    if prob.isna().any() or ((prob < 0) | (prob > 1)).any():
        raise ValueError("column 'prob' must hold probabilities in [0, 1] (no missing values)")
    out["prob"] = prob
    out["score"] = np.rint(prob.to_numpy() * 1000.0).astype(np.int64)
    for c in SCORED_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan if c in ("U_I", "R") else MISSING
    passthrough = [c for c in df.columns if c not in SCORED_COLUMNS]
    return out[SCORED_COLUMNS + passthrough], passthrough


def _bedpe_text(df: pd.DataFrame) -> Iterator[str]:
    """Formatted rows of an already ordered, prepared frame, one slice at a time."""
    for lo in range(0, len(df), SLICE_ROWS):
        part = df.iloc[lo:lo + SLICE_ROWS]
        yield _join_rows([_format_column(part[c]) for c in part.columns])


def interact_frame(df: pd.DataFrame) -> pd.DataFrame:
    """UCSC interact (bed5+13) records of prepared scored pairs; 2 records per inter-chrom pair.

    Source = side 1 (enhancer), target = side 2 (promoter). Same-chromosome pairs: one
    record spanning both anchors. Different chromosomes: one record on each anchor's
    chromosome, covering that anchor (the UCSC convention). Not sorted.
    """
    same = (df["chrom1"].astype(str) == df["chrom2"].astype(str)).to_numpy()
    base = pd.DataFrame({
        "chrom": df["chrom1"].astype(str).to_numpy(),
        "chromStart": np.minimum(df["start1"], df["start2"]).to_numpy(),
        "chromEnd": np.maximum(df["end1"], df["end2"]).to_numpy(),
        "name": df["name"].to_numpy(),
        "score": df["score"].to_numpy(),
        "value": df["prob"].to_numpy(),
        "exp": df["cell"].to_numpy(),
        "color": INTERACT_COLOR,
        "sourceChrom": df["chrom1"].astype(str).to_numpy(),
        "sourceStart": df["start1"].to_numpy(), "sourceEnd": df["end1"].to_numpy(),
        "sourceName": MISSING, "sourceStrand": df["strand1"].to_numpy(),
        "targetChrom": df["chrom2"].astype(str).to_numpy(),
        "targetStart": df["start2"].to_numpy(), "targetEnd": df["end2"].to_numpy(),
        "targetName": MISSING, "targetStrand": df["strand2"].to_numpy(),
    })
    if same.all():
        return base
    inter = ~same
    first = base[inter].copy()
    first["chromStart"] = first["sourceStart"]
    first["chromEnd"] = first["sourceEnd"]
    second = base[inter].copy()
    second["chrom"] = second["targetChrom"]
    second["chromStart"] = second["targetStart"]
    second["chromEnd"] = second["targetEnd"]
    # keep each pair's two records adjacent in input order before sorting
    pieces = pd.concat([base[same], first, second])
    return pieces.sort_index(kind="stable").reset_index(drop=True)


def interact_order(records: pd.DataFrame) -> np.ndarray:
    """Positions sorting interact records as `LC_ALL=C sort -k1,1 -k2,2n -k3,3n` (stable)."""
    (rank,) = _chrom_ranks(records["chrom"], key=_interact_chrom)
    return np.lexsort([records["chromEnd"].to_numpy(np.int64),
                       records["chromStart"].to_numpy(np.int64), rank])


def _interact_text(records: pd.DataFrame) -> Iterator[str]:
    for lo in range(0, len(records), SLICE_ROWS):
        part = records.iloc[lo:lo + SLICE_ROWS]
        yield _join_rows([_format_column(part[c]) for c in INTERACT_COLUMNS])


def interact_track_line(name: str) -> str:
    """The ``track type=interact`` line that opens an interact custom track."""
    safe = name.replace('"', "'")
    return (f'track type=interact name="{safe}" description="PRISM EPI probability" '
            "interactDirectional=true maxHeightPixels=200:100:50 visibility=full\n")


# --------------------------------------------------------------------------- sorted runs

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
        prepared, _ = _prepare(chunk)
        if self.columns is None:
            self.columns = list(prepared.columns)
        elif list(prepared.columns) != self.columns:
            raise ValueError(f"chunk {sum(map(len, self.runs.values()))} has columns "
                             f"{list(prepared.columns)}, expected {self.columns}")
        if prepared.empty:
            return
        self.rows += len(prepared)
        prepared = prepared.iloc[bedpe_order(prepared)]
        codes2, names2 = pd.factorize(prepared["chrom2"])
        keys = np.column_stack([prepared["start1"].to_numpy(np.int64),
                                prepared["end1"].to_numpy(np.int64), codes2.astype(np.int64),
                                prepared["start2"].to_numpy(np.int64),
                                prepared["end2"].to_numpy(np.int64)])
        self._spill("bedpe", prepared, prepared["chrom1"], keys, _bedpe_text,
                    [str(n) for n in names2])
        if self.interact:
            records = interact_frame(prepared)
            records = records.iloc[interact_order(records)]
            keys = np.column_stack([records["chromStart"].to_numpy(np.int64),
                                    records["chromEnd"].to_numpy(np.int64)])
            self._spill("interact", records, records["chrom"], keys, _interact_text, None)

    def _spill(self, kind: str, frame: pd.DataFrame, groups: pd.Series, keys: np.ndarray,
               text, names) -> None:
        """One sorted run: text, keys (n, k) int64 and the segment of each chromosome."""
        i = len(self.runs[kind])
        run = {"text": str(self.folder / f"{kind}.{i}.txt"),
               "keys": str(self.folder / f"{kind}.{i}.npy"), "names": names, "groups": []}
        codes, uniq = pd.factorize(groups)
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]])
        with open(run["text"], "wb") as fh:
            for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
                start = fh.tell()
                for piece in text(frame.iloc[lo:hi]):
                    fh.write(piece.encode())
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
    run's ``names``: codes become one natural-order rank first."""
    rank = {}
    if remap_names:
        names = {n for run, *_ in segs for n in run["names"]}
        rank = {n: i for i, n in enumerate(sorted(names, key=_natural))}
    keys, lines = [], []
    for run, lo, hi, start, end in segs:
        k = np.array(np.load(run["keys"], mmap_mode="r")[lo:hi])
        if remap_names:
            k[:, 2] = np.array([rank[n] for n in run["names"]], dtype=np.int64)[k[:, 2]]
        keys.append(k)
        with open(run["text"], "rb") as fh:
            fh.seek(start)
            lines.extend(fh.read(end - start).splitlines(keepends=True))
    keys = np.concatenate(keys)
    if len(lines) != len(keys):
        raise OSError("run files do not match their keys")
    order = np.lexsort(keys.T[::-1])  # stable; the first key column is the primary one
    for lo in range(0, len(order), SLICE_ROWS):
        out.write(b"".join([lines[i] for i in order[lo:lo + SLICE_ROWS].tolist()]))


# --------------------------------------------------------------------------- writing

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
    from .. import __version__

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
    prepared, _ = _prepare(df)
    prepared = prepared.iloc[bedpe_order(prepared)]
    columns = list(prepared.columns)
    fh = group.open(path)
    fh.write(comment + "#" + "\t".join(columns) + "\n")
    fh.writelines(_bedpe_text(prepared))
    if interact_path is not None:
        records = interact_frame(prepared)
        records = records.iloc[interact_order(records)]
        fh = group.open(interact_path)
        fh.write(interact_track_line(_stem(path)))
        fh.writelines(_interact_text(records))
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


# --------------------------------------------------------------------------- reading

def _compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        return "gzip" if fh.read(2) == b"\x1f\x8b" else None


def _open_binary(path: Path):
    """The file's bytes, decompressed when it is gzip/BGZF."""
    import gzip

    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh)
    fh.seek(0)
    return fh


def read_header(path: str | Path) -> tuple[list[str], int]:
    """Column names from the last ``#`` line before the data, and the number of such lines."""
    path = Path(path)
    if not path.exists():
        raise PrismInputError("no such file", str(path))
    names, n_header = None, 0
    with _open_binary(path) as raw, io.TextIOWrapper(raw, errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n_header += 1
            if not line.startswith("##"):
                names = line[1:].rstrip("\r\n").split("\t")
    if names is None:
        raise PrismInputError("no '#' header line naming the columns (is this a scored BEDPE "
                         "written by `prism score`?)", str(path))
    return names, n_header


def read_scored_bedpe(path: str | Path) -> pd.DataFrame:
    """Read a scored BEDPE back into a DataFrame (column names from the header line).

    '.' reads as missing; floats are parsed exactly (every float64 reads back bit-equal);
    chromosome, name, strand and cell columns stay text. ``df.attrs`` holds ``path`` and
    ``first_data_line`` (1-based file line of row 0), so callers can cite ``file:line``.
    Raises PrismInputError for a missing file, a missing header or a row with the wrong number
    of fields.
    """
    path = Path(path)
    names, n_header = read_header(path)
    with _open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno <= n_header:
                continue
            n_fields = raw.count(b"\t") + 1
            if n_fields != len(names):
                if not raw.strip():
                    raise PrismInputError("empty line", str(path), lineno)
                raise PrismInputError(f"{n_fields} fields, the header names {len(names)}",
                                 str(path), lineno)
    dtypes = {c: str for c in TEXT_COLUMNS if c in names}
    exact = {} if _PANDAS_MAJOR >= 3 else {"float_precision": "round_trip"}
    try:
        df = pd.read_csv(path, sep="\t", header=None, names=names, skiprows=n_header,
                         dtype=dtypes, na_values=[MISSING], keep_default_na=False,
                         comment=None, quoting=3, compression=_compression(path), **exact)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
    for c in COORD_COLUMNS + ["score"]:
        if c in df.columns and len(df) and not pd.api.types.is_integer_dtype(df[c].dtype):
            bad = _first_non_integer(df[c])
            raise PrismInputError(f"{c} must be an integer, got {df[c].iloc[bad]!r}",
                             str(path), n_header + 1 + bad)
    df.attrs["path"] = str(path)
    df.attrs["first_data_line"] = n_header + 1
    return df


def _first_non_integer(values: pd.Series) -> int:
    for i, v in enumerate(values):
        try:
            if isinstance(v, float) and (math.isnan(v) or v % 1 != 0):
                return i
            int(v)
        except (TypeError, ValueError):
            return i
    return 0


def read_sidecar(path: str | Path) -> dict | None:
    """The JSON sidecar ``<path>.json`` of a scored BEDPE, or None when there is none."""
    sidecar = Path(str(path) + ".json")
    if not sidecar.exists():
        return None
    try:
        with open(sidecar) as fh:
            meta = json.load(fh)
    except json.JSONDecodeError as err:
        raise PrismInputError(f"not valid JSON ({err.msg})", str(sidecar), err.lineno) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise PrismInputError("not a JSON text file", str(sidecar)) from None
    if not isinstance(meta, dict):
        raise PrismInputError("expected a JSON object", str(sidecar))
    return meta
