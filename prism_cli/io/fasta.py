"""Genome FASTA access through pysam: plain or bgzip, index built when missing.

Soft-masked (lowercase) bases are upper-cased by the encoder; positions outside a
chromosome read as N.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from ..encode import N_CODE, encode_bytes_into
from ..errors import InputError


def _is_plain_gzip(path: Path) -> bool:
    """True for gzip that is not BGZF (pysam cannot index it)."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    # BGZF: FLG.FEXTRA set and an extra subfield 'BC'
    return not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC")


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
            raise InputError("FASTA file not found", str(path))
        if _is_plain_gzip(self.path):
            raise InputError(
                "gzip-compressed FASTA is not bgzip; recompress it with "
                "`gunzip -c FILE | bgzip > FILE.gz` (or give the plain FASTA)",
                str(path),
            )
        try:
            self._fa = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as err:
            raise InputError(f"cannot open FASTA ({err}); is it a FASTA file and is its folder "
                             "writable for the index?", str(path)) from None
        self.lengths: dict[str, int] = dict(zip(self._fa.references, self._fa.lengths))
        if not self.lengths:
            raise InputError("FASTA has no sequences", str(path))

    def fai_md5(self) -> str:
        """md5 of the ``.fai`` index: names, lengths and offsets identify the genome cheaply."""
        fai = Path(str(self.path) + ".fai")
        return hashlib.md5(fai.read_bytes()).hexdigest() if fai.exists() else ""

    def check_chrom(self, chrom: str, path: str, line: int) -> int:
        """Length of ``chrom``, or an InputError naming ``path:line`` (with a chr-prefix hint)."""
        length = self.lengths.get(chrom)
        if length is not None:
            return length
        hint = ""
        alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        if alt in self.lengths:
            hint = f" (the FASTA names it '{alt}': add or strip the 'chr' prefix)"
        raise InputError(f"chromosome '{chrom}' is not in the FASTA {self.path.name}{hint}",
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
