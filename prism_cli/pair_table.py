"""A dataset's pair table (docs/dataset.md), as the extraction writes it: to pairs.tsv
(:class:`TsvSink`, with its sha256) or kept in memory as pandas would read pairs.tsv
back (:class:`FrameSink`, ``prism score``'s temporary dataset); :func:`tsv_bytes` is the
tab-separated text of a chunk, built with numpy.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import PAIR_DTYPES
from .io.bed import BEDPE_COLUMNS
from .io.text import int_planes

PAIR_HEADER = BEDPE_COLUMNS + ["cell", "label", "distance", "enh_idx", "prom_idx"]


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


class TsvSink:
    """The pair table written to pairs.tsv (header, then each chunk), with its sha256."""

    def __init__(self, path: Path):
        self.out = _HashingWriter(path)

    def start(self, header: list[str]) -> None:
        self.out.write(("\t".join(header) + "\n").encode())

    def write(self, frame: pd.DataFrame) -> None:
        self.out.write(tsv_bytes(frame))

    def close(self) -> None:
        self.out.close()

    def sha256(self) -> str:
        return self.out.sha.hexdigest()


class NotPlain(Exception):
    """The pair table cannot be kept in memory as pandas would read it (FrameSink)."""


class FrameSink:
    """The pair table kept in memory as pandas' reader would read it back from pairs.tsv
    (:class:`~prism_cli.dataset.PairDataset`): each chunk's columns as arrays, joined into
    one frame by ``table``. Raises NotPlain for a header or an extra column whose typing
    only that reader knows; extra columns of plain integers (1 to 18 digits, no leading
    zero: read back as that int64) are kept as int64.
    """

    def __init__(self):
        self.names: list[str] = []  # the header as pandas' reader names it
        self.parts: list[list[np.ndarray]] = []  # per column, its chunks
        self.digest = hashlib.sha256()

    def start(self, header: list[str]) -> None:
        self.names = _reader_names(header)
        if any(c in PAIR_DTYPES for c in self.names[len(PAIR_HEADER):]):
            raise NotPlain  # a repeated name pandas would type by the dtype given
        self.parts = [[] for _ in self.names]

    def write(self, frame: pd.DataFrame) -> None:
        if frame.shape[1] != len(self.names):
            raise NotPlain  # input columns named alike: the frame repeats them
        for j, name in enumerate(self.names):
            col = frame.iloc[:, j]
            if name in PAIR_DTYPES:
                values = col.to_numpy(dtype=object)
            elif name == "label":
                values = col.to_numpy(dtype=np.int8)
            elif j < len(PAIR_HEADER) or col.dtype.kind in "iu":
                values = col.to_numpy(dtype=np.int64)
            else:
                values = _plain_ints(col.to_numpy(dtype=object))
            if values.dtype.kind in "iu":
                self.digest.update(np.ascontiguousarray(values).tobytes())
            self.parts[j].append(values)

    def close(self) -> None:
        pass

    def table(self) -> pd.DataFrame:
        """The chunks as one frame, the column parts let go of one column at a time."""
        columns = {}
        for name, parts in zip(self.names, self.parts):
            values = np.concatenate(parts)
            parts.clear()
            columns[name] = (pd.Series(values, dtype=object).astype(PAIR_DTYPES[name])
                             if name in PAIR_DTYPES else values)
        return pd.DataFrame(columns, copy=False)

    def sha256(self) -> str:
        return self.digest.hexdigest()


def _reader_names(header: list[str]) -> list[str]:
    """``header`` as pandas' reader names the columns (a repeated name becomes ``name.1``,
    ...). Raises NotPlain for a name with a quote or a NUL, which that reader interprets."""
    text = "\t".join(header)
    if '"' in text or "\0" in text:
        raise NotPlain
    return pd.read_csv(io.StringIO(text + "\n"), sep="\t", nrows=0).columns.tolist()


def _plain_ints(values: np.ndarray) -> np.ndarray:
    """int64 of ``values``, every one a str of 1 to 18 ASCII digits without a leading zero
    (pandas reads such text as that int64); raises NotPlain otherwise."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    try:
        joined = "".join(values)
    except TypeError:  # not all str
        raise NotPlain from None
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    if not (joined.isascii() and joined.isdigit()) or lengths.min() < 1 or lengths.max() > 18:
        raise NotPlain
    ints = np.fromiter(map(int, values), dtype=np.int64, count=len(values))
    if (np.maximum(np.searchsorted(_POW10, ints, side="right"), 1) != lengths).any():
        raise NotPlain  # a leading zero
    return ints


# --------------------------------------------------------------------------- pairs.tsv

_POW10 = 10 ** np.arange(19, dtype=np.int64)
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
        return int_planes(values.astype(np.int64)).T
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
