"""Genome FASTA access through pysam: plain or bgzip, index built when missing.

Soft-masked (lowercase) bases are upper-cased by the encoder; positions outside a
chromosome read as N.

A stale index reads the wrong bases without any error from htslib, so an existing
``.fai`` (and, for bgzip, ``.gzi``) is checked before use: older than the FASTA, or
inconsistent with it (a sample of records: header at the offset, line length, last base
followed by a line end; the last record ends the file; ``.gzi`` offsets on BGZF blocks)
means it is rebuilt (with a note) when its folder is writable, and refused with the
command that fixes it otherwise.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from ..encode import N_CODE, encode_bytes_into
from ..errors import PrismInputError


def _is_plain_gzip(path: Path) -> bool:
    """True for gzip that is not BGZF (pysam cannot index it)."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    # BGZF: FLG.FEXTRA set and an extra subfield 'BC'
    return not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC")


SAMPLE_RECORDS = 64  # records of a .fai checked against the FASTA


def _fai_records(fai: Path) -> list[tuple[str, int, int, int, int]] | None:
    """(name, length, offset, linebases, linewidth) per line of a .fai; None if malformed."""
    records = []
    try:
        text = fai.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) < 5:
            return None
        try:
            length, offset, bases, width = (int(x) for x in f[1:5])
        except ValueError:
            return None
        if length < 0 or offset < 0 or bases < 1 or not bases <= width <= bases + 2:
            return None
        records.append((f[0], length, offset, bases, width))
    return records


def _gzi_entries(gzi: Path, size: int) -> list[tuple[int, int]] | None:
    """(compressed, uncompressed) offsets of a .gzi, with (0, 0); None if malformed."""
    try:
        data = gzi.read_bytes()
    except OSError:
        return None
    if len(data) < 8:
        return None
    (n,) = struct.unpack_from("<Q", data)
    if len(data) != 8 + 16 * n:
        return None
    entries = [(0, 0)] + [struct.unpack_from("<QQ", data, 8 + 16 * i) for i in range(n)]
    for (c0, u0), (c1, u1) in zip(entries, entries[1:]):
        if not (c0 < c1 < size and u0 < u1):
            return None
    return entries


class _PlainReader:
    def __init__(self, path: Path):
        self.fh = open(path, "rb")

    def read(self, offset: int, n: int) -> bytes:
        self.fh.seek(offset)
        return self.fh.read(n)

    def close(self):
        self.fh.close()


class _BgzfReader:
    """Uncompressed bytes of a BGZF file at any offset, through its .gzi."""

    def __init__(self, path: Path, entries: list[tuple[int, int]]):
        self.fh = open(path, "rb")
        self.entries = entries
        self.starts = [u for _, u in entries]

    def read(self, offset: int, n: int) -> bytes:
        c0, u0 = self.entries[bisect.bisect_right(self.starts, offset) - 1]
        self.fh.seek(c0)
        need, out = offset - u0 + n, bytearray()
        d = zlib.decompressobj(31)
        while len(out) < need:
            chunk = self.fh.read(1 << 16)
            if not chunk:
                break
            while chunk and len(out) < need:
                out += d.decompress(chunk)
                chunk = b""
                if d.eof:
                    chunk, d = d.unused_data, zlib.decompressobj(31)
        return bytes(out[offset - u0: offset - u0 + n])

    def block_starts(self) -> bool:
        """Every sampled compressed offset of the .gzi starts a BGZF block."""
        step = max(1, len(self.entries) // SAMPLE_RECORDS)
        for c, _ in self.entries[::step] + self.entries[-1:]:
            self.fh.seek(c)
            if self.fh.read(4) != b"\x1f\x8b\x08\x04":
                return False
        return True

    def close(self):
        self.fh.close()


def _record_problem(read, rec, last: bool) -> str | None:
    """Why the .fai record ``rec`` does not describe the FASTA bytes, or None."""
    name, length, offset, bases, width = rec
    back = read(max(0, offset - 65536), min(offset, 65536))
    head = back[back.rfind(b"\n", 0, len(back) - 1) + 1:].rstrip(b"\r\n")
    if not back.endswith(b"\n") or not head.startswith(b">") or \
            head[1:].split()[:1] != [name.encode()]:
        return f"no '>{name}' header line at its offset"
    if length == 0:
        return None
    first = read(offset, min(length, bases) + width - bases)
    line = first[:min(length, bases)]
    if len(line) < min(length, bases) or any(c in line for c in b"\r\n>"):
        return f"'{name}': lines are not {bases} bases long"
    if length > bases and first[bases:width].strip(b"\r\n") != b"" \
            or length > bases and len(first) < width:
        return f"'{name}': lines are not {bases} bases long"
    i = length - 1
    tail = read(offset + (i // bases) * width + i % bases, 66)
    if not tail or tail[:1] in (b"\r", b"\n", b">") or tail[1:2] not in (b"", b"\r", b"\n"):
        return f"'{name}' is not {length} bases long"
    if last and (len(tail) == 66 or tail[1:].strip() != b""):
        return "the file continues past the last indexed record"
    return None


def index_problem(path: Path, bgzf: bool) -> str | None:
    """Why the existing index of FASTA ``path`` cannot be trusted, or None (also when there
    is no index yet: pysam builds one)."""
    fai, gzi = Path(str(path) + ".fai"), Path(str(path) + ".gzi")
    if not fai.exists():
        return None
    mtime = path.stat().st_mtime_ns
    if fai.stat().st_mtime_ns < mtime:
        return f"the index {fai.name} is older than the FASTA"
    if bgzf and not gzi.exists():
        return f"the bgzip index {gzi.name} is missing"
    if bgzf and gzi.stat().st_mtime_ns < mtime:
        return f"the index {gzi.name} is older than the FASTA"
    records = _fai_records(fai)
    if not records:
        return f"{fai.name} is not a FASTA index"
    if bgzf:
        entries = _gzi_entries(gzi, path.stat().st_size)
        if entries is None:
            return f"{gzi.name} is not a bgzip index of this file"
        reader = _BgzfReader(path, entries)
        if not reader.block_starts():
            reader.close()
            return f"{gzi.name} does not match the file's BGZF blocks"
    else:
        reader = _PlainReader(path)
    step = max(1, len(records) // SAMPLE_RECORDS)
    last = max(range(len(records)), key=lambda i: records[i][2])
    sample = sorted(set(range(0, len(records), step)) | {len(records) - 1, last})
    try:
        for i in sample:
            problem = _record_problem(reader.read, records[i], i == last)
            if problem:
                return f"{fai.name} does not match the FASTA ({problem})"
    except (OSError, zlib.error, EOFError) as err:
        return f"{fai.name} does not match the FASTA ({err})"
    finally:
        reader.close()
    return None


def _check_index(path: Path, bgzf: bool) -> None:
    """Rebuild a stale index when its folder is writable; refuse it otherwise."""
    problem = index_problem(path, bgzf)
    if problem is None:
        return
    fai, gzi = Path(str(path) + ".fai"), Path(str(path) + ".gzi")
    if not os.access(path.parent, os.W_OK):
        raise PrismInputError(f"{problem}: it would read the wrong bases; rebuild it with "
                              f"`samtools faidx {path}` (or delete {fai}"
                              + (f" and {gzi}" if bgzf else "") + ")", str(path))
    for p in (fai, gzi) if bgzf else (fai,):
        if p.exists():
            p.unlink()
    print(f"note: {path}: {problem}; rebuilt the index", file=sys.stderr)


def _is_bgzf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(18)
    return head[:2] == b"\x1f\x8b" and len(head) >= 14 and bool(head[3] & 4) \
        and head[12:14] == b"BC"


class Genome:
    """A read-only genome.

    Parameters
    ----------
    path : str or Path
        FASTA, plain or bgzip-compressed. A missing ``.fai`` (and ``.gzi``) is built.
    """

    def __init__(self, path: str | Path):
        import pysam

        self.path = Path(path)
        if not self.path.exists():
            raise PrismInputError("FASTA file not found", str(path))
        if _is_plain_gzip(self.path):
            raise PrismInputError(
                "gzip-compressed FASTA is not bgzip; recompress it with "
                "`gunzip -c FILE | bgzip > FILE.gz` (or give the plain FASTA)",
                str(path),
            )
        _check_index(self.path, bgzf=_is_bgzf(self.path))
        try:
            self._fa = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as err:
            raise PrismInputError(f"cannot open FASTA ({err}); is it a FASTA file and is its "
                                  "folder writable for the index?", str(path)) from None
        self.lengths: dict[str, int] = dict(zip(self._fa.references, self._fa.lengths))
        if not self.lengths:
            raise PrismInputError("FASTA has no sequences", str(path))

    def fai_md5(self) -> str:
        """md5 of the ``.fai`` index: names, lengths and offsets identify the genome cheaply."""
        fai = Path(str(self.path) + ".fai")
        return hashlib.md5(fai.read_bytes()).hexdigest() if fai.exists() else ""

    def check_chrom(self, chrom: str, path: str, line: int) -> int:
        """Length of ``chrom``, or a PrismInputError naming ``path:line`` (with a chr-prefix
        hint)."""
        length = self.lengths.get(chrom)
        if length is not None:
            return length
        hint = ""
        alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        if alt in self.lengths:
            hint = f" (the FASTA names it '{alt}': add or strip the 'chr' prefix)"
        raise PrismInputError(f"chromosome '{chrom}' is not in the FASTA {self.path.name}{hint}",
                              path, line)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of [start, end) clipped to the chromosome, as stored (case kept)."""
        length = self.lengths[chrom]
        return self._fa.fetch(chrom, max(start, 0), min(end, length))

    def fetch_codes(self, chrom: str, start: int, end: int, out: np.ndarray | None = None):
        """Codes of [start, end); positions outside the chromosome are N.

        Returns (codes uint8 shape=(end-start,), n_outside int).
        """
        length = self.lengths[chrom]
        if out is None:
            out = np.empty(end - start, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, length)
        if hi <= lo:
            out[:] = N_CODE
            return out, end - start
        seq = self._fa.fetch(chrom, lo, hi).encode("ascii")
        out[: lo - start] = N_CODE
        encode_bytes_into(seq, out[lo - start: hi - start])
        out[hi - start:] = N_CODE
        return out, (lo - start) + (end - hi)

    def close(self) -> None:
        self._fa.close()
