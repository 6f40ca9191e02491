"""Training throughput of `prism train` (pairs per second) at given window lengths.

Times complete optimisation steps of the real training code (EpisodeSampler ->
BatchBuilder -> EpisodeObjective forward/backward -> AdamW) on random sequence, so the
numbers do not depend on what the model learns.  A step's pairs = query + support pairs of
all its episodes; elements = unique enhancers + promoters encoded in the step.

    python -m bench.throughput.train --enhancer-length 3000 --promoter-length 2000 \
        --steps 5 --threads 2 [--device cuda] [--arch prism|crossattn] [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from prism_cli.predict.cache import resolve_device
from prism_cli.model import ModelConfig, build_model
from prism_cli.train.config import TrainConfig
from prism_cli.train.episodes import BatchBuilder, EpisodeSampler
from prism_cli.train.setup import _optimizer
from prism_cli.train.losses import EpisodeObjective


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enhancer-length", type=int, default=3000)
    ap.add_argument("--promoter-length", type=int, default=2000)
    ap.add_argument("--enhancers", type=int, default=4000)
    ap.add_argument("--promoters", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=40000)
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--arch", default="prism", choices=["prism", "crossattn"])
    ap.add_argument("--config", default=None, help='JSON {"model": {...}, "train": {...}}')
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    conf = json.loads(open(args.config).read()) if args.config else {}
    rng = np.random.default_rng(0)
    enh = rng.integers(0, 4, (args.enhancers, args.enhancer_length), dtype=np.uint8)
    prom = rng.integers(0, 4, (args.promoters, args.promoter_length), dtype=np.uint8)
    enh_idx = rng.integers(0, args.enhancers, args.pairs)
    prom_idx = rng.integers(0, args.promoters, args.pairs)
    log_d = rng.uniform(3, 5, args.pairs).astype(np.float32)
    labels = (rng.random(args.pairs) < 0.25).astype(np.int64)
    cell = rng.integers(0, args.cells, args.pairs)
    tcfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **conf.get("train", {})})
    mcfg = ModelConfig.from_dict({**ModelConfig().to_dict(), **conf.get("model", {}),
                                  "arch": args.arch, "n_cells": args.cells,
                                  "enhancer_length": args.enhancer_length,
                                  "promoter_length": args.promoter_length})
    torch.manual_seed(0)
    model = build_model(mcfg)
    objective = EpisodeObjective(model, tcfg).to(device)
    optimizer = _optimizer(model, tcfg)
    sampler = EpisodeSampler({c: np.flatnonzero(cell == c) for c in range(args.cells)}, labels,
                             tcfg.support_sizes, tcfg.query_size, seed=0)
    builder = BatchBuilder(enh, prom, enh_idx, prom_idx, log_d, labels, tcfg.max_shift,
                           mutation_rate=tcfg.mutation_rate)
    amp = args.amp and device.type == "cuda"
    n_pairs = n_query = n_elem = 0
    elapsed = 0.0
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        batch = builder.build(sampler.sample(tcfg.batch_episodes),
                              with_support=model.has_environment).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss, _ = objective(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            elapsed += time.perf_counter() - t0
            n_pairs += batch.n_pairs
            n_query += batch.query.n_pairs
            n_elem += batch.enh_codes.shape[0] + batch.prom_codes.shape[0]
    result = {
        "arch": args.arch, "device": str(device), "threads": torch.get_num_threads(),
        "enhancer_length": args.enhancer_length, "promoter_length": args.promoter_length,
        "batch_episodes": tcfg.batch_episodes, "support_sizes": list(tcfg.support_sizes),
        "query_size": tcfg.query_size, "steps": args.steps,
        "s_per_step": elapsed / args.steps, "pairs_per_s": n_pairs / elapsed,
        "query_pairs_per_s": n_query / elapsed, "elements_per_s": n_elem / elapsed,
        "pairs_per_step": n_pairs / args.steps, "elements_per_step": n_elem / args.steps,
        "params": sum(p.numel() for p in model.parameters()),
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
