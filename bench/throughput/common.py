"""The set-up the throughput benchmarks share: a `prism simulate` world and its candidate
pairs in a work folder, made with this checkout's `python -m prism_cli.cli` and reused
when already there."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LE, LP = 3000, 2000   # enhancer / promoter windows (extract's defaults)


def prism(*args) -> list[str]:
    """The command line of ``prism ARGS`` run from this checkout (no install needed)."""
    return [sys.executable, "-m", "prism_cli.cli", *map(str, args)]


def workdir(path: str | None, prefix: str) -> Path:
    """WORKDIR (created), or a new temporary folder."""
    work = Path(path or tempfile.mkdtemp(prefix=prefix)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    return work


def simulated_candidates(work: Path, genome_size: int, max_distance: int) -> tuple[Path, Path]:
    """(WORK/sim, WORK/candidates_MAX.bedpe): `prism simulate --genome-size GENOME_SIZE
    --seed 1` and `prism candidates --max-distance MAX` over its enhancer and promoter BED
    files (so each element recurs in many pairs, as in real candidate sets)."""
    sim = work / "sim"
    if not sim.exists():
        subprocess.run(prism("simulate", "-o", sim, "--genome-size", genome_size,
                             "--seed", 1), check=True, capture_output=True, cwd=REPO)
    cand = work / f"candidates_{max_distance}.bedpe"
    if not cand.exists():
        subprocess.run(prism("candidates", "--enhancers", sim / "enhancers.bed",
                             "--promoters", sim / "promoters.bed", "--max-distance",
                             max_distance, "-o", cand), check=True, capture_output=True,
                       cwd=REPO)
    return sim, cand
