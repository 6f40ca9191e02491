"""Where the seed's competition mechanism sits after training: rho per cell, push and pull.

    python -m bench.probes.competition RUN [RUN ...]

Reads each run's log.jsonl (written by `prism train`).  Neutral values
(prism_cli/train/losses.py): rho = 1 (rho_c is the EMA of main / opportunist loss of cell
c's episodes), push weight = max(0, rho - 1) = 0 (it fires only when the opportunist beats
the main path), pull = 0 (main loss no worse than the teacher's).  Prints, per run, the
last epoch's rho range over the training cells and its train-mean push weight and pull,
then the range over all runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def last_epoch(run: Path) -> dict:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()
               if line.strip()]
    return [r for r in records if r.get("kind") == "epoch"][-1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="`prism train` folder")
    runs = ap.parse_args(argv).runs
    rhos, pushes, pulls = [], [], []
    print("| run | rho min | rho max | push | pull |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for run in runs:
        e = last_epoch(run)
        rho = list(e["rho_per_cell"].values())
        push, pull = e["train"]["push"], e["train"]["pull"]
        rhos += rho
        pushes.append(push)
        pulls.append(pull)
        print(f"| {run.name} | {min(rho):.3f} | {max(rho):.3f} | {push:.3f} | {pull:.3f} |")
    print(f"| all {len(runs)} runs | {min(rhos):.3f} | {max(rhos):.3f} | "
          f"{min(pushes):.3f}-{max(pushes):.3f} | {min(pulls):.3f}-{max(pulls):.3f} |")


if __name__ == "__main__":
    main()
