"""`prism train` end to end on a small `prism simulate` world: run directory, resume,
determinism, distributed training and learning on held-out chromosomes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from prism_cli.cli import main

from .prism_train_data import simulated_dataset, write_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return simulated_dataset(tmp_path_factory)


def _train(data, out, cfg, *extra):
    """`prism train` on a tiny world.  These tests are about the training machinery, not
    the features: with ~150 elements label-free motif discovery has too little to learn
    from, so they read the sequence towers unless a test names other features
    (tests/test_features.py trains with each feature source)."""
    if "--element-features" not in extra:
        extra = (*extra, "--element-features", "conv")
    args = ["train", "--data", str(data), "-o", str(out), "--config", str(cfg),
            "--threads", "1", "-q", *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _log(run, kind):
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())
            if r["kind"] == kind]


def test_checkpoint_records_the_window_anchors(data, tmp_path):
    """adapt/score re-extract pairs with the windows training saw, anchors included."""
    from prism_cli.checkpoint import Checkpoint

    sim = data.parent / "sim"
    anchored = tmp_path / "anchored"
    res = CliRunner().invoke(main, ["extract", "-g", str(sim / "genome.fa"), "-p",
                                    str(sim / "pairs.bedpe"), "-o", str(anchored),
                                    "--enhancer-length", "120", "--promoter-length", "160",
                                    "--enhancer-anchor", "start",
                                    "--promoter-anchor", "five_prime"])
    assert res.exit_code == 0, res.output
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 2, "pretrain_steps": 0})
    res = _train(anchored, tmp_path / "run", cfg, "--epochs", "1")
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "run" / "best.json").read_text())
    enh, prom = Checkpoint.from_meta(meta).windows
    assert (enh.length, enh.anchor, prom.length, prom.anchor) == (120, "start", 160, "five_prime")


def test_run_directory_contents_and_metadata(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 3})
    run = tmp_path / "run"
    res = _train(data, run, cfg, "--epochs", "2", "--cells", "CELL0,CELL1",
                 "--val-cells", "CELL2")
    assert res.exit_code == 0, res.output
    for name in ("config.json", "log.jsonl", "val.tsv", "best.safetensors", "best.json",
                 "last.safetensors", "last.json", "last.state.pt"):
        assert (run / name).exists(), name
    meta = json.loads((run / "best.json").read_text())
    assert meta["splits"]["val"] == ["chr3"] and meta["splits"]["test"] == ["chr4"]
    assert [c["name"] for c in meta["cells"]] == ["CELL0", "CELL1"]
    assert len(meta["cells"][0]["pi_teacher"]) == 4
    assert meta["val_cells"] == ["CELL2"]
    assert meta["windows"]["enhancer_length"] == 200
    assert meta["dataset"]["sha256"] == json.loads((data / "manifest.json").read_text())["sha256"]
    epochs = _log(run, "epoch")
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert set(epochs[0]["val"]["cells"]) == {"CELL0", "CELL1", "CELL2"}
    assert "aupr_teacher" not in epochs[0]["val"]["cells"]["CELL2"]   # held-out cell
    steps = _log(run, "step")
    assert len(steps) == 6 and {"main", "teacher", "distill", "rho", "push", "pull"} <= set(steps[0])
    header = (run / "val.tsv").read_text().splitlines()[0].split("\t")
    assert header[:4] == ["epoch", "cell", "n", "n_pos"]
    # an existing run is not overwritten without --force
    res = _train(data, run, cfg, "--epochs", "1")
    assert res.exit_code != 0 and "--force" in res.output


def test_bad_inputs_fail_cleanly(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 1})
    res = _train(data, tmp_path / "r1", cfg, "--cells", "NOPE")
    assert res.exit_code != 0 and "NOPE" in res.output
    res = _train(data, tmp_path / "r2", cfg, "--val-chroms", "chr3", "--test-chroms", "chr3")
    assert res.exit_code != 0 and "both" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"no_such": 1}}')
    res = _train(data, tmp_path / "r3", bad)
    assert res.exit_code != 0 and "no_such" in res.output
    res = _train(data, tmp_path / "r4", cfg, "--resume")
    assert res.exit_code != 0 and "resume" in res.output


def test_same_seed_same_run_and_resume_continues_exactly(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 3})
    full, again, part = tmp_path / "full", tmp_path / "again", tmp_path / "part"
    assert _train(data, full, cfg, "--epochs", "2").exit_code == 0
    assert _train(data, again, cfg, "--epochs", "2").exit_code == 0
    assert [s["loss"] for s in _log(full, "step")] == [s["loss"] for s in _log(again, "step")]
    # interrupted after epoch 1, then resumed to epoch 2
    assert _train(data, part, cfg, "--epochs", "1").exit_code == 0
    res = _train(data, part, cfg, "--epochs", "2", "--resume")
    assert res.exit_code == 0, res.output
    assert [s["step"] for s in _log(part, "step")] == list(range(1, 7))
    a, b = load_file(str(full / "last.safetensors")), load_file(str(part / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=1e-5), k
    la = [s["loss"] for s in _log(full, "step")]
    lb = [s["loss"] for s in _log(part, "step")]
    np.testing.assert_allclose(la, lb, rtol=1e-5)


def test_crossattn_baseline_runs_in_the_same_loop(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 2})
    run = tmp_path / "ca"
    assert _train(data, run, cfg, "--epochs", "1", "--arch", "crossattn").exit_code == 0
    meta = json.loads((run / "best.json").read_text())
    assert meta["arch"] == "crossattn"
    assert set(_log(run, "step")[0]) >= {"main", "loss"}


def test_distributed_two_gloo_processes_keep_parameters_equal(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 3})
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "prism_cli.cli", "train", "--data", str(data), "-o", str(run), "--config",
           str(cfg), "--epochs", "2", "--threads", "1", "-q", "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    epochs = _log(run, "epoch")
    assert len(epochs) == 2
    for e in epochs:
        sums = e["ddp_param_checksums"]
        assert len(sums) == 2 and sums[0] == sums[1]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    # the parameters did move (the check is not vacuous)
    assert epochs[0]["ddp_param_checksums"][0] != epochs[1]["ddp_param_checksums"][0]


@pytest.mark.slow
def test_learns_on_held_out_chromosomes(data, tmp_path):
    """A few hundred steps reduce the validation loss and beat prevalence on chr3."""
    from prism_cli.dataset import PairDataset
    from prism_cli.model import ModelConfig, build_model
    from prism_cli.train.splits import assign_splits
    from prism_cli.train.validate import plan_validation, validate

    # ~120 training elements: only the distance effect is learnable here.  The defaults
    # (bin_norm, 20 % substitution, weight decay 0.05) are chosen for worlds with thousands
    # of elements; on this one the towers memorise (held-out AUROC ~0.47 at chance noise,
    # docs/benchmarks.md), and so do the k-mer token (512 columns) and the direct
    # element path of z_F (held-out AUROC 0.56 with it), so the test uses the small-data
    # settings
    cfg = write_config(tmp_path / "c.json", model={"channels": 32, "bin_norm": False,
                                                   "kmer_k": 0, "z_f_elements": False},
                       train={"steps_per_epoch": 50, "lr": 3e-3, "warmup_steps": 20,
                              "weight_decay": 0.01, "mutation_rate": 0.1,
                              "log_every": 25, "val_episodes": 8})
    run = tmp_path / "learn"
    res = _train(data, run, cfg, "--epochs", "4")
    assert res.exit_code == 0, res.output
    ds = PairDataset(data)
    pairs = ds.pairs
    labels = pairs["label"].to_numpy().astype(np.int64)
    split = assign_splits(pairs["chrom1"].to_numpy(), pairs["chrom2"].to_numpy(), ["chr3"],
                          ["chr4"])
    conf = json.loads((run / "config.json").read_text())
    from prism_cli.features import model_inputs

    enh_in, prom_in = model_inputs(ds, conf)
    arrays = {"enhancers": enh_in, "promoters": prom_in,
              "enh_idx": pairs["enh_idx"].to_numpy(), "prom_idx": pairs["prom_idx"].to_numpy(),
              "log_distance": ds.log_distance(), "labels": labels}
    plan = plan_validation(pairs["cell"].to_numpy(), labels, split,
                           [(c, i) for i, c in enumerate(conf["cells"])], 64, 20000)
    torch.manual_seed(0)
    untrained = build_model(ModelConfig.from_dict(conf["model"]))
    before = validate(untrained, arrays, plan, (4, 32), 8)
    after = _log(run, "epoch")[-1]["val"]
    bce_before = np.mean([m["bce"] for m in before["cells"].values()])
    bce_after = np.mean([m["bce"] for m in after["cells"].values()])
    assert bce_after < bce_before                         # validation loss went down
    cells = after["cells"].values()
    assert np.mean([m["auroc"] for m in cells]) > 0.58
    assert np.mean([m["aupr"] - m["prevalence"] for m in cells]) > 0.03
    assert all(m["aupr"] > m["prevalence"] for m in cells)
