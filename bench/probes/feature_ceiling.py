"""Is a run's zero-shot limited by its element features or by its head?

    python -m bench.probes.feature_ceiling --world-seed 0 --genome-size 20000000 \
        --pairs 100000 --run RUN [RUN ...] [-o OUT.tsv]

Rebuilds the `prism simulate` world (same seed and size as the runs' dataset), scans every
element's window with the motifs and thresholds each run's checkpoint recorded (its
FeatureStage), and fits the simulator's own cross-cell regression (`pwm_lr` of
prism_cli.simulate.references: log1p content of enhancer, promoter and their products +
log10 distance, fitted on the other cells off the last chromosome) on those occupancies.
Beside it the same regression on the true PWMs' hits (`pwm_lr`), on their soft
occupancies (`pwm_lr soft S`, what a model with ``motif_softness`` S reads) and on the true
counts (`count_lr`). If the run's features reach the true-PWM regression's AUPR, the features
carry what a sequence model needs and the gap of the run's zero-shot is the head's; if
not, the features are the limit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def run_occupancy(run: Path, windows: np.ndarray) -> np.ndarray:
    """Occupancy (n_elements, n_motifs) of the windows under the run's recorded motifs."""
    from prism_cli.checkpoint import Checkpoint
    from prism_cli.features.stage import FeatureStage

    stage = FeatureStage.from_state(Checkpoint.read(run).element_features)
    blocks = [sc.content(windows).astype(np.float32) for _, sc in stage.scanners]
    if not blocks:
        raise SystemExit(f"{run}: the run scans no motifs (features: {stage.describe()})")
    return np.concatenate(blocks, axis=1)


def main(argv=None) -> None:
    from prism_cli.simulate import SimConfig, simulate
    from prism_cli.simulate.references import (element_windows, pwm_occupancy,
                                               reference_scores)

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--genome-size", type=int, default=20_000_000)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--run", nargs="+", type=Path, required=True,
                    help="training runs (folders with best.safetensors) on that world")
    ap.add_argument("--softness", type=float, default=1.0,
                    help="also fit the regression on the true PWMs' soft occupancies at "
                         "this softness (bits; 0: not)")
    ap.add_argument("-o", "--out", type=Path, help="write the table as TSV")
    args = ap.parse_args(argv)

    world = simulate(SimConfig(seed=args.world_seed, genome_size=args.genome_size,
                               pairs=args.pairs))
    windows = element_windows(world)
    table = []

    def add(name: str, per_cell: list[dict], ref: str, n_motifs: int) -> None:
        for r in per_cell[:-1]:  # the last row is the mean
            table.append({"features": name, "motifs": n_motifs, "cell": r["cell"],
                          "aupr": r[f"{ref}_aupr"], "auroc": r[f"{ref}_auroc"]})
        print(name, flush=True)

    # reference_scores fits count_lr and pwm_lr (the latter on the occupancy given)
    truth = reference_scores(world)
    add("count_lr", truth, "count_lr", world.counts.shape[1])
    add("pwm_lr", truth, "pwm_lr", len(world.motifs))
    if args.softness:   # the same regression on the true PWMs' soft occupancies
        soft = pwm_occupancy(world, softness=args.softness)
        add(f"pwm_lr soft {args.softness:g}", reference_scores(world, soft), "pwm_lr",
            len(world.motifs))
    for run in args.run:
        occ = run_occupancy(run, windows)
        add(f"lr on {run.name}", reference_scores(world, occ), "pwm_lr", occ.shape[1])
    frame = pd.DataFrame(table)
    wide = frame.pivot(index="features", columns="cell", values="aupr")
    wide["mean"] = wide.mean(axis=1)
    print(wide.round(3).to_string())
    if args.out:
        frame.to_csv(args.out, sep="\t", index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
