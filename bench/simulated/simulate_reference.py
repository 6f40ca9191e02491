"""Reference scores of `prism simulate` worlds over several seeds (default sizes).

    python -m bench.simulated.simulate_reference [--seeds 5]

For each seed: mean over cells of the oracle / mean-env / U-alone AUPR and AUROC, the
smallest per-cell gap oracle - mean-env (AUPR) and the smallest per-cell lead of mean-env
over U alone (AUPR), and the time to build the world in memory.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from prism_cli.simulate import SimConfig, reference_scores, simulate


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        world = simulate(SimConfig(seed=seed))
        refs = pd.DataFrame(reference_scores(world))
        seconds = time.perf_counter() - t0
        cells = refs[refs["cell"] != "mean"]
        rows.append({
            "seed": seed, "prev": cells["prevalence"].mean(),
            "prev_range": f"{cells['prevalence'].min():.2f}-{cells['prevalence'].max():.2f}",
            "oracle_aupr": cells["oracle_aupr"].mean(), "oracle_auroc": cells["oracle_auroc"].mean(),
            "mean_env_aupr": cells["mean_env_aupr"].mean(),
            "mean_env_auroc": cells["mean_env_auroc"].mean(),
            "U_aupr": cells["U_aupr"].mean(), "U_auroc": cells["U_auroc"].mean(),
            "distance_auroc": cells["distance_auroc"].mean(),
            "min_gap_oracle_vs_mean_env": (cells["oracle_aupr"] - cells["mean_env_aupr"]).min(),
            "min_lead_mean_env_vs_U": (cells["mean_env_aupr"] - cells["U_aupr"]).min(),
            "seconds": seconds,
        })
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
