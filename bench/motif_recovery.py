"""How close a trained model's motif filters are to a simulated world's planted PWMs.

    python bench/motif_recovery.py RUN/best.safetensors [...] --seed 0 \
        --genome-size 20000000 --pairs 100000

Rebuilds the world's motifs with `prism simulate`'s settings (same seed and sizes as the
world the model was trained on), then prints, per tower, the mean over PWMs of the best
correlation of any filter with the PWM's log-odds (either strand, any offset), beside the
same figure for random filters of the same shape.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from tower_probe import motif_recovery  # noqa: E402

from prism_cli.simulate import SimConfig, simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+", help="model .safetensors files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--genome-size", type=int, default=SimConfig.genome_size)
    ap.add_argument("--pairs", type=int, default=SimConfig.pairs)
    args = ap.parse_args()
    world = simulate(SimConfig(seed=args.seed, genome_size=args.genome_size, pairs=args.pairs))
    chance_by_shape: dict[tuple, float] = {}
    for path in args.weights:
        state = load_file(path)
        for tower in ("enhancer_tower", "promoter_tower"):
            filters = state[f"{tower}.motifs.weight"].numpy()                # (C, 4, W)
            if filters.shape not in chance_by_shape:
                random = torch.randn(filters.shape, generator=torch.Generator().manual_seed(0))
                chance_by_shape[filters.shape] = np.mean(motif_recovery(random.numpy(),
                                                                        world.motifs))
            chance = chance_by_shape[filters.shape]
            trained = np.mean(motif_recovery(filters, world.motifs))
            print(f"{path}\t{tower}\t{filters.shape[0]} filters\ttrained {trained:.3f}\t"
                  f"random {chance:.3f}")


if __name__ == "__main__":
    main()
