"""`prism score` throughput with and without the element cache.

    python bench/score_throughput.py [--pairs 1000000] [--uncached-pairs 3000] [--workdir DIR]
                                     [--device cpu|cuda] [--model RUN]

Data: a `prism simulate` genome (200 Mbp) and candidate pairs from `prism candidates` over
its enhancer and promoter BED files; windows 3 kb enhancer / 2 kb promoter; the default
PRISM model configuration. Without --model the weights are random (throughput does not
depend on the weights' values; the architecture and window lengths are what count).

* cached (the product): `prism score` in a fresh process on --pairs pairs: wall time, pairs/s
  and the process's peak RSS. Each unique element is encoded once per chromosome and pairs
  are scored from cached tokens.
* uncached (reference): the same model, each pair's two windows run through the towers for
  every pair (as a per-pair pipeline does), then the same pair head; --uncached-pairs pairs,
  rate reported per pair.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LE, LP = 3000, 2000

CHILD = r"""
import json, resource, sys, time
from click.testing import CliRunner
from prism_cli.cli import main
t0 = time.perf_counter()
res = CliRunner().invoke(main, sys.argv[1:], catch_exceptions=False)
dt = time.perf_counter() - t0
print(res.output[-2000:], file=sys.stderr)
print(json.dumps({"seconds": dt, "exit": res.exit_code,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_model(path: Path) -> None:
    import torch

    from prism_cli.checkpoint import save_checkpoint
    from prism_cli.model import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(enhancer_length=LE, promoter_length=LP, n_cells=2)
    meta = {"cells": [{"name": "A", "index": 0}, {"name": "B", "index": 1}],
            "windows": {"enhancer_length": LE, "promoter_length": LP},
            "train_config": {"support_min": 8, "support_max": 256}}
    path.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path / "best", build_model(cfg), meta)


def uncached_rate(model_path, cand: Path, fasta: Path, n: int, device: str) -> dict:
    """Per-pair encoding: towers on each pair's windows, then the pair head."""
    import numpy as np
    import torch

    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.dataset import PairDataset
    from prism_cli.extract import WindowSpec, extract
    from prism_cli.inference import evaluating, predict
    from prism_cli.io.fasta import Genome

    model, meta = load_checkpoint(model_path, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub.bedpe"
        with open(cand) as src, open(sub, "w") as dst:
            for i, line in enumerate(src):
                if i > n:
                    break
                dst.write(line)
        root = Path(tmp) / "ds"
        root.mkdir()
        extract(Genome(fasta), sub, root, WindowSpec(LE), WindowSpec(LP))
        ds = PairDataset(root)
        pairs = ds.pairs
        pi = torch.full((model.cfg.n_prototypes,), 1.0 / model.cfg.n_prototypes)
        t0 = time.perf_counter()
        with evaluating(model):
            for s in range(0, len(pairs), 64):
                part = pairs.iloc[s:s + 64]
                e = torch.from_numpy(np.ascontiguousarray(ds.enhancers[part.enh_idx.to_numpy()]))
                p = torch.from_numpy(np.ascontiguousarray(ds.promoters[part.prom_idx.to_numpy()]))
                ld = torch.from_numpy(np.log10(part.distance.to_numpy()).astype(np.float32))
                out = model.pair(model.encode_enhancers(e.to(device)),
                                 model.encode_promoters(p.to(device)), ld.to(device))
                predict(model, out["U"], out["z_F"], pi)
        dt = time.perf_counter() - t0
    return {"pairs": len(pairs), "seconds": dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--uncached-pairs", type=int, default=3000)
    ap.add_argument("--genome-size", type=int, default=200_000_000)
    ap.add_argument("--max-distance", type=int, default=10_000_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="prism-score-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sim = work / "sim"
    if not sim.exists():
        subprocess.run(["prism", "simulate", "-o", sim, "--genome-size", str(args.genome_size),
                        "--seed", "1"], check=True, capture_output=True)
    cand = work / "candidates.bedpe"
    if not cand.exists():
        subprocess.run(["prism", "candidates", "-e", sim / "enhancers.bed", "-p",
                        sim / "promoters.bed", "-d", str(args.max_distance), "-o", cand],
                       check=True, capture_output=True)
    sub = work / f"pairs_{args.pairs}.bedpe"
    with open(cand) as src, open(sub, "w") as dst:
        n = -1
        for n, line in enumerate(src):
            if n > args.pairs:
                break
            dst.write(line)
    n_pairs = min(n, args.pairs)
    print(f"# {n_pairs:,} pairs; windows {LE}/{LP} bp; device {args.device}", flush=True)
    model = Path(args.model) if args.model else work / "model"
    if not args.model and not model.exists():
        make_model(model)
    out = work / "scored.bedpe"
    res = subprocess.run([sys.executable, "-c", CHILD, "score", str(sub), "-m", str(model), "-g",
                          str(sim / "genome.fa"), "-c", "A", "-o", str(out), "--force",
                          "--device", args.device], capture_output=True, text=True, check=True)
    cached = json.loads(res.stdout.strip().splitlines()[-1])
    print(res.stderr.strip().splitlines()[-1])
    un = uncached_rate(model, cand, sim / "genome.fa", args.uncached_pairs, args.device)
    c_rate = n_pairs / cached["seconds"]
    u_rate = un["pairs"] / un["seconds"]
    print("| method | pairs | wall s | pairs/s | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| prism score (element cache) | {n_pairs:,} | {cached['seconds']:.1f} | {c_rate:,.0f} "
          f"| {cached['peak_rss_mb']:,.0f} |")
    print(f"| per-pair encoding (no cache) | {un['pairs']:,} | {un['seconds']:.1f} | {u_rate:,.0f} | - |")
    print(f"speed-up from caching: {c_rate / u_rate:,.1f}x")


if __name__ == "__main__":
    main()
