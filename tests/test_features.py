"""The element-feature stage: --element-features parsing, the feature table format,
element inputs, the feature tower, caching, and models trained with a feature source."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from prism_cli.cli import main
from prism_cli.dataset import PairDataset
from prism_cli.errors import PrismInputError
from prism_cli.features import ElementInputs, FeatureSpec, FeatureStage
from prism_cli.features.table import lookup, read_feature_table
from prism_cli.model import ModelConfig, build_model

from .prism_train_data import TINY_MODEL, simulated_dataset, write_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return simulated_dataset(tmp_path_factory)


def _element_rows(ds) -> pd.DataFrame:
    return pd.concat([ds.enhancer_table(), ds.promoter_table()])[["chrom", "start", "end"]]


def write_table(path, rows: pd.DataFrame, values: np.ndarray, names=("f1", "f2", "f3")):
    frame = rows.reset_index(drop=True).copy()
    frame.insert(3, "name", [f"el{i}" for i in range(len(frame))])
    for j, n in enumerate(names):
        frame[n] = values[:, j]
    frame.rename(columns={"chrom": "#chrom"}).to_csv(path, sep="\t", index=False)
    return path


# ---- spec -------------------------------------------------------------------------------

def test_spec_parses_sources_and_rejects_unknown_ones(tmp_path):
    t = tmp_path / "t.tsv"
    t.write_text("#chrom\tstart\tend\tf\nchr1\t0\t10\t1\n")
    assert FeatureSpec.parse(None) == FeatureSpec(("discover",), None, False)
    spec = FeatureSpec.parse(f"conv, jaspar,discover,table:{t}")
    assert spec.motifs == ("discover", "jaspar") and spec.conv and spec.table == str(t.resolve())
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(PrismInputError, match="unknown source 'motif'"):
        FeatureSpec.parse("motif")
    with pytest.raises(PrismInputError, match="not found"):
        FeatureSpec.parse(f"table:{tmp_path / 'missing.tsv'}")
    with pytest.raises(PrismInputError, match="at least one source"):
        FeatureSpec.parse(" , ")


def test_a_negative_motif_softness_fails_before_discovery():
    from prism_cli.features.stage import DiscoverSettings

    with pytest.raises(PrismInputError, match="motif_softness must be >= 0"):
        FeatureStage.fit(FeatureSpec(("discover",)), None, {}, DiscoverSettings(softness=-1))


def test_discover_switches_reach_discovery(data, monkeypatch):
    """The train settings switch repeat masking and gapped seeds on, each on its own; both
    are off by default, and the removed discover_degenerate loads only when false."""
    import prism_cli.motifs.discover as discover
    from prism_cli.features.stage import DiscoverSettings
    from prism_cli.train.config import TrainConfig

    seen = []

    def fake(codes, **kwargs):
        seen.append(kwargs)
        raise KeyboardInterrupt  # stop before scanning: only the call is under test

    monkeypatch.setattr(discover, "discover_motifs", fake)
    ds = PairDataset(data)
    ids = {"enhancer": np.arange(5), "promoter": np.arange(5)}
    for mask in (False, True):
        for gapped in (False, True):
            cfg = TrainConfig(discover_repeat_mask=mask, discover_gapped_seeds=gapped)
            with pytest.raises(KeyboardInterrupt):
                FeatureStage.fit(FeatureSpec(("discover",)), ds, ids, cfg.discover_settings())
            assert seen[-1]["repeat_k"] == (20 if mask else 0)
            assert seen[-1]["gapped_seeds"] is gapped
    settings = TrainConfig().discover_settings()
    assert settings.repeat_mask is False and settings.gapped_seeds is False
    assert DiscoverSettings().repeat_mask is False and DiscoverSettings().gapped_seeds is False
    assert TrainConfig.from_dict({"discover_degenerate": False}) == TrainConfig()
    with pytest.raises(ValueError, match="discover_repeat_mask and discover_gapped_seeds"):
        TrainConfig.from_dict({"discover_degenerate": True})


# ---- table ------------------------------------------------------------------------------

def test_table_lookup_follows_the_dataset_elements(data, tmp_path):
    ds = PairDataset(data)
    rows = _element_rows(ds)
    values = np.arange(len(rows) * 3, dtype=np.float64).reshape(-1, 3)
    order = np.random.default_rng(0).permutation(len(rows))     # the table's own order
    path = write_table(tmp_path / "t.tsv", rows.iloc[order], values[order])
    table = read_feature_table(path)
    assert table.columns == ["f1", "f2", "f3"]
    got = lookup(table, ds.enhancer_table(), "enhancer")
    np.testing.assert_array_equal(got, values[:len(ds.enhancer_table())].astype(np.float32))
    # a checkpoint's column order is honoured
    again = read_feature_table(path, columns=["f3", "f1"])
    np.testing.assert_array_equal(lookup(again, ds.promoter_table(), "promoter")[:, 0],
                                  values[len(ds.enhancer_table()):, 2].astype(np.float32))


def test_table_errors_name_the_file_line_and_problem(data, tmp_path):
    ds = PairDataset(data)
    rows = _element_rows(ds)
    values = np.ones((len(rows), 3))
    path = write_table(tmp_path / "t.tsv", rows, values)
    lines = path.read_text().splitlines()
    bad = lines[:5] + [lines[5].rsplit("\t", 1)[0] + "\tabc"] + lines[6:]
    (tmp_path / "bad.tsv").write_text("\n".join(bad) + "\n")
    with pytest.raises(PrismInputError, match=r"bad\.tsv:6: column 'f3': 'abc' is not a finite"):
        read_feature_table(tmp_path / "bad.tsv")
    (tmp_path / "nan.tsv").write_text("\n".join(lines[:3] + [lines[3].rsplit("\t", 1)[0]
                                                             + "\tnan"]) + "\n")
    with pytest.raises(PrismInputError, match=r"nan\.tsv:4: column 'f3'"):
        read_feature_table(tmp_path / "nan.tsv")
    (tmp_path / "hdr.tsv").write_text("chrom\tbegin\tend\tf\n")
    with pytest.raises(PrismInputError, match=r"hdr\.tsv:1: feature table header"):
        read_feature_table(tmp_path / "hdr.tsv")
    (tmp_path / "dup.tsv").write_text("\n".join(lines[:3] + [lines[2]]) + "\n")
    with pytest.raises(PrismInputError, match=r"dup\.tsv:4: element .* appears twice"):
        read_feature_table(tmp_path / "dup.tsv")
    # an element of the dataset that the table lacks
    (tmp_path / "short.tsv").write_text("\n".join(lines[:-1]) + "\n")
    table = read_feature_table(tmp_path / "short.tsv")
    with pytest.raises(PrismInputError, match=r"short\.tsv: no row for promoter chr\d+:\d+-\d+ "
                                         r"\(1 promoters missing\)"):
        lookup(table, ds.promoter_table(), "promoter")
    with pytest.raises(PrismInputError, match="lacks the model's column"):
        read_feature_table(path, columns=["f1", "g7"])


# ---- inputs and tower ---------------------------------------------------------------------

def test_element_inputs_concatenate_features_and_transform_codes_only():
    codes = np.array([[0, 1, 2, 3], [4, 3, 2, 1]], dtype=np.uint8)
    feats = np.array([[1.5, 0.0], [2.0, 7.0]], dtype=np.float32)
    both = ElementInputs(codes, feats)
    x = both.take([1, 0], transform_codes=lambda c: 3 - np.minimum(c, 3))
    np.testing.assert_array_equal(x, [[2.0, 7.0, 0, 0, 1, 2], [1.5, 0.0, 3, 2, 1, 0]])
    assert ElementInputs(codes, None)[[0]].dtype == np.uint8
    np.testing.assert_array_equal(ElementInputs(None, feats)[[1]], feats[[1]])
    with pytest.raises(ValueError):
        ElementInputs(codes[:1], feats)


@pytest.mark.parametrize("sequence", [False, True])
@torch.no_grad()
def test_feature_tower_tokens_and_strand_invariance(sequence):
    cfg = ModelConfig(**{**TINY_MODEL, "dilations": ()}, n_features=6, sequence_tower=sequence,
                      enhancer_length=40, promoter_length=40)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    rng = np.random.default_rng(0)
    feats = rng.poisson(1.0, (5, 6)).astype(np.float32)
    codes = rng.integers(0, 4, (5, 40)).astype(np.uint8)
    inputs = ElementInputs(codes if sequence else None, feats)
    tok = model.encode_enhancers(torch.from_numpy(inputs[np.arange(5)]))
    assert tok.shape == (5, cfg.tokens_per_element, cfg.d_model)
    assert cfg.tokens_per_element == cfg.n_tokens * (2 if sequence else 1) + \
        (1 if sequence and cfg.kmer_k else 0)
    # the features part depends on the features: change one element's features only
    feats2 = feats.copy()
    feats2[2] += 3
    tok2 = model.encode_enhancers(torch.from_numpy(ElementInputs(
        codes if sequence else None, feats2)[np.arange(5)]))
    changed = (tok2 - tok).abs().amax(dim=(1, 2))
    assert changed[2] > 1e-3 and float(changed[[0, 1, 3, 4]].max()) == 0.0
    if sequence:  # reverse-complemented windows: same pair outputs
        rc = (3 - codes[:, ::-1]).astype(np.uint8)
        e = model.encode_enhancers(torch.from_numpy(ElementInputs(codes, feats)[np.arange(5)]))
        e_rc = model.encode_enhancers(torch.from_numpy(ElementInputs(rc, feats)[np.arange(5)]))
        p = model.encode_promoters(torch.from_numpy(ElementInputs(codes, feats)[np.arange(5)]))
        d = torch.full((5,), 4.0)
        torch.testing.assert_close(model.pair(e, p, d)["U"], model.pair(e_rc, p, d)["U"],
                                   atol=1e-5, rtol=1e-5)


def test_model_config_needs_some_element_encoder():
    with pytest.raises(ValueError, match="needs element features"):
        ModelConfig(n_features=0, sequence_tower=False)
    old = ModelConfig.from_saved({k: v for k, v in ModelConfig().to_dict().items()
                                  if k not in ("n_features", "sequence_tower")})
    assert old.sequence_tower and old.n_features == 0


def test_feature_tower_dropout_setting():
    """feature_dropout sets the tower's input dropout (None: the model's dropout; the
    default for configs saved before it existed); a bad value fails."""
    base = {**TINY_MODEL, "dilations": (), "n_features": 4, "sequence_tower": False,
            "dropout": 0.3}
    assert build_model(ModelConfig(**base)).enhancer_features.dropout.p == 0.3
    cfg = ModelConfig(**base, feature_dropout=0.0)
    assert build_model(cfg).enhancer_features.dropout.p == 0.0
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k != "feature_dropout"}
    assert ModelConfig.from_saved(old).feature_dropout is None
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="feature_dropout"):
            ModelConfig(**base, feature_dropout=bad)
    assert FeatureSpec.parse("discover").feature_dropout is None


# ---- stage: cache and training ----------------------------------------------------------

def test_cached_table_features_equal_recomputed_ones(data, tmp_path):
    ds = PairDataset(data)
    rows = _element_rows(ds)
    values = np.random.default_rng(1).poisson(2.0, (len(rows), 3)).astype(float)
    path = write_table(tmp_path / "t.tsv", rows, values)
    stage = FeatureStage.fit(FeatureSpec.parse(f"table:{path}"), ds, {}, None)
    first = stage.features(ds, "enhancer")
    cached = list((data / "features").glob("*/enhancer.npy"))
    assert cached, "features were not cached with the dataset"
    np.testing.assert_array_equal(first, stage._compute(ds, "enhancer"))
    np.testing.assert_array_equal(stage.features(ds, "enhancer"), first)
    # a different table gives a different cache entry, not stale numbers
    path2 = write_table(tmp_path / "t2.tsv", rows, values + 1)
    stage2 = FeatureStage.fit(FeatureSpec.parse(f"table:{path2}"), ds, {}, None)
    np.testing.assert_array_equal(stage2.features(ds, "enhancer"), first + 1)


def test_train_score_with_a_feature_table_round_trips(data, tmp_path):
    """table:PATH -> the checkpoint records the columns and the table; score reads it,
    also from a new place with --feature-table; a table lacking a scored element fails."""
    ds = PairDataset(data)
    rows = _element_rows(ds)
    values = np.random.default_rng(2).poisson(2.0, (len(rows), 3)).astype(float)
    table = write_table(tmp_path / "t.tsv", rows, values)
    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 2})
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", "--data", str(data), "-o", str(run), "--config",
                                  str(cfg), "--threads", "1", "-q", "--epochs", "1",
                                  "--element-features", f"table:{table}"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    meta = json.loads((run / "best.json").read_text())
    assert meta["model_config"]["n_features"] == 3
    assert meta["model_config"]["sequence_tower"] is False
    assert meta["model_config"]["feature_dropout"] == 0.0   # a table alone: read exactly
    assert meta["element_features"]["table_columns"] == ["f1", "f2", "f3"]
    sim = data.parent / "sim"
    pairs = tmp_path / "q.bedpe"
    lines = (sim / "pairs.bedpe").read_text().splitlines()
    pairs.write_text("\n".join(lines[:40]) + "\n")
    out1 = tmp_path / "s1.bedpe"
    args = ["score", "-p", str(pairs), "-m", str(run), "-g", str(sim / "genome.fa"), "--zero-shot"]
    r = CliRunner().invoke(main, args + ["-o", str(out1)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    moved = tmp_path / "moved.tsv"
    table.rename(moved)
    r = CliRunner().invoke(main, args + ["-o", str(tmp_path / "s0.bedpe")])
    assert r.exit_code != 0 and "--feature-table" in r.output
    out2 = tmp_path / "s2.bedpe"
    r = CliRunner().invoke(main, args + ["-o", str(out2), "--feature-table", str(moved)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert out1.read_text() == out2.read_text()
    short = tmp_path / "short.tsv"
    text = moved.read_text().splitlines()
    first_enh = lines[1].split("\t")[:3]
    short.write_text("\n".join(t for t in text if t.split("\t")[:3] != first_enh) + "\n")
    r = CliRunner().invoke(main, args + ["-o", str(tmp_path / "s3.bedpe"), "--feature-table",
                                         str(short)])
    assert r.exit_code != 0 and "no row for enhancer" in r.output
    assert not (tmp_path / "s3.bedpe").exists()


# ---- motif sources: training, checkpoint round trip, prism motifs ----------------------

def test_jaspar_model_round_trips_and_prism_motifs_reports_it(data, tmp_path, monkeypatch):
    """A model trained on JASPAR occupancies: the checkpoint rebuilds the same scanner
    (identical features), and `prism motifs` writes MEME, a table with each motif's
    effect on U_I and R, and logos; --force replaces only its own report.  (40 of the
    JASPAR motifs, to keep the test fast; the scanner itself is tested in test_motifs.)"""
    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.features import model_inputs
    from prism_cli.motifs import jaspar
    from prism_cli.motifs.pwm import read_meme

    subset = tuple(jaspar.jaspar_motifs()[:40])
    monkeypatch.setattr(jaspar, "jaspar_motifs", lambda *a, **k: list(subset))

    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 2,
                                                   "discover_max_elements": 300})
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", "--data", str(data), "-o", str(run), "--config",
                                  str(cfg), "--threads", "1", "-q", "--epochs", "1",
                                  "--element-features", "jaspar"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    model, meta = load_checkpoint(run)
    n = meta["model_config"]["n_features"]
    assert n == len(meta["element_features"]["names"]) == 40
    assert meta["model_config"]["feature_dropout"] is None   # motifs: the model's dropout
    ds = PairDataset(data)
    fresh, _ = FeatureStage.from_state(meta["element_features"]).inputs(ds)
    cached, _ = model_inputs(ds, meta)
    np.testing.assert_array_equal(fresh.features, cached.features)
    assert fresh.features.shape == (ds.manifest["n_enhancers"], n)
    assert fresh.features.sum() > 0
    # the default features are soft occupancies, recorded with the scanner
    from prism_cli.train.config import TrainConfig

    (_, scanner), = FeatureStage.from_state(meta["element_features"]).scanners
    assert scanner.softness == TrainConfig().motif_softness > 0
    np.testing.assert_array_equal(
        fresh.features, scanner.soft_occupancy(np.asarray(ds.enhancers), scanner.softness))
    out = tmp_path / "m"
    r = CliRunner().invoke(main, ["motifs", "-m", str(run), "-o", str(out), "--n-pairs", "50",
                                  "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    motifs = read_meme(out / "motifs.meme")
    assert len(motifs) == n
    table = pd.read_csv(out / "motifs.tsv", sep="\t")
    assert {"motif", "consensus", "dU_abs", "dR_abs", "carriers"} <= set(table.columns)
    assert np.isfinite(table["dU_abs"]).all() and (table["dU_abs"] >= 0).all()
    # features the sampled pairs carry do move U_I; ones nobody carries cannot
    assert (table.loc[table["carriers"] == 0, "dU_abs"] == 0).all()
    assert table.loc[table["carriers"] > 0, "dU_abs"].max() > 0
    assert (out / "logos.png").stat().st_size > 1000
    r = CliRunner().invoke(main, ["motifs", "-m", str(run), "-o", str(out), "-q"])
    assert r.exit_code != 0 and "--force" in r.output
    r = CliRunner().invoke(main, ["motifs", "-m", str(run), "-o", str(out), "-q", "--force",
                                  "--n-pairs", "20", "--no-jaspar"])
    assert r.exit_code == 0, r.output


# ---- fine-tuning the motifs' calibration on pair labels ----------------------------------

def _planted_pairs(n: int = 900, length: int = 120, seed: int = 0):
    """Enhancers carrying a strong site, a weak site (2 mismatches) or none; a pair is
    positive when its enhancer has the strong site (5 % of labels flipped)."""
    from prism_cli.features.finetune import PairRows

    from .test_motifs import encode, sharp

    rng = np.random.default_rng(seed)
    consensus = "TGACTCAGTC"
    enh = rng.integers(0, 4, (n, length)).astype(np.uint8)
    prom = rng.integers(0, 4, (n, length)).astype(np.uint8)
    kind = rng.integers(0, 3, n)                              # 0 none, 1 weak, 2 strong
    for i in np.flatnonzero(kind > 0):
        site = encode(consensus).copy()
        if kind[i] == 1:
            at = rng.choice(len(site), 2, replace=False)
            site[at] = (site[at] + rng.integers(1, 4, 2)) % 4
        pos = rng.integers(0, length - len(site))
        enh[i, pos:pos + len(site)] = site
    y = (kind == 2) ^ (rng.random(n) < 0.05)
    rows = {name: PairRows(idx, idx, rng.uniform(3, 5, len(idx)).astype(np.float32),
                           y[idx].astype(np.float32), np.ones(len(idx), np.float32))
            for name, idx in (("train", np.arange(0, 600)), ("val", np.arange(600, n)))}
    return enh, prom, rows, sharp(consensus, 0.85)


def test_finetuning_raises_a_threshold_the_labels_say_is_too_low():
    """Known answer: the threshold admits weak sites the labels ignore; fine-tuning on
    the training rows raises it above the weak sites and the validation AUPR rises; the
    tuned scanner (thresholds and a softness per motif) reads what was trained on."""
    from prism_cli.features.finetune import (FinetuneSettings, SparseOccupancy, calibrated,
                                             finetune_calibration)
    from prism_cli.motifs.pwm import Motif
    from prism_cli.motifs.scan import MotifScanner

    enh, prom, rows, pwm = _planted_pairs()
    scanner = MotifScanner([Motif("D01", pwm, "discover"),
                            Motif("D02", np.random.default_rng(5).dirichlet(np.ones(4), 8),
                                  "discover")])
    scanner.calibrate(np.concatenate([enh, prom]), p_value=1e-3)
    strong = float(np.log2(0.85 + 1e-4) - np.log2(0.25)) * 10
    scanner.thresholds[0] = strong - 9.0          # weak sites (2 mismatches) pass it
    scanner.softness = 1.0
    result = finetune_calibration(scanner, enh, prom, rows["train"], rows["val"],
                                  FinetuneSettings(steps=60, lr=0.05, eval_every=10))
    kept = {h["step"]: h["val_aupr"] for h in result.history}
    assert result.step > 0 and kept[result.step] > kept[0] + 0.03
    tuned = result.scanner
    assert tuned is not scanner and tuned.thresholds[0] > scanner.thresholds[0] + 1.0
    assert isinstance(tuned.softness, np.ndarray) and tuned.softness.shape == (2,)
    assert result.record() == {"step": result.step, "steps": 60,
                               "val_aupr_start": kept[0], "val_aupr": kept[result.step]}
    # the differentiable occupancy at (a, b) is the calibrated scanner's soft occupancy
    from prism_cli.motifs.lookup import SOFT_CUT

    a, b = np.array([0.7, 1.4]), np.array([-1.0, 2.5])
    sigma = np.ones(2)
    occ = SparseOccupancy(scanner, enh, sigma, SOFT_CUT * sigma + 3.0)
    got = occ(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
    np.testing.assert_allclose(got.numpy(), calibrated(scanner, a, b).content(enh),
                               rtol=1e-4, atol=1e-4)


def test_finetuning_keeps_the_scanner_when_no_step_wins(monkeypatch):
    """Step 0 is kept unless a later step beats it on validation (here every later
    evaluation scores lower), and then the very same scanner comes back."""
    import prism_cli.metrics
    from prism_cli.features.finetune import FinetuneSettings, finetune_calibration
    from prism_cli.motifs.pwm import Motif
    from prism_cli.motifs.scan import MotifScanner

    enh, prom, rows, pwm = _planted_pairs(n=700)
    scanner = MotifScanner([Motif("D01", pwm, "discover")])
    scanner.calibrate(enh, p_value=1e-3)
    scanner.softness = 1.0
    falling = iter([0.5, 0.4, 0.45])
    monkeypatch.setattr(prism_cli.metrics, "aupr", lambda y, s: next(falling))
    result = finetune_calibration(scanner, enh, prom, rows["train"], rows["val"],
                                  FinetuneSettings(steps=10, eval_every=5))
    assert result.step == 0 and result.scanner is scanner
    assert [h["step"] for h in result.history] == [0, 5, 10]
    assert result.record()["val_aupr"] == result.record()["val_aupr_start"] == 0.5


def test_train_with_motif_finetuning_records_it_and_round_trips(data, tmp_path):
    """motif_finetune_steps > 0: training reports the fine-tuning, the checkpoint keeps
    the tuned scanner and its record, its features are the cached ones, and --resume
    reads them back instead of fitting again."""
    from prism_cli.checkpoint import load_checkpoint
    from prism_cli.features import model_inputs

    cfg = write_config(tmp_path / "c.json", train={"steps_per_epoch": 2,
                                                   "motif_finetune_steps": 10})
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "-o", str(run), "--config", str(cfg),
            "--threads", "1", "--epochs", "1"]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "motif calibration fine-tuned" in r.output
    _, meta = load_checkpoint(run)
    record = meta["element_features"]["finetuned"]
    assert record["steps"] == 10 and 0 <= record["step"] <= 10
    assert record["val_aupr"] >= record["val_aupr_start"]
    ds = PairDataset(data)
    stage = FeatureStage.from_state(meta["element_features"])
    (_, scanner), = stage.scanners
    cached, _ = model_inputs(ds, meta)
    np.testing.assert_array_equal(cached.features, scanner.content(np.asarray(ds.enhancers)))
    r = CliRunner().invoke(main, ["train", "--data", str(data), "-o", str(run), "--resume",
                                  "--threads", "1", "--epochs", "2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "motif calibration fine-tuned" not in r.output
    _, meta2 = load_checkpoint(run)
    assert meta2["element_features"] == meta["element_features"]


def test_a_negative_finetune_setting_fails_before_discovery(data, tmp_path):
    cfg = write_config(tmp_path / "c.json", train={"motif_finetune_steps": -1})
    r = CliRunner().invoke(main, ["train", "--data", str(data), "-o", str(tmp_path / "run"),
                                  "--config", str(cfg), "--threads", "1", "-q"])
    assert r.exit_code != 0 and "motif_finetune_steps and motif_finetune_lr must be >= 0" \
        in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()
