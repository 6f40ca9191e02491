"""BED and BEDPE readers following bedtools conventions, with validation.

* 0-based half-open coordinates, tab separated.
* Header lines: ``#...``, ``track ...``, ``browser ...`` and blank lines are skipped; the
  last ``#`` line before the data whose field count matches the data names the columns
  (so extra columns after the standard ones are addressed by name, e.g. ``cell``,
  ``label``). Without such a line extra columns are called ``col11``, ``col12``, ...
* ``.`` means missing. ``.gz`` input (gzip or bgzip) is read transparently.

Errors are one line, ``file:line: problem`` (:class:`prism_cli.errors.InputError`).
Reading is streamed in chunks of rows, so memory stays bounded for any file size.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import InputError

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                 "name", "score", "strand1", "strand2"]
_HEADER_PREFIXES = ("#", "track", "browser")
# header aliases: a '#chrom1' header or the bedtools '-header' spelling
_ALIASES = {"chr1": "chrom1", "chr2": "chrom2", "chrom": "chrom", "chr": "chrom",
            "chromstart": "start", "chromend": "end"}


@dataclass
class TableSpec:
    """What a reader expects: the standard columns, the minimum count, extra names."""
    kind: str                      # "BED" or "BEDPE"
    standard: list[str]
    min_columns: int
    intervals: list[tuple[str, str, str]]  # (chrom, start, end) column triples


BED = TableSpec("BED", BED_COLUMNS, 3, [("chrom", "start", "end")])
BEDPE = TableSpec("BEDPE", BEDPE_COLUMNS, 6,
                  [("chrom1", "start1", "end1"), ("chrom2", "start2", "end2")])


def _open_text(path: Path):
    raw = open(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return raw, io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8",
                                     errors="replace", newline="")
    return raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _column_names(header: list[str] | None, n: int, spec: TableSpec) -> list[str]:
    if header is not None and len(header) == n:
        names = [h.strip() for h in header]
        names[0] = names[0].lstrip("#").strip()
        names = [_ALIASES.get(x.lower(), x) for x in names]
        # standard positions keep their standard names whatever the header calls them
        return [spec.standard[i] if i < len(spec.standard) else names[i] for i in range(n)]
    return [spec.standard[i] if i < len(spec.standard) else f"col{i + 1}" for i in range(n)]


class TableReader:
    """Stream a BED/BEDPE file as validated DataFrame chunks.

    Parameters
    ----------
    path : file to read.
    spec : :data:`BED` or :data:`BEDPE`.
    genome : optional :class:`prism_cli.io.fasta.Genome`; chromosomes and ends are checked.
    required : extra column names that must exist (e.g. ``["label"]``).
    label_col : name of a 0/1 label column to validate (``.`` allowed unless
        ``label_required``); it is returned as int8 with -1 for missing.
    chunk_rows : rows per chunk.

    Each chunk is a DataFrame with string columns, integer coordinates and a ``_line``
    column holding each row's 1-based line number in the file.
    """

    def __init__(self, path, spec: TableSpec, genome=None, required=(), label_col=None,
                 label_required=False, chunk_rows=50_000):
        self.path = Path(path)
        self.name = str(path)
        self.spec, self.genome = spec, genome
        self.required, self.label_col = list(required), label_col
        self.label_required, self.chunk_rows = label_required, chunk_rows
        if not self.path.exists():
            raise InputError(f"{spec.kind} file not found", self.name)
        self.columns: list[str] | None = None
        self.rows = 0
        self.bytes_total = self.path.stat().st_size
        self.bytes_read = 0

    # -- parsing -------------------------------------------------------------------
    def __iter__(self) -> Iterator[pd.DataFrame]:
        raw, fh = _open_text(self.path)
        try:
            yield from self._chunks(raw, fh)
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as err:
            raise InputError(f"cannot read {self.spec.kind} file ({err})", self.name) from None
        finally:
            fh.close()

    def _chunks(self, raw, fh) -> Iterator[pd.DataFrame]:
        header: list[str] | None = None
        n_fields = None
        rows: list[list[str]] = []
        lines: list[int] = []
        for lineno, text in enumerate(fh, start=1):
            text = text.rstrip("\r\n")
            if not text.strip() or text.startswith(_HEADER_PREFIXES):
                if text.startswith("#") and n_fields is None:
                    header = text.split("\t")
                continue
            fields = text.split("\t")
            if n_fields is None:
                n_fields = len(fields)
                if n_fields < self.spec.min_columns:
                    raise InputError(
                        f"{n_fields} column(s); {self.spec.kind} needs at least "
                        f"{self.spec.min_columns} tab-separated columns"
                        + (" (is it space-separated?)" if " " in text else ""),
                        self.name, lineno)
                if self.spec.kind == "BEDPE" and n_fields == 9:
                    raise InputError("9 columns: BEDPE has strand1 and strand2 together "
                                     "(columns 9 and 10), or neither", self.name, lineno)
                self.columns = _column_names(header, n_fields, self.spec)
                self._check_required()
            elif len(fields) != n_fields:
                raise InputError(f"{len(fields)} columns where earlier lines have {n_fields}",
                                 self.name, lineno)
            rows.append(fields)
            lines.append(lineno)
            if len(rows) >= self.chunk_rows:
                self.bytes_read = raw.tell()
                yield self._frame(rows, lines)
                rows, lines = [], []
        if n_fields is None:
            raise InputError(f"empty {self.spec.kind} file (no data lines)", self.name)
        if rows:
            self.bytes_read = self.bytes_total
            yield self._frame(rows, lines)

    def _check_required(self) -> None:
        need = list(self.required) + ([self.label_col] if self.label_required else [])
        for col in need:
            if col not in self.columns:
                extra = self.columns[len(self.spec.standard):]
                have = ", ".join(extra) if extra else "none"
                raise InputError(
                    f"missing required column '{col}' (extra columns found: {have}; name "
                    f"them in a '#' header line)", self.name)

    # -- validation ----------------------------------------------------------------
    def _frame(self, rows: list[list[str]], lines: list[int]) -> pd.DataFrame:
        df = pd.DataFrame(rows, columns=self.columns, dtype=object)
        for col in self.spec.standard[len(self.columns):]:  # optional standard columns
            df[col] = "."
        df["_line"] = np.asarray(lines, dtype=np.int64)
        for chrom_c, start_c, end_c in self.spec.intervals:
            if chrom_c not in df:
                continue
            for c in (start_c, end_c):
                if c not in df:
                    continue
                col = df[c].to_numpy(dtype=str)
                ok = np.char.isdigit(col)
                if not ok.all():
                    i = int(np.flatnonzero(~ok)[0])
                    bad = col[i]
                    what = "negative" if bad.startswith("-") and bad[1:].isdigit() else "non-integer"
                    raise InputError(f"{c} is {what} ('{bad}')", self.name, lines[i])
                df[c] = col.astype(np.int64)
            if end_c in df:
                inv = (df[start_c] > df[end_c]).to_numpy()
                if inv.any():
                    i = int(np.flatnonzero(inv)[0])
                    raise InputError(f"{start_c} ({df[start_c].iat[i]}) > {end_c} "
                                     f"({df[end_c].iat[i]})", self.name, lines[i])
            if self.genome is not None:
                self._check_genome(df, chrom_c, end_c, lines)
        for c in ("strand", "strand1", "strand2"):
            if c in df and c in self.spec.standard:
                col = df[c].to_numpy(dtype=str)
                bad = ~np.isin(col, ("+", "-", "."))
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise InputError(f"{c} must be +, - or '.', got '{col[i]}'", self.name,
                                     lines[i])
        if self.label_col is not None and self.label_col in df:
            df[self.label_col] = self._labels(df[self.label_col].to_numpy(dtype=str), lines)
        self.rows += len(df)
        return df

    def _check_genome(self, df, chrom_c, end_c, lines) -> None:
        lengths = self.genome.lengths
        chroms = df[chrom_c].to_numpy(dtype=str)
        for chrom in pd.unique(chroms):
            if chrom not in lengths:
                i = int(np.flatnonzero(chroms == chrom)[0])
                self.genome.check_chrom(chrom, self.name, lines[i])  # raises with a hint
        limit = np.array([lengths[c] for c in chroms], dtype=np.int64)
        past = df[end_c].to_numpy() > limit
        if past.any():
            i = int(np.flatnonzero(past)[0])
            raise InputError(f"{end_c} ({df[end_c].iat[i]}) is past the end of {chroms[i]} "
                             f"({limit[i]} bp in the FASTA)", self.name, lines[i])

    def _labels(self, col: np.ndarray, lines) -> np.ndarray:
        out = np.full(len(col), -1, dtype=np.int8)
        out[col == "1"] = 1
        out[col == "0"] = 0
        missing = col == "."
        bad = (out < 0) & ~missing
        if self.label_required:
            bad |= missing
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{self.label_col} must be 0 or 1, got '{col[i]}'", self.name,
                             lines[i])
        return out


def read_table(path, spec: TableSpec, **kw) -> pd.DataFrame:
    """Read a whole (small) BED/BEDPE file into one validated DataFrame."""
    reader = TableReader(path, spec, **kw)
    return pd.concat(list(reader), ignore_index=True)


def read_bed(path, **kw) -> pd.DataFrame:
    return read_table(path, BED, **kw)


def read_bedpe(path, **kw) -> pd.DataFrame:
    return read_table(path, BEDPE, **kw)


def chrom_sort_key(chrom: str) -> tuple:
    """Natural chromosome order: chr1 < chr2 < ... < chr10 < chrX < chrY < chrM < others."""
    name = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if name.isdigit():
        return (0, int(name), "")
    rank = {"X": 1, "Y": 2, "M": 3, "MT": 3}.get(name.upper(), 4)
    return (rank, 0, name)


def chrom_rank(chroms) -> np.ndarray:
    """Integer rank of each chromosome name in natural order, shape=(len(chroms),)."""
    chroms = np.asarray(chroms, dtype=str)
    uniq = sorted(pd.unique(chroms), key=chrom_sort_key)
    lut = {c: i for i, c in enumerate(uniq)}
    return np.array([lut[c] for c in chroms], dtype=np.int64)
