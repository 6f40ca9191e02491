"""BED and BEDPE readers following bedtools conventions, with validation.

* 0-based half-open coordinates, tab separated.
* Header lines: ``#...``, ``track ...``, ``browser ...`` and blank lines are skipped; the
  last ``#`` line before the data whose field count matches the data names the columns
  (so extra columns after the standard ones are addressed by name, e.g. ``cell``,
  ``label``). Without such a line extra columns are called ``col11``, ``col12``, ...
* ``.`` means missing. ``.gz`` input (gzip or bgzip) is read transparently.

Errors are one line, ``file:line: problem`` (:class:`prism_cli.errors.PrismInputError`).
Reading is streamed in chunks of rows, so memory stays bounded for any file size.

Speed: lines are found and classified with numpy on blocks of bytes, each chunk is parsed by
pandas' C reader (coordinates straight to int64) and checked column by column; a chunk
with a suspect value is parsed again as text to name the first bad line exactly. A pass
can be kept (:class:`KeptTable`) and read again without parsing.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import PrismInputError
from .lines import Lines, open_binary, whole_lines

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                 "name", "score", "strand1", "strand2"]
# header aliases: a '#chrom1' header or the bedtools '-header' spelling
_ALIASES = {"chr1": "chrom1", "chr2": "chrom2", "chrom": "chrom", "chr": "chrom",
            "chromstart": "start", "chromend": "end"}
BLOCK_BYTES = 1 << 22  # bytes read at a time (4 MiB)


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
            raise PrismInputError(f"{spec.kind} file not found", self.name)
        self.columns: list[str] | None = None
        self.rows = 0
        self.bytes_total = self.path.stat().st_size
        self.bytes_read = 0

    # -- parsing -------------------------------------------------------------------
    def __iter__(self) -> Iterator[pd.DataFrame]:
        raw, stream = open_binary(self.path)
        try:
            yield from self._chunks(raw, stream)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
            raise PrismInputError(f"cannot read {self.spec.kind} file ({err})", self.name) from None
        finally:
            stream.close()
            raw.close()

    def _chunks(self, raw, stream) -> Iterator[pd.DataFrame]:
        header: list[str] | None = None
        carry, rest = b"", b""  # whole lines not yet returned; bytes after the last line end
        base = 0  # file lines before ``carry``
        want, eof = BLOCK_BYTES, False
        while not eof:
            data = stream.read(want)
            eof = not data
            block, rest = whole_lines(rest + data, eof)
            buf = carry + block
            if not buf:
                continue
            lines = Lines(buf)
            data_rows = np.flatnonzero(~lines.skip)
            if self.columns is None:
                header = self._prelude(lines, data_rows, header, base)
            done = 0  # data rows returned from this block
            while len(data_rows) - done >= self.chunk_rows or (eof and done < len(data_rows)):
                rows = data_rows[done:done + self.chunk_rows]
                done += len(rows)
                self.bytes_read = self.bytes_total if eof and done == len(data_rows) \
                    else raw.tell()
                yield self._frame(lines, rows, base)
            used = int(data_rows[done - 1]) + 1 if done else (0 if self.columns else len(lines))
            carry = buf[lines.start[used]:] if used < len(lines) else b""
            base += used
            # blocks of about BLOCK_BYTES with the carry; more when a chunk needs more
            want = max(BLOCK_BYTES - len(carry), len(carry))
        if self.columns is None:
            raise PrismInputError(f"empty {self.spec.kind} file (no data lines)", self.name)

    def _prelude(self, lines: Lines, data_rows, header, base) -> list[str] | None:
        """Header line and column names, from the lines up to the first data line."""
        first = int(data_rows[0]) if len(data_rows) else len(lines)
        hashes = np.flatnonzero(np.frombuffer(lines.buf, np.uint8)[lines.start[:first]]
                                == ord("#"))
        if len(hashes):
            header = lines.text(int(hashes[-1])).split("\t")
        if first == len(lines):
            return header
        text, lineno = lines.text(first), base + first + 1
        n_fields = text.count("\t") + 1
        if n_fields < self.spec.min_columns:
            raise PrismInputError(
                f"{n_fields} column(s); {self.spec.kind} needs at least "
                f"{self.spec.min_columns} tab-separated columns"
                + (" (is it space-separated?)" if " " in text else ""), self.name, lineno)
        if self.spec.kind == "BEDPE" and n_fields == 9:
            raise PrismInputError("9 columns: BEDPE has strand1 and strand2 together "
                                  "(columns 9 and 10), or neither", self.name, lineno)
        self.columns = _column_names(header, n_fields, self.spec)
        self._check_required()
        return header

    def _check_required(self) -> None:
        need = list(self.required) + ([self.label_col] if self.label_required else [])
        for col in need:
            if col not in self.columns:
                extra = self.columns[len(self.spec.standard):]
                have = ", ".join(extra) if extra else "none"
                raise PrismInputError(
                    f"missing required column '{col}' (extra columns found: {have}; name "
                    f"them in a '#' header line)", self.name)

    def _parse(self, data: bytes, int_fields: list[int]) -> pd.DataFrame:
        """One chunk's lines by pandas' C reader: ``int_fields`` as int64, the rest text."""
        n = len(self.columns)
        bom = data.startswith(b"\xef\xbb\xbf")  # pandas would drop it; it is data here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            df = pd.read_csv(io.BytesIO(b"\n" + data if bom else data), sep="\t", header=None,
                             names=list(range(n)), skiprows=int(bom),
                             dtype={k: np.int64 if k in int_fields else object
                                    for k in range(n)},
                             quoting=csv.QUOTE_NONE, na_filter=False, skip_blank_lines=False,
                             encoding_errors="replace", engine="c")
        df.columns = self.columns
        return df

    # -- validation ----------------------------------------------------------------
    def _frame(self, lines: Lines, rows: np.ndarray, base: int) -> pd.DataFrame:
        """Parse and validate the data lines ``rows`` of ``lines`` (file line base + 1 + row)."""
        n = len(self.columns)
        lineno = base + 1 + rows
        wrong = np.flatnonzero(lines.n_tabs[rows] != n - 1)
        if len(wrong):
            i = int(wrong[0])
            raise PrismInputError(f"{int(lines.n_tabs[rows[i]]) + 1} columns where earlier lines "
                                  f"have {n}", self.name, int(lineno[i]))
        data = lines.join(rows)
        coords = [k for k, c in enumerate(self.columns[:len(self.spec.standard)])
                  if any(c in iv[1:] for iv in self.spec.intervals)]
        # coordinates straight to int64 when all are plain digits; otherwise as text, so
        # the first bad value is named as written (and '007' still reads as 7)
        df = self._parse(data, coords if lines.all_digits(rows, coords, n) else [])
        for col in self.spec.standard[n:]:  # optional standard columns
            df[col] = "."
        df["_line"] = lineno
        for chrom_c, start_c, end_c in self.spec.intervals:
            if chrom_c not in df:
                continue
            for c in (start_c, end_c):
                if c in df and df[c].dtype == object:
                    df[c] = self._integers(df[c].to_numpy(dtype=str), c, lineno)
            if end_c in df:
                inv = (df[start_c] > df[end_c]).to_numpy()
                if inv.any():
                    i = int(np.flatnonzero(inv)[0])
                    raise PrismInputError(f"{start_c} ({df[start_c].iat[i]}) > {end_c} "
                                          f"({df[end_c].iat[i]})", self.name, int(lineno[i]))
            if self.genome is not None:
                self._check_genome(df, chrom_c, end_c, lineno)
        for c in ("strand", "strand1", "strand2"):
            if c in df and c in self.spec.standard:
                codes, values = pd.factorize(np.asarray(df[c], dtype=object))
                bad = ~np.isin(values.astype(str), ("+", "-", "."))[codes]
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise PrismInputError(f"{c} must be +, - or '.', got '{values[codes[i]]}'",
                                          self.name, int(lineno[i]))
        if self.label_col is not None and self.label_col in df:
            df[self.label_col] = self._labels(df[self.label_col], lineno)
        self.rows += len(df)
        return df

    def _integers(self, col: np.ndarray, name: str, lineno) -> np.ndarray:
        """Text coordinates -> int64, or the first bad one named (as written)."""
        ok = np.char.isdigit(col)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            bad = col[i]
            what = "negative" if bad.startswith("-") and bad[1:].isdigit() else "non-integer"
            raise PrismInputError(f"{name} is {what} ('{bad}')", self.name, int(lineno[i]))
        big = np.flatnonzero(np.char.str_len(np.char.lstrip(col, "0")) > 18)
        for i in big.tolist():
            if int(col[i]) >= 1 << 63:
                raise PrismInputError(f"{name} is too large ('{col[i]}')", self.name,
                                      int(lineno[i]))
        return col.astype(np.int64)

    def _check_genome(self, df, chrom_c, end_c, lineno) -> None:
        lengths = self.genome.lengths
        codes, chroms = pd.factorize(np.asarray(df[chrom_c], dtype=object))
        for k, chrom in enumerate(chroms.tolist()):
            if chrom not in lengths:
                i = int(np.argmax(codes == k))
                self.genome.check_chrom(chrom, self.name, int(lineno[i]))  # raises, with a hint
        limit = np.array([lengths[c] for c in chroms.tolist()], dtype=np.int64)[codes]
        past = df[end_c].to_numpy() > limit
        if past.any():
            i = int(np.flatnonzero(past)[0])
            raise PrismInputError(f"{end_c} ({df[end_c].iat[i]}) is past the end of "
                                  f"{chroms[codes[i]]} ({limit[i]} bp in the FASTA)", self.name,
                                  int(lineno[i]))

    def _labels(self, col, lineno) -> np.ndarray:
        codes, values = pd.factorize(np.asarray(col, dtype=object))
        lut = np.array([{"1": 1, "0": 0, ".": -1}.get(v, -2) for v in values.tolist()],
                       dtype=np.int8)
        out = lut[codes] if len(lut) else np.zeros(0, np.int8)
        bad = (out == -2) | ((out == -1) & self.label_required)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PrismInputError(f"{self.label_col} must be 0 or 1, got '{values[codes[i]]}'",
                                  self.name, int(lineno[i]))
        return out


class KeptTable:
    """The validated chunks of one :class:`TableReader` pass, kept to be read again without
    parsing (``prism score`` keeps its validation pass for extraction).

    ``add`` each chunk as the reader yields it; iterating then yields each chunk once,
    letting go of it, with ``name``, ``columns``, ``bytes_read`` and ``bytes_total`` as
    the reader had them. The chunks are the reader's own frames: whoever reads them sees
    what a second reader with the same options would return.
    """

    def __init__(self, reader: TableReader):
        self._reader = reader
        self.name, self.bytes_total = reader.name, reader.bytes_total
        self.bytes_read = 0
        self.rows = 0
        self._chunks: list[tuple[pd.DataFrame, int]] = []  # (chunk, bytes read by then)

    @property
    def columns(self) -> list[str] | None:
        return self._reader.columns

    def add(self, chunk: pd.DataFrame) -> None:
        self._chunks.append((chunk, self._reader.bytes_read))
        self.rows += len(chunk)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        chunks, self._chunks = self._chunks[::-1], []
        while chunks:
            chunk, self.bytes_read = chunks.pop()
            yield chunk
            del chunk


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
