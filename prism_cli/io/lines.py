"""Lines of BED/BEDPE bytes: the input opened (gzip/bgzip transparently), blocks cut
at whole lines, and where each block's lines, tabs and skipped lines are, found with numpy
(``io.bed.TableReader`` parses the blocks)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

HEADER_PREFIXES = ("#", "track", "browser")  # lines that are not data


def open_binary(path: Path):
    """(raw file, byte stream); the stream decompresses gzip/bgzip input."""
    raw = open(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return raw, gzip.GzipFile(fileobj=raw)
    return raw, raw


def whole_lines(buf: bytes, eof: bool) -> tuple[bytes, bytes]:
    """Split ``buf`` into (whole lines, rest). Line ends are normalised to ``\n``: ``\r\n``
    and a lone ``\r`` end a line, as in text-mode Python (universal newlines)."""
    if eof:
        lines, rest = (buf + b"\n" if buf and not buf.endswith((b"\n", b"\r")) else buf), b""
    else:
        cut = buf.rfind(b"\n") + 1 or buf.rfind(b"\r", 0, len(buf) - 1) + 1
        lines, rest = buf[:cut], buf[cut:]
    if b"\r" in lines:
        lines = lines.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return lines, rest


class Lines:
    """Where the lines and tabs of a block of whole lines are, found with numpy.

    ``start``/``end``: offset of each line and of its ``\n``; ``skip``: header, comment,
    track/browser or blank line; ``first_tab``/``n_tabs``: index into ``tabs`` of each
    line's first tab, and how many it has.
    """

    def __init__(self, buf: bytes):
        self.buf = buf
        a = np.frombuffer(buf, dtype=np.uint8)
        self.end = np.flatnonzero(a == 10)
        self.start = np.concatenate([[0], self.end[:-1] + 1])
        self.tabs = np.flatnonzero(a == 9)
        self.first_tab = np.searchsorted(self.tabs, self.start)
        self.n_tabs = np.searchsorted(self.tabs, self.end) - self.first_tab
        first = a[self.start]
        skip = first == ord("#")
        for prefix in (b"track", b"browser"):
            c = np.flatnonzero(first == prefix[0])
            at = np.minimum(self.start[c, None] + np.arange(len(prefix)), len(a) - 1)
            skip[c[(a[at] == np.frombuffer(prefix, np.uint8)).all(axis=1)]] = True
        for j in np.flatnonzero(((first <= 32) | (first >= 128)) & ~skip).tolist():
            text = self.text(j)  # blank (str.strip) or non-ASCII start: as Python sees it
            skip[j] = not text.strip() or text.startswith(HEADER_PREFIXES)
        self.skip = skip

    def __len__(self) -> int:
        return len(self.end)

    def text(self, j: int) -> str:
        return self.buf[self.start[j]:self.end[j]].decode("utf-8", "replace")

    def all_digits(self, rows: np.ndarray, fields: list[int], n_fields: int) -> bool:
        """Whether field ``k`` of each of ``rows`` (lines of n_fields fields) is 1 to 18
        ASCII digits, for every ``k`` in ``fields``. The fields' bytes are one table,
        shape=(rows x fields, widest), taken from a sliding window over the buffer."""
        if not fields:
            return True
        f0 = np.concatenate([self.start[rows] if k == 0 else
                             self.tabs[self.first_tab[rows] + k - 1] + 1 for k in fields])
        f1 = np.concatenate([self.end[rows] if k == n_fields - 1 else
                             self.tabs[self.first_tab[rows] + k] for k in fields])
        width = f1 - f0
        if width.min() < 1 or width.max() > 18:
            return False
        w = int(width.max())
        padded = np.frombuffer(self.buf + bytes(w), np.uint8)  # a window for every field
        byte = np.lib.stride_tricks.sliding_window_view(padded, w)[f0]
        return not (((byte - np.uint8(48)) > 9) & (np.arange(w) < width[:, None])).any()

    def join(self, rows: np.ndarray) -> bytes:
        """The bytes of ``rows``, line ends included."""
        lo, hi = int(rows[0]), int(rows[-1])
        if hi - lo + 1 == len(rows):
            return self.buf[self.start[lo]:self.end[hi] + 1]
        return b"".join(self.buf[s:e + 1] for s, e in zip(self.start[rows].tolist(),
                                                           self.end[rows].tolist()))
