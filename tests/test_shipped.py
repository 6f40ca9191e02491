"""Shipped models found by name (prism_cli/shipped.py): resolution, the user's registry
for cells adapted to them, and the model shipped in models/ itself."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prism_cli.cli import main
from prism_cli.shipped import SOURCE_MODELS, resolve_model, shipped_models

from .conftest import save_tiny_model, write_fasta

HEADER = "#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell\tlabel\n"
SHIPPED = "prism-targetfinder5-hg19"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def shelf(tmp_path, monkeypatch):
    """A folder of shipped models holding one tiny random model 'tiny-v1', on
    $PRISM_MODELS, and a private $PRISM_HOME."""
    shelf = tmp_path / "shelf"
    save_tiny_model(shelf / "tiny-v1" / "model")
    monkeypatch.setenv("PRISM_MODELS", str(shelf))
    monkeypatch.setenv("PRISM_HOME", str(tmp_path / "home"))
    return shelf


def _world(root):
    rng = np.random.default_rng(0)
    seqs = {"chr1": "".join(rng.choice(list("ACGT"), 20_000))}
    write_fasta(root / "g.fa", seqs)
    rows = []
    for i in range(60):
        s1, s2 = (int(v) for v in rng.integers(0, 19_000, 2))
        rows.append(f"chr1\t{s1}\t{s1 + 200}\tchr1\t{s2}\t{s2 + 200}\tq{i}\t.\t.\t+\tNEW\t{i % 3 == 0:d}")
    (root / "pairs.bedpe").write_text(HEADER + "\n".join(rows) + "\n")


def test_name_resolves_and_path_wins(shelf, tmp_path, monkeypatch):
    assert resolve_model("tiny-v1") == shelf / "tiny-v1"
    assert "tiny-v1" in shipped_models()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-v1").mkdir()          # a local folder of the same name wins
    assert resolve_model("tiny-v1").resolve() == (tmp_path / "tiny-v1").resolve()


def test_unknown_name_is_a_usage_error(shelf):
    res = run("score", "-m", "no-such-model", "-p", "x.bedpe", "-o", "y.bedpe")
    assert res.exit_code == 2
    assert "no-such-model" in res.output and "tiny-v1" in res.output


def test_adapt_to_shipped_model_registers_outside_it(shelf, tmp_path):
    _world(tmp_path)
    res = run("adapt", "-m", "tiny-v1", "-s", tmp_path / "pairs.bedpe", "-g",
              tmp_path / "g.fa", "-c", "NEW", "--episodes", 4)
    assert res.exit_code == 0, res.output
    record = tmp_path / "home" / "cells" / "tiny-v1" / "NEW.json"
    assert json.loads(record.read_text())["format"] == "prism-adapted-cell"
    assert not (shelf / "tiny-v1" / "cells").exists()
    out = tmp_path / "scored.bedpe"
    res = run("score", "-m", "tiny-v1", "-p", tmp_path / "pairs.bedpe", "-g",
              tmp_path / "g.fa", "-c", "NEW", "-o", out)
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out, sep="\t", comment="#", header=None)
    assert len(scored) == 60


@pytest.mark.skipif(not (SOURCE_MODELS / SHIPPED / "model.json").exists(),
                    reason="shipped model not present")
def test_shipped_model_loads_and_scores(tmp_path):
    """The model in models/ loads by name, is small, and scores pairs of a training cell
    and zero-shot (on random sequence: this checks loading and plumbing, not accuracy,
    which the model card reports)."""
    from prism_cli.checkpoint import load_checkpoint

    folder = resolve_model(SHIPPED)
    assert (folder / "MODEL_CARD.md").exists()
    assert sum(f.stat().st_size for f in folder.iterdir()) < 50e6
    model, meta = load_checkpoint(folder)
    assert meta["windows"]["enhancer_length"] == 200
    assert [c["name"] for c in meta["cells"]] == ["GM12878", "HUVEC", "HeLa-S3", "IMR90",
                                                  "K562"]
    _world(tmp_path)
    for cell in ("--zero-shot", "K562"):
        out = tmp_path / f"scored{cell}.bedpe"
        args = ["--zero-shot"] if cell == "--zero-shot" else ["-c", cell]
        res = run("score", "-m", SHIPPED, "-p", tmp_path / "pairs.bedpe", "-g",
                  tmp_path / "g.fa", *args, "-o", out)
        assert res.exit_code == 0, res.output
        scored = pd.read_csv(out, sep="\t")
        assert len(scored) == 60
        assert scored["prob"].between(0, 1).all() and scored["prob"].std() > 0
