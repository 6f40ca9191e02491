"""adapt / score on a small random-weight model: plumbing, determinism, formats, errors.

(Whether adaptation helps is measured in bench/, on a trained model.)
"""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from prism_cli.checkpoint import save_checkpoint
from prism_cli.cli import main
from prism_cli.model import ModelConfig, build_model

from .conftest import write_fasta

HEADER = "#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell\tlabel\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), 30_000)) for c in ("chr1", "chr2")}
    fasta = write_fasta(root / "g.fa", seqs)
    rows = []
    for i in range(120):
        c = "chr1" if i < 80 else "chr2"
        s1 = int(rng.integers(0, 29_000))
        s2 = int(rng.integers(0, 29_000))
        rows.append(f"{c}\t{s1}\t{s1 + 300}\t{c}\t{s2}\t{s2 + 300}\tq{i}\t.\t.\t+\tNEW\t{i % 3 == 0:d}")
    (root / "pairs.bedpe").write_text(HEADER + "\n".join(rows) + "\n")
    torch.manual_seed(0)
    cfg = ModelConfig(enhancer_length=64, promoter_length=64, channels=16, d_model=16,
                      n_heads=2, d_z=16, d_f=8, n_prototypes=4, d_env=8, student_hidden=16,
                      n_tokens=4, n_cells=2, dilations=(2,))
    model = build_model(cfg)
    meta = {"cells": [{"name": "A", "index": 0}, {"name": "B", "index": 1}],
            "windows": {"enhancer_length": 64, "promoter_length": 64},
            "train_config": {"support_min": 4, "support_max": 32}}
    (root / "model").mkdir()
    save_checkpoint(root / "model" / "best", model, meta)
    return root


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def adapt_args(w, support, cell="NEW", *extra):
    return ["adapt", "-m", w / "model", "-s", support, "-g", w / "g.fa", "-c", cell,
            "--registry", w / "reg", "--episodes", 8, *extra]


def test_adapt_deterministic_and_order_invariant(world, tmp_path):
    lines = (world / "pairs.bedpe").read_text().splitlines()
    shuffled = tmp_path / "shuffled.bedpe"
    body = lines[1:]
    np.random.default_rng(1).shuffle(body)
    shuffled.write_text("\n".join([lines[0]] + body) + "\n")
    records = []
    for support in (world / "pairs.bedpe", world / "pairs.bedpe", shuffled):
        res = run(*adapt_args(world, support, "NEW", "--force"))
        assert res.exit_code == 0, res.output
        rec = json.loads((world / "reg" / "NEW.json").read_text())
        records.append({k: rec[k] for k in ("pi", "pi_sd", "threshold", "cross_fit", "spread")})
    assert records[0] == records[1] == records[2]
    assert abs(sum(records[0]["pi"]) - 1) < 1e-5 and 0 <= records[0]["threshold"] <= 1


def test_adapt_errors(world, tmp_path):
    one_class = tmp_path / "one.bedpe"
    one_class.write_text(HEADER + "".join(
        f"chr1\t{i}\t{i + 50}\tchr1\t{i + 900}\t{i + 950}\tq{i}\t.\t.\t+\tX\t0\n" for i in range(20)))
    res = run(*adapt_args(world, one_class, "X"))
    assert res.exit_code == 1 and "only negatives" in res.output
    few = tmp_path / "few.bedpe"
    few.write_text(HEADER + "".join(
        f"chr1\t{i}\t{i + 50}\tchr1\t{i + 900}\t{i + 950}\tq{i}\t.\t.\t+\tX\t{i % 2}\n" for i in range(4)))
    res = run(*adapt_args(world, few, "X"))
    assert res.exit_code == 1 and "too few labelled support pairs" in res.output
    assert "at least 8" in res.output
    unknown = tmp_path / "chr.bedpe"
    unknown.write_text(HEADER + "chr9\t0\t10\tchr9\t50\t60\tq\t.\t.\t+\tX\t1\n")
    res = run(*adapt_args(world, unknown, "X"))
    assert res.exit_code == 1 and "chr.bedpe:2: chromosome 'chr9' is not in the FASTA" in res.output
    res = run(*adapt_args(world, world / "pairs.bedpe", "A"))
    assert res.exit_code == 1 and "is a training cell" in res.output
    assert not (world / "reg" / "X.json").exists() and not (world / "reg" / "A.json").exists()
    assert run(*adapt_args(world, world / "pairs.bedpe", "DUP")).exit_code == 0
    before = (world / "reg" / "DUP.json").read_text()
    res = run(*adapt_args(world, world / "pairs.bedpe", "DUP", "--seed", "5"))
    assert res.exit_code == 1 and "already registered" in res.output
    assert (world / "reg" / "DUP.json").read_text() == before


def score_args(w, out, *extra):
    return ["score", "-p", w / "pairs.bedpe", "-m", w / "model", "-g", w / "g.fa", "--registry",
            w / "reg", "-o", out, *extra]


def test_score_output_valid_sorted_and_chunk_invariant(world, tmp_path):
    assert run(*adapt_args(world, world / "pairs.bedpe", "NEW", "--force")).exit_code == 0
    outs = []
    for chunk in (1, 1000):
        out = tmp_path / f"s{chunk}.bedpe"
        res = run(*score_args(world, out, "--cell", "NEW", "--chunk-pairs", chunk))
        assert res.exit_code == 0, res.output
        outs.append(out)
    a, b = (pd.read_csv(o, sep="\t") for o in outs)
    # float32 matrix products differ in the last bits between batch sizes (other BLAS
    # kernels), so floats agree to ~1e-6 relative, not bit for bit; the
    # integer score and every non-float column are identical, floats agree to 1e-5
    assert a.drop(columns=["prob", "U_I", "R"]).equals(b.drop(columns=["prob", "U_I", "R"]))
    for col in ("prob", "U_I", "R"):
        assert np.allclose(a[col], b[col], rtol=1e-5, atol=1e-5)
    text = outs[0].read_text().splitlines()
    assert text[0].startswith("#chrom1") and sum(t.startswith("#") for t in text) == 1
    counts = {len(t.split("\t")) for t in text}
    assert counts == {15}
    df = pd.read_csv(outs[0], sep="\t")
    assert list(df.columns[10:]) == ["prob", "U_I", "R", "cell", "label"]
    assert (df["score"] == np.round(1000 * df["prob"]).astype(int)).all()
    assert df["score"].between(0, 1000).all() and (df["cell"] == "NEW").all()
    assert (df["R"] >= 0).all() and len(df) == 120
    keys = list(zip(df["#chrom1"], df.start1, df.end1, df.start2, df.end2))
    assert keys == sorted(keys)
    # bedtools reads it as BEDPE
    res = subprocess.run(["bedtools", "pairtopair", "-a", outs[0], "-b", outs[0]],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.count("\n") >= 120
    side = json.loads((tmp_path / "s1.bedpe.json").read_text())
    assert side["environments"]["NEW"]["kind"] == "student" and len(side["model_checksum"]) == 64
    assert "NEW" in side["thresholds"]


def test_score_teacher_zero_shot_and_refusals(world, tmp_path):
    out = tmp_path / "z.bedpe"
    # a typo is an error naming the known cells, not a silent zero-shot
    res = run(*score_args(world, out, "--cell", "UNSEEN"))
    assert res.exit_code == 1 and "unknown cell 'UNSEEN'" in res.output
    assert "training cells A, B" in res.output and not out.exists()
    res = run(*score_args(world, out, "--zero-shot"))
    assert res.exit_code == 0 and "zero-shot" in res.output
    z = pd.read_csv(out, sep="\t")
    assert (z["cell"] == "zero-shot").all() and (z["R"] > 0).all()
    assert (z["input_cell"] == "NEW").all()  # the input's own cells are kept
    # zero-shot = the average of the training cells' environments, written in the sidecar
    from prism_cli.checkpoint import Checkpoint
    from prism_cli.predict.environment import mean_environment, teacher_pi

    model = Checkpoint.load(world / "model", "cpu").model
    pis = torch.stack([teacher_pi(model, i) for i in range(2)])
    assert torch.allclose(mean_environment(model), pis.mean(0))
    side = json.loads((tmp_path / "z.bedpe.json").read_text())
    assert np.allclose(side["environments"]["zero-shot"]["pi"], pis.mean(0).numpy(), atol=1e-6)
    out_t = tmp_path / "t.bedpe"
    assert run(*score_args(world, out_t, "--cell", "A", "--format", "interact")).exit_code == 0
    t = pd.read_csv(out_t, sep="\t")
    assert (t["cell"] == "A").all() and (t["R"] > 0).any()
    assert np.allclose(t["U_I"], z["U_I"])  # U_I does not depend on the cell
    assert (tmp_path / "t.bedpe.interact").exists()
    res = run(*score_args(world, out, "--cell", "A"))
    assert res.exit_code == 1 and "use --force" in res.output
    # labels on some rows only: one label column for every chunk ('.' where unknown)
    part = tmp_path / "part.bedpe"
    lines = (world / "pairs.bedpe").read_text().splitlines()
    part.write_text("\n".join([lines[0]] + [ln if i < 5 else ln.rsplit("\t", 1)[0] + "\t."
                                            for i, ln in enumerate(lines[1:])]) + "\n")
    out_p = tmp_path / "p.bedpe"
    res = run("score", "-p", part, "-m", world / "model", "-g", world / "g.fa", "--zero-shot",
              "--chunk-pairs", 2, "-o", out_p)
    assert res.exit_code == 0, res.output
    lab = pd.read_csv(out_p, sep="\t")["label"].astype(str)
    assert (lab != ".").sum() == 5 and len(lab) == 120
    bad = tmp_path / "bad.bedpe"
    bad.write_text(HEADER + "chr1\t10\t5\tchr1\t50\t60\tq\t.\t.\t+\tX\t1\n")
    res = run("score", "-p", bad, "-m", world / "model", "-g", world / "g.fa", "-o", tmp_path / "o.bedpe")
    assert res.exit_code == 1 and "bad.bedpe:2: start1 (10) > end1 (5)" in res.output
    assert not (tmp_path / "o.bedpe").exists() and not (tmp_path / "o.bedpe.json").exists()


def test_adapt_support_curve_and_validation_gives_the_adapt_environment(world, tmp_path):
    """--support-curve reports AUPR per support size (TSV + record); the environment adapt
    registers is the one validation's estimate gives for the same support outputs."""
    from prism_cli.checkpoint import Checkpoint
    from prism_cli.io.fasta import Genome
    from prism_cli.predict.adapt import canonical_order, support_outputs
    from prism_cli.predict.environment import estimate_environment
    from prism_cli.prepare import pairs_dataset

    tsv = tmp_path / "curve.tsv"
    res = run(*adapt_args(world, world / "pairs.bedpe", "CURVE", "--support-curve",
                          "--curve-tsv", tsv))
    assert res.exit_code == 0, res.output
    rec = json.loads((world / "reg" / "CURVE.json").read_text())
    curve = pd.read_csv(tsv, sep="\t")
    assert curve["size"].tolist() == [r["size"] for r in rec["support_curve"]]
    assert curve["size"].tolist()[:3] == [0, 8, 16] and curve["size"].max() <= 60
    assert curve["aupr"].between(0, 1).all() and (curve["draws"] >= 1).all()
    # the same support through the function validation calls
    ck = Checkpoint.load(world / "model", "cpu")
    ds = pairs_dataset(Genome(world / "g.fa"), world / "pairs.bedpe", ck.windows, tmp_path / "d")
    sup = support_outputs(ck.model, ds, canonical_order(ds.pairs))
    pi, _, _ = estimate_environment(ck.model, sup, (4, 32), 0)
    np.testing.assert_allclose(pi.numpy(), rec["pi"], atol=1e-6)
    res = run(*adapt_args(world, world / "pairs.bedpe", "CURVE2", "--support-curve",
                          "--curve-tsv", tsv))
    assert res.exit_code != 0 and "exists" in res.output     # refused before any work
    assert not (world / "reg" / "CURVE2.json").exists()


@pytest.mark.parametrize("terminal, quiet, shown", [(True, False, True), (False, False, False),
                                                    (True, True, False)])
def test_score_progress_bar_only_on_a_terminal_and_not_quiet(terminal, quiet, shown):
    import io

    from rich.console import Console

    from prism_cli.commands.progress import ScoreProgress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, quiet=quiet, width=120)
    with ScoreProgress(console, 1000) as bar:
        bar.stage("scoring chr7")
        bar.advance_to(400)
        bar._bar.refresh()
    text = buf.getvalue()
    assert ("scoring chr7" in text and "400/1000" in text and "eta" in text) == shown
    assert bar.completed == 400


def test_validation_scores_exactly_what_adapt_and_score_give(world, tmp_path):
    """The number training reports for a cell (train/validate.py) is the number a user gets
    from `prism adapt` on the same support pairs followed by `prism score` on the query:
    the same environment, the same probabilities (BCE), the same AUPR and AUROC."""
    from prism_cli.checkpoint import Checkpoint
    from prism_cli.io.fasta import Genome
    from prism_cli.metrics import aupr, auroc
    from prism_cli.prepare import pairs_dataset
    from prism_cli.train.validate import ValCell, validate

    lines = (world / "pairs.bedpe").read_text().splitlines()[1:]
    support = [ln for ln in lines if ln.startswith("chr1\t")]
    query = [ln for ln in lines if ln.startswith("chr2\t")]
    (tmp_path / "support.bedpe").write_text(HEADER + "\n".join(support) + "\n")
    (tmp_path / "query.bedpe").write_text(HEADER + "\n".join(query) + "\n")
    reg = tmp_path / "reg"
    res = run("adapt", "-m", world / "model", "-s", tmp_path / "support.bedpe", "-g",
              world / "g.fa", "-c", "NEW", "--registry", reg, "--episodes", 8)
    assert res.exit_code == 0, res.output
    res = run("score", "-p", tmp_path / "query.bedpe", "-m", world / "model", "-g",
              world / "g.fa", "-c", "NEW", "--registry", reg, "-o", tmp_path / "s.bedpe")
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(tmp_path / "s.bedpe", sep="\t")
    y, p = scored["label"].to_numpy().astype(int), scored["prob"].to_numpy()

    ck = Checkpoint.load(world / "model", device="cpu")
    ds = pairs_dataset(Genome(world / "g.fa"), world / "pairs.bedpe", ck.windows,
                       tmp_path / "d")
    arrays = {"enhancers": ds.enhancers, "promoters": ds.promoters,
              "enh_idx": ds.pairs["enh_idx"].to_numpy(),
              "prom_idx": ds.pairs["prom_idx"].to_numpy(),
              "log_distance": ds.log_distance(), "labels": ds.pairs["label"].to_numpy()}
    on_chr1 = (ds.pairs["chrom1"] == "chr1").to_numpy()
    plan = [ValCell("NEW", None, np.flatnonzero(on_chr1), np.flatnonzero(~on_chr1))]
    m = validate(ck.model, arrays, plan, ck.support_sizes, n_episodes=0)["cells"]["NEW"]
    assert m["n"] == len(y) == 40 and m["n_pos"] == int(y.sum())
    assert m["aupr"] == pytest.approx(aupr(y, p), abs=1e-9)
    assert m["auroc"] == pytest.approx(auroc(y, p), abs=1e-9)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    bce = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    assert m["bce"] == pytest.approx(bce, rel=1e-5)          # the probabilities themselves
    assert m["spread"] == pytest.approx(p.std(), rel=1e-4, abs=1e-7)
