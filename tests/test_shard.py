"""Sharding `prism score` by chromosome: the split (known answers), slices of the input,
and 2 torchrun CPU ranks giving the same file as one process."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from prism_cli import shard
from prism_cli.cli import main

from .conftest import save_tiny_model, write_fasta

REPO = Path(__file__).resolve().parents[1]
HEADER = ("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell"
          "\tlabel\tdistance\n")
SIZES = {"chr1": 40_000, "chr2": 30_000, "chr10": 20_000, "chrX": 10_000}
N_PAIRS = {"chr1": 120, "chr2": 90, "chr10": 60, "chrX": 30}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 4-chromosome genome, 300 pairs in shuffled chromosome order (some labelled,
    several pairs per element), and a random-weight model."""
    root = tmp_path_factory.mktemp("shard")
    rng = np.random.default_rng(0)
    write_fasta(root / "g.fa", {c: "".join(rng.choice(list("ACGT"), n))
                                for c, n in SIZES.items()})
    rows = []
    for chrom, n in N_PAIRS.items():
        enh = rng.integers(0, SIZES[chrom] - 400, size=n // 3)
        prom = rng.integers(0, SIZES[chrom] - 400, size=n // 4)
        for i in range(n):
            s1, s2 = int(enh[i % len(enh)]), int(prom[(i * 7) % len(prom)])
            label = "." if i % 4 == 0 else ("1" if i % 3 == 0 else "0")
            rows.append(f"{chrom}\t{s1}\t{s1 + 300}\t{chrom}\t{s2}\t{s2 + 200}\t{chrom}_{i}\t."
                        f"\t.\t+\tA\t{label}\t{abs(s2 - s1)}")
    order = rng.permutation(len(rows))
    (root / "pairs.bedpe").write_text(HEADER + "\n".join(rows[i] for i in order) + "\n")
    save_tiny_model(root / "model" / "best")
    return root


def score_args(w, out, *extra):
    return ["score", "-p", w / "pairs.bedpe", "-m", w / "model", "-g", w / "g.fa", "-c", "A",
            "-o", out, *extra]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# --------------------------------------------------------------------------- the split

def test_assign_balances_pairs_and_is_deterministic():
    counts = {"chr1": 100, "chr2": 80, "chr3": 30, "chr10": 25, "chrX": 20, "chrM": 1}
    two = shard.assign(counts, 2)
    assert two == [["chr1", "chr10", "chrM"], ["chr2", "chr3", "chrX"]]  # 126 vs 130
    assert sorted(sum(two, [])) == sorted(counts) and shard.assign(counts, 2) == two
    assert shard.assign(counts, 1) == [["chr1", "chr2", "chr3", "chr10", "chrX", "chrM"]]
    assert shard.assign({"chr1": 5}, 3) == [["chr1"], [], []]  # more ranks than chromosomes


def test_slices_hold_whole_chromosomes_up_to_a_budget():
    counts = {"chr1": 100, "chr2": 80, "chr3": 30, "chr10": 25}
    chroms = ["chr1", "chr2", "chr3", "chr10"]
    assert shard.slices(chroms, counts, 1000) == [chroms]
    assert shard.slices(chroms, counts, 110) == [["chr1"], ["chr2", "chr3"], ["chr10"]]
    assert shard.slices(chroms, counts, 1) == [[c] for c in chroms]  # a big one alone
    assert shard.slices([], counts, 10) == []


@pytest.mark.parametrize("compress", [False, True])
def test_write_slices_keeps_header_lines_and_bytes(tmp_path, compress):
    text = ("#a comment\n#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\n"
            "chr2\t1\t2\tchr2\t3\t4\n\nchr1\t5\t6\tchr1\t7\t8\n# late comment\n"
            "chr2\t9\t10\tchr2\t11\t12\r\nchr3\t1\t2\tchr3\t3\t4")
    src = tmp_path / "p.bedpe"
    if compress:
        src.write_bytes(gzip.compress(text.encode()))
    else:
        src.write_text(text, newline="")
    paths = shard.write_slices(src, [["chr1", "chr3"], ["chr2"]], tmp_path)
    head = "#a comment\n#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\n"
    assert paths[0].read_bytes() == (head + "chr1\t5\t6\tchr1\t7\t8\n"
                                     "chr3\t1\t2\tchr3\t3\t4\n").encode()
    assert paths[1].read_bytes() == (head + "chr2\t1\t2\tchr2\t3\t4\n"
                                     "chr2\t9\t10\tchr2\t11\t12\r\n").encode()


def test_rank_world_reads_the_torchrun_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert shard.rank_world() == (0, 1)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert shard.rank_world() == (1, 2)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK 2"):
        shard.rank_world()


# --------------------------------------------------------------------------- one process

def test_slices_of_one_process_give_the_same_file(world, tmp_path, monkeypatch):
    one, sliced = tmp_path / "one.bedpe", tmp_path / "sliced.bedpe"
    res = run(*score_args(world, one, "--chunk-pairs", 50))
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(shard, "SLICE_PAIRS", 100)  # -> 3 slices: chr1 | chr2 | chr10+chrX
    res = run(*score_args(world, sliced, "--chunk-pairs", 50))
    assert res.exit_code == 0, res.output
    assert one.read_bytes() == sliced.read_bytes()
    lines = one.read_text().splitlines()
    assert len(lines) == 1 + sum(N_PAIRS.values())
    chroms = [ln.split("\t", 1)[0] for ln in lines[1:]]
    assert chroms == sorted(chroms, key=list(SIZES).index)  # natural order
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_stdin_is_refused_under_torchrun(world, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    args = ["score", "-p", "-", "-m", world / "model", "-g", world / "g.fa", "-c", "A",
            "-o", tmp_path / "o.bedpe"]
    res = CliRunner().invoke(main, [str(a) for a in args], input="")
    assert res.exit_code == 2 and "give files, not '-'" in res.output


# --------------------------------------------------------------------------- torchrun

def test_two_torchrun_ranks_give_the_single_process_file(world, tmp_path):
    (tmp_path / "single").mkdir()
    (tmp_path / "ranks").mkdir()
    single, ranked = tmp_path / "single" / "s.bedpe", tmp_path / "ranks" / "s.bedpe"
    res = run(*score_args(world, single, "--format", "interact", "--chunk-pairs", 40))
    assert res.exit_code == 0, res.output
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", "2", "-m", "prism_cli.cli",
           *map(str, score_args(world, ranked, "--format", "interact", "--chunk-pairs", 40,
                                "--device", "cpu"))]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 ranks" in proc.stderr and proc.stderr.count("scored 300 pairs") == 1
    assert single.read_bytes() == ranked.read_bytes()
    assert (Path(str(single) + ".interact").read_bytes()
            == Path(str(ranked) + ".interact").read_bytes())
    meta = json.loads(Path(str(ranked) + ".json").read_text())
    assert meta["rows"] == 300 and meta["ranks"] == 2
    # every rank scored its own chromosomes; their runs are gone
    assert sorted(p.name for p in ranked.parent.iterdir()) == [
        "s.bedpe", "s.bedpe.interact", "s.bedpe.json"]
