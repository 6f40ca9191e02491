"""Issue 13: no silent wrong results.

Split typos, what --force may replace, unknown cells, stale FASTA indexes, concurrent and
killed writes, damaged inputs, BGZF outputs, and commands that fail fast on bad input.
Each test fails on the code before the fix (see docs/reliability.md).
"""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from click.testing import CliRunner

from bench.cases.reliability import SLOW as SLOW_SCORE  # the one copy of the snippet
from prism_cli.checkpoint import save_checkpoint
from prism_cli.cli import main
from prism_cli.errors import PrismInputError
from prism_cli.io.atomic import OutputGroup, atomic_dir, check_writable, output_lock
from prism_cli.io.fasta import Genome
from prism_cli.model import ModelConfig, build_model
from prism_cli.train import splits

from .conftest import write_fasta
from .prism_train_data import simulated_dataset, write_config

HEADER = ("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell"
          "\tlabel\n")
REPO = Path(__file__).resolve().parents[1]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(res, code=1):
    """An error is one line, a non-zero exit and no traceback."""
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and res.exception.__class__ is SystemExit
    assert len(res.output.strip().splitlines()) == 1, res.output
    return res.output


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 2-chromosome genome, 120 pairs of cell NEW, and a random-weight model (cells A, B)."""
    root = tmp_path_factory.mktemp("rel")
    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), 30_000)) for c in ("chr1", "chr2")}
    write_fasta(root / "g.fa", seqs)
    rows = []
    for i in range(120):
        c = "chr1" if i < 80 else "chr2"
        s1, s2 = int(rng.integers(0, 29_000)), int(rng.integers(0, 29_000))
        rows.append(f"{c}\t{s1}\t{s1 + 300}\t{c}\t{s2}\t{s2 + 300}\tq{i}\t.\t.\t+\tNEW\t"
                    f"{i % 3 == 0:d}")
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


def score(w, pairs, out, *extra, fasta=None):
    return run("score", "-p", pairs, "-m", w / "model", "-g", fasta or w / "g.fa", "--registry",
               w / "reg", "-o", out, *extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return simulated_dataset(tmp_path_factory, pairs=1500)


# --------------------------------------------------------------------------- 1. splits

def test_split_chromosomes_must_exist_in_the_data():
    chroms = ["chr1", "chr2", "chr3", "chr4"]
    with pytest.raises(PrismInputError, match=r"--test-chroms: chromosome\(s\) chr9 not in the "
                                         r"dataset \(it has chr1,chr2,chr3,chr4\)"):
        splits.check_splits(chroms, ["chr3"], ["chr9"])
    with pytest.raises(PrismInputError, match="--val-chroms: chromosome"):
        splits.check_splits(chroms, ["chrX", "chr3"], ["chr4"])
    splits.check_splits(chroms, ["chr3"], ["chr4"])  # all present: fine


def test_validation_needs_labelled_pairs_of_both_classes():
    split = np.array(["train", "val", "val", "test"], dtype=object)
    cells = np.array(["A", "A", "A", "A"], dtype=object)
    with pytest.raises(PrismInputError, match="validation needs both classes"):
        splits.check_validation_pairs(split, np.array([1, 0, 0, 1]), cells, ["A"], ["chr3"])
    splits.check_validation_pairs(split, np.array([1, 0, 1, 1]), cells, ["A"], ["chr3"])


@pytest.mark.parametrize("option, value, message", [
    ("--test-chroms", "chr9", "--test-chroms: chromosome(s) chr9 not in the dataset (it has "
                              "chr1,chr2,chr3,chr4)"),
    ("--val-chroms", "chrX", "--val-chroms: chromosome(s) chrX not in the dataset"),
    ("--cells", "", "names nothing"),
    ("--cells", ",", "names nothing"),
    ("--val-cells", " , ", "names nothing"),
    ("--cells", "CELL0,CELL0", "CELL0 listed twice"),
])
def test_train_split_typos_are_errors(data, tmp_path, option, value, message):
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 1, "epochs": 1})
    res = run("train", "-d", data, "--config", cfg, "-o", tmp_path / "run", option, value,
              *(["--val-chroms", "chr3"] if option == "--test-chroms" else []))
    assert res.exit_code != 0 and message in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- 2. --force

def _user_folder(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("precious")
    return path


@pytest.mark.parametrize("command", ["simulate", "extract", "train"])
def test_force_never_replaces_a_folder_prism_did_not_write(data, tmp_path, command):
    out = _user_folder(tmp_path / "mine")
    sim = data.parent / "sim"
    args = {"simulate": ["simulate", "--genome-size", "200000", "--n-pairs", "200"],
            "extract": ["extract", "-g", sim / "genome.fa", "-p", sim / "pairs.bedpe"],
            "train": ["train", "-d", data]}[command]
    res = run(*args, "-o", out, "--force")
    msg = one_line_error(res)
    assert "--force will not replace this" in msg and "not a folder PRISM wrote" in msg
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_force_never_replaces_the_working_or_home_directory(tmp_path, monkeypatch):
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "manifest.json").write_text(json.dumps({"format": "prism-dataset"}))
    monkeypatch.chdir(ds)  # even a PRISM dataset, when it is where the user stands
    for out in (".", str(ds), str(tmp_path)):
        with pytest.raises(PrismInputError, match="working directory"):
            check_writable(out, True, directory=True)
    monkeypatch.setenv("HOME", str(ds))
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(PrismInputError, match="home or root directory"):
        check_writable(ds, True, directory=True)
    res = run("simulate", "-o", ".", "--force")
    assert res.exit_code == 1 and "--force will not replace" in res.output


def test_force_replaces_prism_outputs_but_never_an_input(tmp_path):
    sim = tmp_path / "sim"
    assert run("simulate", "-o", sim, "--genome-size", "200000", "--n-pairs", "200").exit_code == 0
    assert run("simulate", "-o", sim, "--genome-size", "200000", "--n-pairs", "300",
               "--force").exit_code == 0  # a world PRISM wrote is replaced
    args = ["extract", "-g", sim / "genome.fa", "-p", sim / "pairs.bedpe",
            "--enhancer-length", 50, "--promoter-length", 50]
    msg = one_line_error(run(*args, "-o", sim, "--force"))
    assert "holds the input" in msg and (sim / "genome.fa").exists()
    assert run(*args, "-o", tmp_path / "ds").exit_code == 0
    assert run(*args, "-o", tmp_path / "ds", "--force").exit_code == 0
    # file outputs: never an input, never a folder
    cand = ["candidates", "--enhancers", sim / "enhancers.bed", "--promoters",
            sim / "promoters.bed", "--max-distance", 1000]
    before = (sim / "enhancers.bed").read_text()
    msg = one_line_error(run(*cand, "-o", sim / "enhancers.bed", "--force"))
    assert "output would replace the input" in msg
    assert (sim / "enhancers.bed").read_text() == before
    res = run(*cand, "-o", tmp_path / "ds", "--force")
    assert res.exit_code == 2 and "is a directory" in res.output
    assert (tmp_path / "ds" / "manifest.json").exists()
    with pytest.raises(PrismInputError, match="output is a folder"):
        check_writable(tmp_path / "ds", True)


def test_train_force_refuses_a_user_folder_before_loading_anything(tmp_path):
    out = _user_folder(tmp_path / "runs")
    res = run("train", "-d", tmp_path, "-o", out, "--force")  # tmp_path is no dataset
    assert res.exit_code == 1 and "--force will not replace" in res.output
    assert (out / "notes.txt").read_text() == "precious"


# --------------------------------------------------------------------------- 3. cells

def test_score_unknown_cell_is_an_error_naming_the_known_cells(world, tmp_path):
    out = tmp_path / "o.bedpe"
    msg = one_line_error(score(world, world / "pairs.bedpe", out, "-c", "CELL55"))
    assert "unknown cell 'CELL55'" in msg and "training cells A, B" in msg
    assert "adapted cells" in msg and "--zero-shot" in msg
    # the input's own cell column: NEW is not registered -> error at its first line
    msg = one_line_error(score(world, world / "pairs.bedpe", out))
    assert "pairs.bedpe:2: unknown cell 'NEW'" in msg
    dot = tmp_path / "dot.bedpe"
    dot.write_text(HEADER + "chr1\t10\t60\tchr1\t500\t560\tq\t.\t.\t+\tA\t1\n"
                   "chr1\t10\t60\tchr1\t900\t960\tq\t.\t.\t+\t.\t0\n")
    msg = one_line_error(score(world, dot, out))
    assert "dot.bedpe:3: no cell for this pair" in msg
    nocell = tmp_path / "nocell.bedpe"
    nocell.write_text("chr1\t10\t60\tchr1\t500\t560\n")
    msg = one_line_error(score(world, nocell, out))
    assert "no 'cell' column and no --cell" in msg and "--zero-shot" in msg
    assert temporaries(tmp_path) == [] and not out.exists()


def test_score_zero_shot_only_when_asked_and_labelled_so(world, tmp_path):
    out = tmp_path / "z.bedpe"
    res = score(world, world / "pairs.bedpe", out, "--zero-shot")
    assert res.exit_code == 0, res.output
    z = pd.read_csv(out, sep="\t")
    assert (z["cell"] == "zero-shot").all() and (z["input_cell"] == "NEW").all()
    side = json.loads(Path(str(out) + ".json").read_text())
    assert list(side["environments"]) == ["zero-shot"]
    # a conflict is refused before any work (even before the bad input is read)
    bad = tmp_path / "bad.bedpe"
    bad.write_text("chr1\t10\t5\tchr1\t50\t60\n")
    res = score(world, bad, tmp_path / "c.bedpe", "--zero-shot", "-c", "A")
    assert res.exit_code == 2 and "--zero-shot and --cell exclude each other" in res.output
    # a training cell and the input's known cells work
    ok = tmp_path / "ok.bedpe"
    ok.write_text(HEADER + "chr1\t10\t60\tchr1\t500\t560\tq\t.\t.\t+\tA\t1\n"
                  "chr1\t10\t60\tchr1\t900\t960\tq\t.\t.\t+\tB\t0\n")
    assert score(world, ok, tmp_path / "ab.bedpe").exit_code == 0
    assert list(pd.read_csv(tmp_path / "ab.bedpe", sep="\t")["cell"]) == ["A", "B"]


def test_score_refuses_an_adapted_cell_of_another_model(world, tmp_path):
    reg = world / "reg"
    reg.mkdir(exist_ok=True)
    rec = {"format": "prism-adapted-cell", "pi": [0.25] * 4, "threshold": 0.5,
           "model_checksum": "0" * 64}
    from prism_cli.registry import RECORD_FORMAT
    rec["format"] = RECORD_FORMAT
    (reg / "OTHER.json").write_text(json.dumps(rec))
    try:
        msg = one_line_error(score(world, world / "pairs.bedpe", tmp_path / "o.bedpe", "-c",
                                   "OTHER"))
        assert "registered with another model" in msg
        rec.update(pi=[float("nan")] * 4, model_checksum=None)
        (reg / "OTHER.json").write_text(json.dumps(rec))
        msg = one_line_error(score(world, world / "pairs.bedpe", tmp_path / "o.bedpe", "-c",
                                   "OTHER"))
        assert "no finite environment" in msg
    finally:
        (reg / "OTHER.json").unlink()


# --------------------------------------------------------------------------- 4. FASTA index

def _rewrap(path: Path, width: int) -> None:
    """Rewrite a FASTA with another line width, keeping its (now stale) .fai newer."""
    seqs, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
            seqs[name] = []
        else:
            seqs[name].append(line)
    with open(path, "w") as fh:
        for name, parts in seqs.items():
            seq = "".join(parts)
            fh.write(f">{name}\n" + "".join(seq[i:i + width] + "\n"
                                              for i in range(0, len(seq), width)))
    fai = Path(str(path) + ".fai")
    now = time.time() + 5
    os.utime(fai, (now, now))  # newer than the FASTA: only the consistency check finds it


def test_stale_fai_of_a_rewrapped_fasta_is_rebuilt(tmp_path, capsys):
    rng = np.random.default_rng(3)
    seqs = {"chr1": "".join(rng.choice(list("ACGT"), 1000)),
            "chr2": "".join(rng.choice(list("ACGT"), 700))}
    fa = write_fasta(tmp_path / "g.fa", seqs)
    assert Genome(fa).fetch("chr2", 100, 200) == seqs["chr2"][100:200]
    _rewrap(fa, 80)
    g = Genome(fa)
    assert "rebuilt the index" in capsys.readouterr().err
    assert g.fetch("chr2", 100, 200) == seqs["chr2"][100:200]
    assert g.lengths == {"chr1": 1000, "chr2": 700}


@pytest.mark.parametrize("damage", ["older", "rewrap", "truncated", "other_genome"])
def test_stale_fai_is_refused_with_the_fix_when_not_writable(tmp_path, monkeypatch, damage):
    rng = np.random.default_rng(4)
    seqs = {"chr1": "".join(rng.choice(list("ACGT"), 500))}
    fa = write_fasta(tmp_path / "g.fa", seqs)
    fai = Path(str(fa) + ".fai")
    if damage == "older":
        os.utime(fai, (1, 1))
    elif damage == "rewrap":
        _rewrap(fa, 50)
    elif damage == "truncated":
        fa.write_text(fa.read_text()[:300])
        os.utime(fai, (time.time() + 5,) * 2)
    else:
        fai.write_text("chrZ\t500\t6\t60\t61\n")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # a read-only folder
    with pytest.raises(PrismInputError, match=r"samtools faidx .*g\.fa"):
        Genome(fa)


def test_stale_bgzip_indexes_are_detected(tmp_path, capsys):
    rng = np.random.default_rng(5)
    seqs = {f"chr{i}": "".join(rng.choice(list("ACGT"), 5000)) for i in (1, 2)}
    plain = write_fasta(tmp_path / "p.fa", seqs)
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain), str(gz))
    pysam.faidx(str(gz))
    assert Genome(gz).fetch("chr2", 10, 20) == seqs["chr2"][10:20]
    old_fai, old_gzi = (Path(str(gz) + s).read_bytes() for s in (".fai", ".gzi"))
    _rewrap(plain, 70)
    os.unlink(gz)
    pysam.tabix_compress(str(plain), str(gz))
    for suffix, data in ((".fai", old_fai), (".gzi", old_gzi)):
        Path(str(gz) + suffix).write_bytes(data)
        os.utime(str(gz) + suffix, (time.time() + 5,) * 2)
    g = Genome(gz)
    assert "rebuilt the index" in capsys.readouterr().err
    assert g.fetch("chr2", 4000, 4100) == seqs["chr2"][4000:4100]


def test_rewrapped_fasta_gives_the_same_predictions(world, tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_bytes((world / "g.fa").read_bytes())
    pysam.faidx(str(fa))
    a, b = tmp_path / "a.bedpe", tmp_path / "b.bedpe"
    assert score(world, world / "pairs.bedpe", a, "-c", "A", fasta=fa).exit_code == 0
    _rewrap(fa, 100)
    res = score(world, world / "pairs.bedpe", b, "-c", "A", fasta=fa)
    assert res.exit_code == 0 and "rebuilt the index" in res.output
    pa, pb = (pd.read_csv(p, sep="\t")["prob"].to_numpy() for p in (a, b))
    assert np.array_equal(pa, pb)


# --------------------------------------------------------------------------- 5. writes



def _slow_score(world, out: Path):
    args = [sys.executable, "-c", SLOW_SCORE, "score", "-p", str(world / "pairs.bedpe"), "-m",
            str(world / "model"), "-g", str(world / "g.fa"), "-c", "A", "--chunk-pairs",
            "1", "-o", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    deadline = time.time() + 120
    while not any(n.startswith(f".{out.name}.runs.") for n in temporaries(out.parent)):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # some run files written
    return proc


def test_sigterm_removes_the_temporaries(world, tmp_path):
    out = tmp_path / "out.bedpe"
    proc = _slow_score(world, out)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_sigkill_leftovers_are_removed_by_the_next_run(world, tmp_path):
    out = tmp_path / "out.bedpe"
    proc = _slow_score(world, out)
    proc.kill()
    proc.communicate(timeout=60)
    left = temporaries(tmp_path)
    assert any(n.startswith(".out.bedpe.runs.") for n in left)
    res = score(world, world / "pairs.bedpe", out, "-c", "A")
    assert res.exit_code == 0 and "left by an interrupted run" in res.output
    assert temporaries(tmp_path) == [] and out.exists()


def test_a_second_writer_of_the_same_output_is_refused_and_writes_nothing(world, tmp_path):
    out = tmp_path / "out.bedpe"
    proc = _slow_score(world, out)
    try:
        res = score(world, world / "pairs.bedpe", out, "-c", "B", "--force")
        assert res.exit_code == 1 and "another prism process is writing" in res.output
        assert not out.exists() and not Path(str(out) + ".json").exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_bedpe_and_sidecar_are_committed_together(tmp_path):
    a, b = tmp_path / "x.bedpe", tmp_path / "x.bedpe.json"
    with pytest.raises(RuntimeError):
        with OutputGroup([a, b]) as group:
            group.open(a).write("rows\n")
            group.open(b).write("{}\n")
            raise RuntimeError("killed before the commit")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PrismInputError, match="appeared while this command ran"):
        with OutputGroup([a, b]) as group:
            group.open(a).write("rows\n")
            group.open(b).write("{}\n")
            b.write_text("another process")  # what a racing writer would leave
            group.commit()
    assert not a.exists() and b.read_text() == "another process"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bedpe.json"]


def test_output_lock_refuses_a_second_holder_and_cleans_stale_temporaries(tmp_path):
    out = tmp_path / "d"
    (tmp_path / ".d.abcd1234.tmp").mkdir()  # a killed run's folder
    (tmp_path / ".d.json.abcd1234.tmp").write_text("another output's")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom prism_cli.io.atomic import output_lock\n"
        f"with output_lock({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(30)")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not (tmp_path / ".d.abcd1234.tmp").exists()
        assert (tmp_path / ".d.json.abcd1234.tmp").exists()  # not this output's
        with pytest.raises(PrismInputError, match="another prism process"):
            with atomic_dir(out):
                pass
    finally:
        holder.kill()
        holder.communicate()
    with output_lock(out):  # the kernel released the dead holder's lock
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.json.abcd1234.tmp"]


# --------------------------------------------------------------------------- 6. smaller

def test_damaged_dataset_is_a_one_line_error(data, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    for f in data.iterdir():
        (ds / f.name).write_bytes(f.read_bytes())
    (ds / "manifest.json").write_text('{"format": "prism-dataset", ')
    msg = one_line_error(run("train", "-d", ds, "-o", tmp_path / "run"))
    assert "manifest.json:1: manifest is not valid JSON" in msg
    (ds / "manifest.json").write_bytes((data / "manifest.json").read_bytes())
    (ds / "pairs.tsv").unlink()
    msg = one_line_error(run("train", "-d", ds, "-o", tmp_path / "run"))
    assert "damaged dataset" in msg


def test_non_finite_weights_are_refused(world, tmp_path):
    from prism_cli.checkpoint import load_checkpoint

    model, meta = load_checkpoint(world / "model")
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    (tmp_path / "m").mkdir()
    save_checkpoint(tmp_path / "m" / "best", model, meta)
    res = run("score", "-p", world / "pairs.bedpe", "-m", tmp_path / "m", "-g", world / "g.fa",
              "-c", "A", "-o", tmp_path / "o.bedpe")
    msg = one_line_error(res)
    assert "best.safetensors: checkpoint holds non-finite weights (NaN/Inf)" in msg
    assert not (tmp_path / "o.bedpe").exists()


def _is_bgzf(path: Path) -> bool:
    head = path.read_bytes()[:18]
    return head[:2] == b"\x1f\x8b" and head[3] & 4 and head[12:14] == b"BC"


def test_gz_outputs_are_bgzf_that_zcat_and_tabix_read(world, tmp_path):
    plain, gz = tmp_path / "s.bedpe", tmp_path / "s.bedpe.gz"
    assert score(world, world / "pairs.bedpe", plain, "-c", "A").exit_code == 0
    assert score(world, world / "pairs.bedpe", gz, "-c", "A").exit_code == 0
    assert _is_bgzf(gz) and gzip.decompress(gz.read_bytes()).decode() == plain.read_text()
    pysam.tabix_index(str(gz), seq_col=0, start_col=1, end_col=2, meta_char="#", force=True,
                      keep_original=True)
    assert len(list(pysam.TabixFile(str(gz)).fetch("chr2"))) == 40
    res = run("evaluate", "-p", gz)  # read back, sidecar thresholds included
    assert res.exit_code == 0, res.output
    cand = tmp_path / "c.bedpe.gz"
    enh = tmp_path / "e.bed"
    enh.write_text("chr1\t100\t200\nchr1\t5000\t5100\n")
    assert run("candidates", "--enhancers", enh, "--promoters", enh, "--max-distance", 10_000,
               "-o", cand).exit_code == 0
    assert _is_bgzf(cand) and gzip.decompress(cand.read_bytes()).startswith(b"#chrom1")


@pytest.mark.parametrize("line, message", [
    ("chr1\t10\t60\tchr1\t200\t260\tq\t0\t+\n", "x.bedpe:1: 9 columns: BEDPE has strand1 and "
                                                "strand2 together"),
    ("chr1\t10\t60\tchr1\t200\t260\tq\t0\t+\tx\n", "x.bedpe:1: strand2 must be +, - or '.'"),
])
def test_malformed_bedpe_strands_are_rejected(tmp_path, tiny_fasta, line, message):
    (tmp_path / "x.bedpe").write_text(line)
    res = run("extract", "-g", tiny_fasta, "-p", tmp_path / "x.bedpe", "-o", tmp_path / "ds")
    assert message in one_line_error(res) and not (tmp_path / "ds").exists()


def test_evaluate_one_class_group_shows_no_threshold(tmp_path):
    from prism_cli.io.scored import write_scored_bedpe

    df = pd.DataFrame({"chrom1": "chr1", "start1": np.arange(6) * 10, "end1": np.arange(6) * 10
                       + 5, "chrom2": "chr1", "start2": 100, "end2": 105,
                       "prob": [0.164, 0.3, 0.5, 0.2, 0.7, 0.6],
                       "cell": ["ONE"] * 3 + ["TWO"] * 3, "label": [1, 1, 1, 0, 1, 0]})
    path = tmp_path / "s.bedpe"
    write_scored_bedpe(df, path)
    res = run("evaluate", "-p", path, "-o", tmp_path / "m.tsv")
    assert res.exit_code == 0 and "only one class" in res.output
    table = pd.read_csv(tmp_path / "m.tsv", sep="\t").set_index("cell")
    assert np.isnan(table.loc["ONE", "best_f1_threshold"])
    assert np.isnan(table.loc["ONE", "best_f1"])
    assert "0.164" not in res.output


# --------------------------------------------------------------------------- 7. start-up

LAZY = """
import sys
from prism_cli.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except Exception as err:
    print("error:", err)
print("heavy:", sorted(m for m in ("torch", "sklearn", "matplotlib") if m in sys.modules))
"""


@pytest.mark.parametrize("args", [
    ["candidates", "--enhancers", "BAD", "--promoters", "BAD", "--max-distance", "1000",
     "-o", "OUT"],
    ["candidates", "--enhancers", "/nonexistent", "--promoters", "BAD", "--max-distance",
     "1000", "-o", "OUT"],
    ["extract", "-g", "FA", "-p", "BADPE", "-o", "OUT"],
    ["evaluate", "-p", "SCORED"],
    ["score", "-p", "BADPE", "-m", "MODEL", "-g", "FA", "-o", "OUT"],
    ["score", "-p", "UNKNOWN_CELL", "-m", "MODEL", "-g", "FA", "-o", "OUT"],
])
def test_bad_input_errors_import_no_torch_sklearn_or_matplotlib(world, tmp_path, args):
    (tmp_path / "bad.bed").write_text("chr1\t10\t5\n")
    (tmp_path / "bad.bedpe").write_text("chr1\t10\t5\tchr1\t50\t60\n")
    (tmp_path / "s.bedpe").write_text("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tprob\n"
                                      "chr1\t1\t2\tchr1\t5\t6\t0.5\n")
    names = {"BAD": tmp_path / "bad.bed", "BADPE": tmp_path / "bad.bedpe",
             "FA": world / "g.fa", "MODEL": world / "model", "SCORED": tmp_path / "s.bedpe",
             "OUT": tmp_path / "out", "UNKNOWN_CELL": world / "pairs.bedpe"}
    argv = [str(names.get(a, a)) for a in args]
    res = subprocess.run([sys.executable, "-c", LAZY, *argv], capture_output=True, text=True,
                         cwd=REPO)
    assert "error:" in res.stdout, res.stdout + res.stderr
    assert "heavy: []" in res.stdout, res.stdout
