"""`prism score` throughput, end to end, one process or torchrun ranks; and the per-pair
reference without the element cache.

    python -m bench.throughput.score [--pairs 1000000] [--ranks 1] [--features discover]
        [--uncached-pairs 1000] [--genome-size 200000000] [--max-distance 12000000]
        [--workdir DIR] [--device cpu|cuda] [--model RUN] [--gz]

Data: a `prism simulate` genome (--genome-size, seed 1) and candidate pairs from
`prism candidates` over its enhancer and promoter BED files (--max-distance); the first
--pairs candidates are scored; windows 3 kb enhancer / 2 kb promoter.

Model (without --model): random weights in the shape of a default `prism train` model
(throughput depends on the architecture, the windows and the element features, not on
the weights' values):

* ``--features discover`` (the default of `prism train`): a feature tower over the
  occupancies of 32 motifs (discover's maximum) of width 12 (its filter width), scanned in
  every element once, thresholds at p = 1e-4; no sequence tower.
* ``--features conv``: the convolutional sequence towers + k-mer token (the default before
  element features; the model of the 2026-11-27 rows in docs/benchmarks-archive.md).

Measured, in a fresh process (``--ranks N``: ``torchrun --standalone --nproc-per-node N
-m prism_cli.cli score ...``): wall time, CPU seconds (user + system, all processes),
pairs/s and the largest peak RSS of any one process; with the machine's load average
before and after (the figures are only comparable at a similar load).
The per-pair reference (--uncached-pairs, 0 = skip): each pair's two windows through the
element features and towers for every pair, then the same pair head; model time only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import LE, LP, REPO, prism, simulated_candidates, workdir

N_MOTIFS, MOTIF_WIDTH = 32, 12

# runs the command as a child; its rusage covers every process the command starts
WRAP = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": dt, "exit": rc, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def make_model(path: Path, features: str) -> None:
    import numpy as np
    import torch

    from prism_cli.checkpoint import save_checkpoint
    from prism_cli.model import ModelConfig, build_model

    meta = {"cells": [{"name": "A", "index": 0}, {"name": "B", "index": 1}],
            "windows": {"enhancer_length": LE, "promoter_length": LP},
            "train_config": {"support_min": 8, "support_max": 256}}
    extra = {}
    if features == "discover":
        from prism_cli.features import FeatureSpec, FeatureStage
        from prism_cli.motifs.pwm import Motif
        from prism_cli.motifs.scan import MotifScanner

        rng = np.random.default_rng(0)
        motifs = [Motif(f"bench{i:02d}", rng.dirichlet(np.full(4, 0.3), size=MOTIF_WIDTH),
                        "discover") for i in range(N_MOTIFS)]
        scanner = MotifScanner(motifs)
        scanner.set_pvalue_thresholds(1e-4)
        stage = FeatureStage(FeatureSpec(("discover",)), [("discover", scanner)], [])
        meta["element_features"] = stage.state()
        extra = {"n_features": stage.n_features, "sequence_tower": False}
    torch.manual_seed(0)
    cfg = ModelConfig(enhancer_length=LE, promoter_length=LP, n_cells=2, **extra)
    path.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path / "best", build_model(cfg), meta)


def uncached_rate(model_path, cand: Path, fasta: Path, n: int, device: str) -> dict:
    """Per-pair encoding: element inputs and towers for each pair, then the pair head."""
    import numpy as np
    import torch

    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.dataset import PairDataset
    from prism_cli.extract import WindowSpec, extract
    from prism_cli.features import ElementInputs, FeatureStage
    from prism_cli.predict.cache import evaluating
    from prism_cli.predict.environment import predict
    from prism_cli.io.fasta import Genome

    model, meta = load_checkpoint(model_path, device=device)
    stage = FeatureStage.from_state(meta.get("element_features"))

    def element_input(codes):  # what the model reads, computed for this pair alone
        feats = (np.concatenate([sc.content(codes) for _, sc in stage.scanners], axis=1)
                 if stage.scanners else None)
        keep = codes if stage.spec.conv or feats is None else None
        return torch.from_numpy(ElementInputs(keep, feats).take(np.arange(len(codes))))

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
                e = element_input(np.ascontiguousarray(ds.enhancers[part.enh_idx.to_numpy()]))
                p = element_input(np.ascontiguousarray(ds.promoters[part.prom_idx.to_numpy()]))
                ld = torch.from_numpy(np.log10(part.distance.to_numpy()).astype(np.float32))
                out = model.pair(model.encode_enhancers(e.to(device)),
                                 model.encode_promoters(p.to(device)), ld.to(device))
                predict(model, out["U"], out["z_F"], pi)
        dt = time.perf_counter() - t0
    return {"pairs": len(pairs), "seconds": dt}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--ranks", type=int, default=1, help="torchrun processes (1: plain)")
    ap.add_argument("--features", choices=["discover", "conv"], default="discover")
    ap.add_argument("--uncached-pairs", type=int, default=1000)
    ap.add_argument("--genome-size", type=int, default=200_000_000)
    ap.add_argument("--max-distance", type=int, default=12_000_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None)
    ap.add_argument("--gz", action="store_true", help="write scored.bedpe.gz (BGZF)")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)
    os.chdir(REPO)  # `python -m prism_cli.cli` from this checkout
    work = workdir(args.workdir, "prism-score-bench-")
    sim, cand = simulated_candidates(work, args.genome_size, args.max_distance)
    sub = work / f"pairs_{args.pairs}.bedpe"
    with open(cand) as src, open(sub, "w") as dst:
        n = -1
        for n, line in enumerate(src):
            if n > args.pairs:
                break
            dst.write(line)
    n_pairs = min(n, args.pairs)
    model = Path(args.model) if args.model else work / f"model_{args.features}"
    if not args.model and not model.exists():
        make_model(model, args.features)
    print(f"# {n_pairs:,} pairs; windows {LE}/{LP} bp; model {model.name}; device "
          f"{args.device}; ranks {args.ranks}", flush=True)
    out = work / ("scored.bedpe.gz" if args.gz else "scored.bedpe")
    cmd = prism("score", "-p", sub, "-m", model, "-g", sim / "genome.fa", "-c", "A", "-o", out,
                "--force", "--device", args.device)
    if args.ranks > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(args.ranks), *cmd[1:]]
    load0 = os.getloadavg()
    res = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True)
    load1 = os.getloadavg()
    if res.returncode or not res.stdout.strip():
        sys.exit(res.stderr[-3000:])
    cached = json.loads(res.stdout.strip().splitlines()[-1])
    if cached["exit"]:
        sys.exit(res.stderr[-3000:])
    print([ln for ln in res.stderr.splitlines() if ln.startswith("scored ")][-1])
    print(f"# load average (1 min) before {load0[0]:.2f}, after {load1[0]:.2f}; "
          f"{shutil.disk_usage(work).free / 2**30:.0f} GiB free in {work}")
    c_rate = n_pairs / cached["seconds"]
    print("| method | pairs | wall s | CPU s | pairs/s | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    what = f"`prism score`, {args.ranks} torchrun ranks" if args.ranks > 1 else "`prism score`"
    print(f"| {what} (element cache), end to end | {n_pairs:,} | {cached['seconds']:.1f} "
          f"| {cached['cpu_s']:.1f} | {c_rate:,.0f} | {cached['peak_rss_mb']:,.0f} |")
    if args.uncached_pairs > 0:
        un = uncached_rate(model, cand, sim / "genome.fa", args.uncached_pairs, args.device)
        u_rate = un["pairs"] / un["seconds"]
        print(f"| per-pair encoding (no cache), model time only | {un['pairs']:,} | "
              f"{un['seconds']:.1f} | - | {u_rate:,.0f} | - |")
        print(f"speed-up from caching: {c_rate / u_rate:,.1f}x")


if __name__ == "__main__":
    main()
