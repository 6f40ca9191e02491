"""Small simulated datasets for the training tests (built once per test session).

`prism simulate` (3 cells, 4 chromosomes) + `prism extract` (200 bp windows), through the
command line exactly as a user would run them.  Not a test module itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from prism_cli.cli import main

_CACHE: dict[tuple, Path] = {}

# a model small enough for many optimisation steps per second on 2 CPU cores
TINY_MODEL = {"channels": 16, "motif_width": 9, "pool": 4, "dilations": [], "n_tokens": 4,
              "d_model": 16, "n_heads": 2, "n_anchors": 2, "d_z": 16, "kan_hidden": 8,
              "kan_frequencies": 3, "d_f": 8, "n_prototypes": 4, "d_env": 8,
              "student_hidden": 16, "dropout": 0.0}
TINY_TRAIN = {"batch_episodes": 4, "support_min": 4, "support_max": 32, "query_size": 32,
              "val_episodes": 4, "val_support_pool": 64, "log_every": 1, "warmup_steps": 2,
              "max_shift": 2, "pretrain_steps": 0, "min_steps_per_epoch": 1,
              # label-free motif discovery (the default features), cut to test size
              "discover_motifs": 8, "discover_steps": 40, "discover_max_elements": 600}


def simulated_dataset(tmp_path_factory, pairs: int = 3000, length: int = 200,
                      seed: int = 1) -> Path:
    """Path of an extracted dataset from a small `prism simulate` world (cached)."""
    key = (pairs, length, seed)
    if key in _CACHE:
        return _CACHE[key]
    root = tmp_path_factory.mktemp(f"world{pairs}_{length}_{seed}")
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "-o", str(root / "sim"), "--n-cells", "3",
                               "--genome-size", "600000", "--n-pairs", str(pairs),
                               "--seed", str(seed)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["extract", "--fasta", str(root / "sim" / "genome.fa"),
                               "--pairs", str(root / "sim" / "pairs.bedpe"),
                               "-o", str(root / "data"), "--enhancer-length", str(length),
                               "--promoter-length", str(length)])
    assert res.exit_code == 0, res.output
    _CACHE[key] = root / "data"
    return root / "data"


def write_config(path: Path, model: dict | None = None, train: dict | None = None) -> Path:
    path.write_text(json.dumps({"model": {**TINY_MODEL, **(model or {})},
                                "train": {**TINY_TRAIN, **(train or {})}}))
    return path
