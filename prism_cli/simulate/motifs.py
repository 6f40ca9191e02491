"""The simulated motif vocabulary: PWMs of compatibility and environment motifs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encode import decode, reverse_complement
from .config import SimConfig

_IUPAC = {
    frozenset("AG"): "R", frozenset("CT"): "Y", frozenset("GC"): "S",
    frozenset("AT"): "W", frozenset("GT"): "K", frozenset("AC"): "M",
}



@dataclass
class Motif:
    """A position weight matrix. pwm : array, shape=(length, 4), rows sum to 1 (ACGT)."""

    name: str
    role: str  # "compat" (drives U) or "env" (drives R)
    pwm: np.ndarray

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.pwm.argmax(1))

    @property
    def iupac(self) -> str:
        out = []
        for row in self.pwm:
            order = np.argsort(-row)
            if row[order[0]] >= 0.75:
                out.append("ACGT"[order[0]])
            elif row[order[0]] + row[order[1]] >= 0.75:
                out.append(_IUPAC[frozenset("ACGT"[order[0]] + "ACGT"[order[1]])])
            else:
                out.append("N")
        return "".join(out)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One instance, codes shape=(length,)."""
        u = rng.random(len(self.pwm))[:, None]
        return (u > np.cumsum(self.pwm, 1)).sum(1).astype(np.uint8)


def make_motifs(rng: np.random.Generator, cfg: SimConfig) -> list[Motif]:
    """Compatibility motifs C01.. then environment motifs E01..; distinct 6-mers."""
    motifs: list[Motif] = []
    seen: set[str] = set()
    roles = ["compat"] * cfg.n_compat_motifs + ["env"] * cfg.n_env_motifs
    counters = {"compat": 0, "env": 0}
    while len(motifs) < len(roles):
        role = roles[len(motifs)]
        length = int(rng.integers(cfg.motif_length[0], cfg.motif_length[1] + 1))
        pwm = np.zeros((length, 4))
        for i in range(length):
            top = rng.permutation(4)
            if rng.random() < cfg.motif_sharp_fraction:  # a sharp position
                p = rng.uniform(0.85, 0.98)
                pwm[i, top[0]] = p
                pwm[i, top[1:]] = (1 - p) / 3
            else:  # a degenerate position shared by two bases
                p1 = rng.uniform(0.45, 0.55)
                p2 = rng.uniform(0.35, 0.45)
                pwm[i, top[0]], pwm[i, top[1]] = p1, p2
                pwm[i, top[2:]] = (1 - p1 - p2) / 2
        cons = "".join("ACGT"[j] for j in pwm.argmax(1))
        rc = decode(reverse_complement(np.array(["ACGT".index(b) for b in cons], np.uint8)))
        kmers = {s[i:i + 6] for s in (cons, rc) for i in range(len(s) - 5)}
        if kmers & seen or cons == rc:
            continue
        seen |= kmers
        counters[role] += 1
        prefix = "C" if role == "compat" else "E"
        motifs.append(Motif(f"{prefix}{counters[role]:02d}", role, pwm))
    return motifs
