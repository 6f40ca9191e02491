"""Position weight matrices: the Motif record, MEME files, information content, similarity.

A PWM here is float64, shape=(W, 4), ACGT columns, each row a probability distribution
(rows sum to 1).  memelite and tangermeme use the transpose, shape=(4, W); the
conversion happens at their call sites (``read_meme``, ``compare``, ``scan`` tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

UNIFORM = np.full(4, 0.25)


@dataclass(eq=False)
class Motif:
    """A named PWM. pwm : float64, shape=(W, 4), ACGT, rows sum to 1.

    Compared by identity (``eq=False``): two motifs with equal fields are still two."""

    name: str
    pwm: np.ndarray = field(repr=False)
    source: str = ""  # "discover", "jaspar", "sim", "meme", ...

    def __post_init__(self):
        pwm = np.asarray(self.pwm, dtype=np.float64)
        if pwm.ndim != 2 or pwm.shape[1] != 4 or len(pwm) == 0:
            raise ValueError(f"motif {self.name}: pwm must have shape (W, 4), got {pwm.shape}")
        self.pwm = pwm

    @property
    def width(self) -> int:
        return len(self.pwm)

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.pwm.argmax(1))


def normalise(pwm: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Counts or probabilities, shape=(W, 4) -> float64 rows summing to 1.

    ``pseudocount`` is added to every entry first; an all-zero row becomes uniform."""
    p = np.asarray(pwm, dtype=np.float64) + pseudocount
    total = p.sum(1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.25)


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """The PWM of the other strand: positions reversed, A<->T and C<->G. shape kept."""
    return np.asarray(pwm)[::-1, ::-1].copy()


# ----------------------------------------------------------------------------- MEME


def write_meme(path, motifs: list[Motif], background=None) -> None:
    """Write motifs in MEME minimal format (version 4, both strands).

    background : (4,) ACGT letter frequencies for the header, default uniform.  The file
    is written to ``path + ".tmp"`` first and renamed, so a failure leaves no half file.
    """
    bg = UNIFORM if background is None else np.asarray(background, dtype=np.float64)
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{b} {f:.6f}" for b, f in zip("ACGT", bg)), ""]
    for m in motifs:
        if not m.name or "\n" in m.name:
            raise ValueError(f"motif name {m.name!r} cannot be written to a MEME file")
        lines.append(f"MOTIF {m.name}")
        lines.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= 20 E= 0")
        lines.extend(" ".join(f"{x:.6f}" for x in row) for row in m.pwm)
        lines.append("")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def read_meme(path, source: str = "meme") -> list[Motif]:
    """Motifs of a MEME file (memelite's reader), in file order.

    The name is the rest of the MOTIF line ("MA0139.2 CTCF"); rows are renormalised to
    sum to 1 (MEME files round to 6 decimals)."""
    from memelite.io import read_meme as _read

    return [Motif(name, normalise(pwm.T), source) for name, pwm in _read(str(path)).items()]


# ----------------------------------------------------------------------------- content


def information_content(pwm: np.ndarray, background=None) -> np.ndarray:
    """Bits per position, shape=(W,): sum_b p_b log2(p_b / bg_b) (2 - entropy for a uniform
    background)."""
    p = np.asarray(pwm, dtype=np.float64)
    bg = UNIFORM if background is None else np.asarray(background, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
    return terms.sum(1)


def trim(pwm: np.ndarray, min_ic: float = 0.25) -> np.ndarray:
    """Drop leading and trailing positions whose information content is < ``min_ic`` bits.

    Inner low-IC positions are kept.  A PWM with no position reaching ``min_ic`` is
    returned unchanged (callers that need content check the IC themselves)."""
    keep = np.flatnonzero(information_content(pwm) >= min_ic)
    if len(keep) == 0:
        return np.asarray(pwm, dtype=np.float64).copy()
    return np.asarray(pwm, dtype=np.float64)[keep[0]:keep[-1] + 1].copy()


def pwm_correlation(a: np.ndarray, b: np.ndarray, min_overlap: int | None = None) -> float:
    """Best Pearson correlation of two PWMs over alignments, both strands of ``b``.

    a : (Wa, 4), b : (Wb, 4).  For every offset of ``b`` (and of its reverse complement)
    against ``a`` whose overlap is at least ``min_overlap`` positions (default
    max(1, min(Wa, Wb) - 2): the shorter motif may hang off by up to two positions), the
    overlapping probabilities are flattened and correlated; the best value is returned
    (nan when no alignment has any spread, e.g. two uniform PWMs).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    wa, wb = len(a), len(b)
    if min_overlap is None:
        min_overlap = max(1, min(wa, wb) - 2)
    min_overlap = min(min_overlap, wa, wb)
    best = -np.inf
    for bb in (b, reverse_complement_pwm(b)):
        for shift in range(-(wb - min_overlap), wa - min_overlap + 1):  # b[0] at a[shift]
            lo, hi = max(0, shift), min(wa, shift + wb)
            if hi - lo < min_overlap:
                continue
            x = a[lo:hi].ravel()
            y = bb[lo - shift:hi - shift].ravel()
            sx, sy = x.std(), y.std()
            if sx == 0 or sy == 0:
                continue
            r = float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))
            best = max(best, r)
    return best if np.isfinite(best) else float("nan")
