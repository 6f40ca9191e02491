"""Command-line manners (issue 13): one spelling per option across commands, old spellings
kept for one release with a note, '-' for standard input/output in pipes, conflicting
options rejected before any work; and `prism score --cell C --support FILE` (issue 12).

The world is tiny: a random 2 x 30 kb genome and a random-weight PRISM with training
cells A and B (as in test_adapt_score.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prism_cli.cli import COMMANDS, main
from prism_cli.commands.common import InputPath, SettledOption

from .conftest import save_tiny_model, write_fasta

REPO = Path(__file__).resolve().parents[1]
HEADER = ("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell"
          "\tlabel\n")
# the settled spelling of every option that appears in more than one command
SHARED = {"--fasta": ("-g", "--fasta"), "--out": ("-o", "--out"),
          "--pairs": ("-p", "--pairs"), "--support": ("-s", "--support"),
          "--data": ("-d", "--data"), "--model": ("-m", "--model"),
          "--cell": ("-c", "--cell"), "--device": ("--device",), "--threads": ("--threads",),
          "--seed": ("--seed",), "--force": ("--force",), "--verbose": ("-v", "--verbose"),
          "--quiet": ("-q", "--quiet"), "--enhancers": ("--enhancers",),
          "--promoters": ("--promoters",), "--max-distance": ("--max-distance",),
          "--cells": ("--cells",), "--label-col": ("--label-col",),
          "--cell-col": ("--cell-col",)}


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def commands() -> dict[str, click.Command]:
    ctx = click.Context(main)
    return {name: main.get_command(ctx, name) for name in COMMANDS}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_world")
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
    (root / "support.bedpe").write_text(HEADER + "\n".join(rows[::2]) + "\n")
    bed = lambda starts, c: "".join(f"{c}\t{s}\t{s + 200}\tx{s}\t0\t+\n" for s in starts)
    (root / "enh.bed").write_text(bed(range(1000, 28_000, 2500), "chr1")
                                  + bed(range(500, 28_000, 4000), "chr2"))
    (root / "prom.bed").write_text(bed(range(2000, 28_000, 3000), "chr1")
                                   + bed(range(1500, 28_000, 5000), "chr2"))
    save_tiny_model(root / "model" / "best")
    return root


def score_args(w, *extra):
    return ["score", "-m", w / "model", "-g", w / "g.fa", "--registry", w / "reg", *extra]


def cand_args(w, *extra):
    return ["candidates", "--enhancers", w / "enh.bed", "--promoters", w / "prom.bed",
            "--max-distance", 5000, *extra]


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# --------------------------------------------------------------------------- spellings

def test_one_spelling_per_option_across_commands():
    seen: dict[str, set] = {}  # spelling -> {(opts, name, is_flag)}
    for name, cmd in commands().items():
        assert not [p for p in cmd.params if isinstance(p, click.Argument)
                    and p.get_usage_pieces(click.Context(cmd))], \
            f"{name}: inputs are options, not positional arguments"
        for p in cmd.params:
            if not isinstance(p, click.Option) or p.hidden:
                continue
            key = (tuple(sorted(p.opts)), p.name, p.is_flag)
            for spelling in p.opts:
                seen.setdefault(spelling, set()).add(key)
    twice = {s: keys for s, keys in seen.items() if len(keys) > 1}
    assert not twice, f"one spelling, several meanings: {twice}"
    for long, opts in SHARED.items():
        assert seen[long] == {(tuple(sorted(opts)), next(iter(seen[long]))[1],
                               next(iter(seen[long]))[2])}, long


def test_every_command_has_the_shared_options():
    by_name = {n: {o for p in c.params if isinstance(p, click.Option) and not p.hidden
                   for o in p.opts} for n, c in commands().items()}
    for name, opts in by_name.items():
        assert {"--force", "-v", "--verbose", "-q", "--quiet"} <= opts, name
        # adapt registers its cell in --registry (the model's cells/): no -o
        assert {"-o", "--out"} <= opts or name == "adapt", name
    for name in ("adapt", "score", "train", "motifs"):  # the commands that run a model
        assert {"--device", "--threads"} <= by_name[name], name
    for name in ("simulate", "adapt", "train", "evaluate", "motifs"):  # random draws
        assert "--seed" in by_name[name], name
    for name in ("candidates", "extract", "adapt", "score"):
        assert {"-g", "--fasta"} <= by_name[name], name
    # every BED/BEDPE input takes '-' (standard input); the FASTA never does
    cmds = commands()
    for name, long in (("candidates", "--enhancers"), ("candidates", "--promoters"),
                       ("extract", "--pairs"), ("extract", "--enhancers"),
                       ("score", "--pairs"), ("score", "--support"), ("adapt", "--support"),
                       ("evaluate", "--pairs")):
        (p,) = [p for p in cmds[name].params if long in getattr(p, "opts", ())]
        assert isinstance(p.type, InputPath) and p.type.stdin, (name, long)
    res = run("candidates", "--enhancers", "e.bed", "--promoters", "p.bed",
              "--max-distance", 10, "-g", "-", "-o", "x")
    assert res.exit_code == 2 and "cannot be read from standard input" in res.output


def test_hidden_aliases_point_at_a_settled_option_of_their_command():
    for name, cmd in commands().items():
        settled = [p for p in cmd.params if isinstance(p, SettledOption)]
        alias_ids = {id(a) for p in settled for a in p.aliases}
        hidden = [p for p in cmd.params if getattr(p, "old_spelling", None)]
        assert {id(p) for p in hidden} == alias_ids, name
        for p in hidden:
            assert getattr(p, "hidden", True) and not p.expose_value


def test_old_spellings_still_work_with_a_note(world, tmp_path):
    new = run(*cand_args(world, "-o", tmp_path / "new.bedpe"))
    assert new.exit_code == 0, new.output
    old = run("candidates", "-e", world / "enh.bed", "-p", world / "prom.bed", "-d", 5000,
              "-o", tmp_path / "old.bedpe")
    assert old.exit_code == 0, old.output
    assert (tmp_path / "old.bedpe").read_text() == (tmp_path / "new.bedpe").read_text()
    for spelling, settled in (("-e", "--enhancers"), ("-p", "--promoters"),
                              ("-d", "--max-distance")):
        assert f"note: {spelling} is deprecated" in old.stderr and f"use {settled}" in old.stderr
    assert "deprecated" not in new.stderr
    # score and evaluate: pairs were positional
    res = run(*score_args(world, world / "pairs.bedpe", "-c", "A", "-o", tmp_path / "o.bedpe"))
    assert res.exit_code == 0, res.output
    assert "note: the positional PAIRS is deprecated" in res.stderr and "use --pairs" in res.stderr
    res2 = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-o",
                           tmp_path / "n.bedpe"))
    assert res2.exit_code == 0 and "deprecated" not in res2.stderr
    assert (tmp_path / "o.bedpe").read_text() == (tmp_path / "n.bedpe").read_text()
    res = run("evaluate", tmp_path / "o.bedpe", "-o", tmp_path / "m.tsv")
    assert res.exit_code == 0 and "positional SCORED is deprecated" in res.stderr
    # simulate's counts
    res = run("simulate", "-o", tmp_path / "w", "--genome-size", 200_000, "--cells", 2,
              "--chroms", 2, "--pairs", 100, "-q")
    assert res.exit_code == 0, res.output
    for spelling in ("--cells", "--chroms", "--pairs"):
        assert f"note: {spelling} is deprecated" in res.stderr
    params = json.loads((tmp_path / "w" / "params.json").read_text())
    assert params["config"]["cells"] == 2 and params["config"]["chroms"] == 2


def test_old_and_new_spelling_together_is_a_usage_error(world, tmp_path):
    res = run(*cand_args(world, "-e", world / "enh.bed", "-o", tmp_path / "c.bedpe"))
    assert res.exit_code == 2 and "give it once" in res.output
    res = run(*score_args(world, world / "pairs.bedpe", "-p", world / "pairs.bedpe", "-c", "A",
                          "-o", tmp_path / "s.bedpe"))
    assert res.exit_code == 2 and "give it once" in res.output
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- - in and out

def test_candidates_to_score_in_a_pipe(world, tmp_path):
    """`prism candidates -o - | prism score -p - -o -` equals the run through files."""
    assert run(*cand_args(world, "-o", tmp_path / "cand.bedpe")).exit_code == 0
    res = run(*score_args(world, "-p", tmp_path / "cand.bedpe", "-c", "A", "-o",
                          tmp_path / "s.bedpe"))
    assert res.exit_code == 0, res.output
    cli = [sys.executable, "-m", "prism_cli.cli"]
    cand = subprocess.Popen(cli + [str(a) for a in cand_args(world, "-o", "-")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    # one thread, as the in-process run (float sums depend on the thread count)
    score = subprocess.run(cli + [str(a) for a in score_args(world, "-p", "-", "-c", "A",
                                                             "--threads", 1, "-o", "-")],
                           stdin=cand.stdout, capture_output=True, cwd=tmp_path)
    cand.stdout.close()
    assert cand.wait() == 0, cand.stderr.read()
    assert score.returncode == 0, score.stderr.decode()
    assert score.stdout.decode() == (tmp_path / "s.bedpe").read_text()
    assert "-> standard output" in " ".join(score.stderr.decode().split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cand.bedpe", "s.bedpe",
                                                          "s.bedpe.json"]  # no sidecar


def test_stdin_and_stdout_in_process(world, tmp_path):
    text = (world / "pairs.bedpe").read_text()
    res = run(*score_args(world, "-p", "-", "-c", "A", "-o", "-"), input=text)
    assert res.exit_code == 0, res.output
    ref = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-o",
                          tmp_path / "ref.bedpe"))
    assert ref.exit_code == 0
    assert res.stdout == (tmp_path / "ref.bedpe").read_text()
    side = json.loads((tmp_path / "ref.bedpe.json").read_text())
    assert side["pairs"] == str((world / "pairs.bedpe").resolve())
    # the scored BEDPE read back from standard input by evaluate (TSV to stdout)
    ev = run("evaluate", "-p", "-", "--threshold", 0.5, "-o", "-", input=res.stdout)
    assert ev.exit_code == 0, ev.output
    tsv = pd.read_csv(pd.io.common.StringIO(ev.stdout), sep="\t")
    assert list(tsv["cell"]) == ["A"] and int(tsv["n"].iloc[0]) == 120
    # the input from standard input is recorded as <stdin>
    res = run(*score_args(world, "-p", "-", "-c", "A", "-o", tmp_path / "in.bedpe"), input=text)
    assert res.exit_code == 0
    assert json.loads((tmp_path / "in.bedpe.json").read_text())["pairs"] == "<stdin>"
    # extract from standard input
    res = run("extract", "-g", world / "g.fa", "-p", "-", "-o", tmp_path / "ds",
              "--enhancer-length", 64, "--promoter-length", 64, input=text)
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["source"] == {"pairs": "<stdin>"} and manifest["n_pairs"] == 120


@pytest.mark.parametrize("argv", [
    ["score", "-p", "-", "-c", "A", "-o", "OUT"],
    ["extract", "-p", "-", "-o", "OUT"],
    ["candidates", "--enhancers", "-", "--promoters", "PROM", "--max-distance", "9", "-o", "OUT"],
    ["evaluate", "-p", "-", "-o", "OUT"],
])
def test_bad_stdin_is_cited_as_stdin_line(world, tmp_path, argv):
    bad = {"score": HEADER + "chr1\t10\t20\tchr1\t50\t60\tq\t.\t.\t+\tA\t1\n"
                             "chr1\t10\t5\tchr1\t50\t60\tq\t.\t.\t+\tA\t1\n",
           "extract": "chr1\t10\t20\tchr1\t50\t60\nchr1\t10\t5\tchr1\t50\t60\n",
           "candidates": "chr1\t10\t20\nchr1\t10\t5\n",
           "evaluate": "#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tprob\tlabel\n"
                       "chr1\t1\t2\tchr1\t5\t6\t0.5\t1\nchr1\t1\t2\tchr1\t5\n"}[argv[0]]
    names = {"OUT": tmp_path / "out", "PROM": world / "prom.bed"}
    extra = {"score": ["-m", world / "model", "-g", world / "g.fa"],
             "extract": ["-g", world / "g.fa"]}.get(argv[0], [])
    res = run(*[names.get(a, a) for a in argv], *extra, input=bad)
    assert res.exit_code == 1, res.output
    want = {"score": "<stdin>:3: start1 (10) > end1 (5)",
            "extract": "<stdin>:2: start1 (10) > end1 (5)",
            "candidates": "<stdin>:2: start (10) > end (5)",
            "evaluate": "<stdin>:3: 5 fields, the header names 8"}[argv[0]]
    assert lines(res.output) == [f"Error: {want}"]
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- conflicts

CONFLICTS = [
    (["score", "-p", "PAIRS", "-m", "MODEL", "-g", "FA", "--zero-shot", "-c", "A", "-o", "OUT"],
     "--zero-shot and --cell exclude each other"),
    (["score", "-p", "PAIRS", "-m", "MODEL", "-g", "FA", "--zero-shot", "-s", "PAIRS", "-o",
      "OUT"], "--zero-shot and --support exclude each other"),
    (["score", "-p", "PAIRS", "-m", "MODEL", "-g", "FA", "-s", "PAIRS", "-o", "OUT"],
     "--support needs --cell"),
    (["score", "-p", "-", "-m", "MODEL", "-g", "FA", "-c", "A", "-s", "-", "-o", "OUT"],
     "only one input can be read from standard input"),
    (["score", "-p", "PAIRS", "-m", "MODEL", "-g", "FA", "-c", "A", "--format", "interact",
      "-o", "-"], "--format interact"),
    (["score", "-p", "PAIRS", "-m", "MODEL", "-g", "FA", "-c", "A", "-v", "-q", "-o", "OUT"],
     "--verbose and --quiet exclude each other"),
    (["candidates", "--enhancers", "-", "--promoters", "-", "--max-distance", "9", "-o", "OUT"],
     "only one input can be read from standard input"),
    (["extract", "-g", "FA", "-p", "PAIRS", "--enhancers", "ENH", "-o", "OUT"],
     "--pairs and --enhancers exclude each other"),
    (["extract", "-g", "FA", "-p", "PAIRS", "--max-distance", "100", "-o", "OUT"],
     "--pairs and --max-distance exclude each other"),
    (["extract", "-g", "FA", "--enhancers", "ENH", "--max-distance", "100", "-o", "OUT"],
     "--enhancers needs --promoters"),
    (["extract", "-g", "FA", "-o", "OUT"], "give either --pairs"),
    (["extract", "-g", "FA", "-p", "PAIRS", "-o", "-"], "standard output ('-') is only"),
    (["train", "-d", "DIR", "--resume", "--force", "-o", "OUT"],
     "--resume and --force exclude each other"),
    (["evaluate", "-p", "PAIRS", "--threshold", "0.5", "--threshold-json", "PAIRS", "-o", "OUT"],
     "--threshold and --threshold-json exclude each other"),
    (["motifs", "-m", "MODEL", "--chroms", "chr1", "-o", "OUT"],
     "--model and --chroms exclude each other"),
    (["motifs", "-d", "DIR", "--n-pairs", "10", "-o", "OUT"], "--n-pairs needs --model"),
    (["simulate", "-v", "-q", "-o", "OUT"], "--verbose and --quiet exclude each other"),
    (["adapt", "-m", "MODEL", "-s", "PAIRS", "-g", "FA", "-c", "X", "-v", "-q"],
     "--verbose and --quiet exclude each other"),
]


@pytest.mark.parametrize("argv, message", CONFLICTS, ids=[" ".join(a[:1] + [m[:24]])
                                                           for a, m in CONFLICTS])
def test_conflicting_options_exit_2_and_write_nothing(world, tmp_path, argv, message):
    (tmp_path / "in").mkdir()
    names = {"PAIRS": world / "pairs.bedpe", "MODEL": world / "model", "FA": world / "g.fa",
             "ENH": world / "enh.bed", "OUT": tmp_path / "out", "DIR": tmp_path / "in"}
    res = run(*[names.get(a, a) for a in argv])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert not (world / "model" / "cells").exists()


# --------------------------------------------------------------------------- --support

def _sidecar(path: Path) -> dict:
    return json.loads(Path(str(path) + ".json").read_text())


def test_score_support_fuses_a_training_cell_and_is_deterministic(world, tmp_path):
    teacher = tmp_path / "t.bedpe"
    assert run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-o",
                           teacher)).exit_code == 0
    outs = []
    for i in range(2):
        out = tmp_path / f"f{i}.bedpe"
        res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-s",
                              world / "support.bedpe", "-o", out))
        assert res.exit_code == 0, res.output
        said = " ".join(res.stderr.split())  # rich wraps at 80 columns
        assert "environment of A: fused" in said and "60 labelled support pairs" in said
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()  # the same support, the same output
    side, t_side = _sidecar(outs[0]), _sidecar(teacher)
    env = side["environments"]["A"]
    assert env["kind"] == "fused" and t_side["environments"]["A"]["kind"] == "teacher"
    assert env["support"] == str((world / "support.bedpe").resolve())
    assert env["support_pairs"] == 60 and side["support"] == env["support"]
    assert not np.allclose(env["pi"], t_side["environments"]["A"]["pi"])
    fused, plain = pd.read_csv(outs[0], sep="\t"), pd.read_csv(teacher, sep="\t")
    assert (fused["cell"] == "A").all() and np.allclose(fused["U_I"], plain["U_I"])
    # a random-weight model's R hardly depends on pi: the probabilities move, a little
    assert (fused["prob"] != plain["prob"]).any()
    # an unknown name is allowed with --support: its environment is the support's alone
    res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "NEWX", "-s", "-",
                          "-o", tmp_path / "n.bedpe"),
              input=(world / "support.bedpe").read_text())
    assert res.exit_code == 0, res.output
    env = _sidecar(tmp_path / "n.bedpe")["environments"]["NEWX"]
    assert env["kind"] == "support" and env["support"] == "<stdin>"
    assert not (world / "reg" / "NEWX.json").exists()  # not registered
    # without --support the unknown name is still an error
    res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "NEWX", "-o",
                          tmp_path / "e.bedpe"))
    assert res.exit_code == 1 and "unknown cell 'NEWX'" in res.output


def test_score_support_with_one_class_is_a_one_line_error(world, tmp_path):
    one = tmp_path / "one.bedpe"
    one.write_text(HEADER + "".join(f"chr1\t{i}\t{i + 50}\tchr1\t{i + 900}\t{i + 950}\tq{i}"
                                    f"\t.\t.\t+\tA\t0\n" for i in range(0, 2000, 100)))
    out = tmp_path / "o.bedpe"
    res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-s", one, "-o", out))
    assert res.exit_code == 1, res.output
    assert lines(res.output) == [f"Error: {one}: the support set has only negatives (0 "
                                 "positive, 20 negative); --support needs labelled pairs of "
                                 "both classes"]
    assert not out.exists() and not Path(str(out) + ".json").exists()
    bad = tmp_path / "bad.bedpe"
    bad.write_text(HEADER + "chr1\t10\t5\tchr1\t50\t60\tq\t.\t.\t+\tA\t1\n")
    res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-s", bad, "-o", out))
    assert res.exit_code == 1 and f"{bad}:2: start1 (10) > end1 (5)" in res.output
    nolabel = tmp_path / "nolabel.bedpe"
    nolabel.write_text("chr1\t10\t20\tchr1\t50\t60\n")
    res = run(*score_args(world, "-p", world / "pairs.bedpe", "-c", "A", "-s", nolabel, "-o",
                          out))
    assert res.exit_code == 1 and "missing required column 'label'" in res.output
    assert not out.exists()
