"""`prism evaluate`: metric known answers, thresholds, errors, CLI smoke test."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from prism_cli.cli import main
from prism_cli.errors import PrismInputError
from prism_cli.evaluate import evaluate_frame
from prism_cli.metrics import (balanced_aupr, best_f1_threshold, brier_score, confusion_at,
                               group_metrics)
from prism_cli.io.scored import read_scored_bedpe, write_scored_bedpe

# 3 positives, 3 negatives; ranked: .9+ .8- .6+ .4- .3+ .1-
TOY_Y = np.array([1, 0, 1, 0, 1, 0])
TOY_S = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])


def test_toy_auroc_and_aupr_by_hand():
    m = group_metrics(TOY_Y, TOY_S)
    # AUROC: positive-over-negative pairs: 3 + 2 + 1 of 9
    assert m["auroc"] == pytest.approx(6 / 9)
    # AP: precision at each positive: 1/1, 2/3, 3/5
    assert m["aupr"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert (m["n"], m["positives"], m["prevalence"]) == (6, 3, 0.5)


def test_ranking_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    s = np.round(rng.random(200) + 0.4 * y, 2)  # rounded: ties on purpose
    m = group_metrics(y, s)
    assert m["aupr"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_best_f1_threshold_toy():
    t, at = best_f1_threshold(TOY_Y, TOY_S)
    # s >= .3 calls 5 pairs: TP 3, FP 2 -> F1 = 6/8 (the best; s >= .6 gives 4/6)
    assert t == 0.3 and at["f1"] == pytest.approx(0.75)
    assert at["precision"] == pytest.approx(0.6) and at["recall"] == 1.0


def test_best_f1_threshold_treats_ties_as_one_call():
    # s >= .5 calls both tied pairs (TP 1, FP 1): F1 = 2/3, not the 1.0 a split tie gives
    t, at = best_f1_threshold(np.array([1, 0, 0]), np.array([0.5, 0.5, 0.2]))
    assert t == 0.5 and at["f1"] == pytest.approx(2 / 3) and at["precision"] == 0.5


def test_confusion_at_threshold():
    at = confusion_at(TOY_Y, TOY_S, 0.5)  # calls .9 .8 .6: TP 2, FP 1, FN 1
    assert at["precision"] == pytest.approx(2 / 3) and at["recall"] == pytest.approx(2 / 3)
    assert at["f1"] == pytest.approx(4 / 6)
    assert np.isnan(confusion_at(TOY_Y, TOY_S, 0.95)["precision"])  # nothing called
    # a threshold per pair
    at = confusion_at(TOY_Y, TOY_S, np.array([1, 1, 1, 0, 0, 0.2]))  # calls .4 .3
    assert at["precision"] == 0.5 and at["recall"] == pytest.approx(1 / 3)


def test_brier():
    assert brier_score(np.array([1, 0, 0]), np.array([0.9, 0.2, 0.6])) == \
        pytest.approx((0.01 + 0.04 + 0.36) / 3)
    assert np.isnan(brier_score(np.array([1, 0]), np.array([2.0, -1.0])))  # not probabilities


def test_balanced_aupr():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.1).astype(int)
    s = rng.random(400)
    a, b = balanced_aupr(y, s, seed=5), balanced_aupr(y, s, seed=5)
    assert a == b  # deterministic
    assert balanced_aupr(y, y + 0.0) == 1.0  # perfect ranking
    assert abs(a - 0.5) < 0.15  # random ranking on balanced draws: about 0.5, not 0.1
    assert balanced_aupr(TOY_Y, TOY_S) == pytest.approx(group_metrics(TOY_Y, TOY_S)["aupr"])
    assert np.isnan(balanced_aupr(np.ones(4), s[:4]))


def scored_file(tmp_path, name="s.bedpe", labels=None, cells=None, thresholds=None, seed=0):
    rng = np.random.default_rng(seed)
    n = len(labels) if labels is not None else 60
    y = rng.integers(0, 2, n) if labels is None else labels
    start = np.arange(n) * 1000
    df = pd.DataFrame({
        "chrom1": "chr1", "start1": start, "end1": start + 200,
        "chrom2": "chr1", "start2": start + 5000, "end2": start + 5200,
        "prob": np.clip(0.3 * np.asarray(pd.to_numeric(pd.Series(y), errors="coerce")
                                         .fillna(0)) + 0.7 * rng.random(n), 0, 1),
        "U_I": rng.normal(size=n), "R": rng.random(n),
        "cell": cells if cells is not None else np.where(np.arange(n) % 2, "K562", "GM12878"),
        "label": y,
    })
    path = tmp_path / name
    write_scored_bedpe(df, path, sidecar={"thresholds": thresholds} if thresholds else None)
    return path


def test_evaluate_frame_groups_thresholds_and_exclusions(tmp_path):
    labels = np.array([1, 0, "."] * 20, dtype=object)
    labels[3] = -1
    path = scored_file(tmp_path, labels=labels, thresholds={"K562": 0.5})
    df = read_scored_bedpe(path)
    res = evaluate_frame(df, thresholds={"K562": 0.5})
    table = res.table.set_index("cell")
    assert res.excluded == 21 and table["excluded"].sum() == 21
    assert table["n"].sum() == 39
    assert table.loc["K562", "threshold"] == 0.5 and table.loc["GM12878", "threshold"] is None
    k = df[(df["cell"] == "K562") & df["label"].isin(["0", "1", 0, 1])]
    y, s = k["label"].astype(int).to_numpy(), k["prob"].to_numpy()
    assert table.loc["K562", "aupr"] == pytest.approx(average_precision_score(y, s))
    assert table.loc["K562", "f1_at_t"] == pytest.approx(confusion_at(y, s, 0.5)["f1"])
    pooled = evaluate_frame(df, by=None, thresholds={"K562": 0.5, "GM12878": 0.3})
    assert pooled.table["threshold"].iloc[0] == "per-cell" and pooled.table["n"].iloc[0] == 39


def test_one_class_group_is_nan_not_a_crash(tmp_path):
    labels = np.array([1, 0, 0, 0] * 10)
    cells = np.array(["A", "A", "B", "B"] * 10)  # B has no positives
    res = evaluate_frame(read_scored_bedpe(scored_file(tmp_path, labels=labels, cells=cells)))
    table = res.table.set_index("cell")
    assert res.one_class_groups == ["B"]
    assert np.isnan(table.loc["B", "aupr"]) and np.isnan(table.loc["B", "auroc"])
    assert table.loc["A", "aupr"] > 0 and len(res.curves) == 1


def test_missing_label_column_names_columns(tmp_path):
    df = read_scored_bedpe(scored_file(tmp_path)).drop(columns="label")
    with pytest.raises(PrismInputError, match=r"no label column 'label'; columns are: .*prob.*cell"):
        evaluate_frame(df)


def test_cli_bad_label_names_file_line_and_writes_nothing(tmp_path):
    labels = np.array([1, 0, 1, 0, 1, 0], dtype=object)
    labels[4] = "yes"
    path = scored_file(tmp_path, labels=labels)
    out, png = tmp_path / "m.tsv", tmp_path / "c.png"
    res = CliRunner().invoke(main, ["evaluate", "-p", str(path), "-o", str(out), "--plot", str(png)])
    assert res.exit_code == 1
    line = 1 + 1 + int(np.flatnonzero(read_scored_bedpe(path)["label"] == "yes")[0])
    assert f"s.bedpe:{line}: label must be 0 or 1" in res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not png.exists()


def test_cli_empty_file(tmp_path):
    path = tmp_path / "e.bedpe"
    write_scored_bedpe(pd.DataFrame({c: [] for c in
                                     ["chrom1", "start1", "end1", "chrom2", "start2", "end2",
                                      "prob", "label"]}).astype({"prob": float}), path)
    res = CliRunner().invoke(main, ["evaluate", "-p", str(path)])
    assert res.exit_code == 1 and "no pairs" in res.output


def test_cli_smoke_tsv_and_png(tmp_path):
    path = scored_file(tmp_path, thresholds={"K562": 0.5, "GM12878": 0.4})
    out, png = tmp_path / "m.tsv", tmp_path / "c.png"
    runner = CliRunner()
    res = runner.invoke(main, ["evaluate", "-p", str(path), "-o", str(out), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "AUPR" in res.output and "K562" in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out, sep="\t", na_values=["."])
    assert list(table["cell"]) == ["GM12878", "K562"]
    assert list(table.columns[:5]) == ["cell", "n", "excluded", "positives", "prevalence"]
    df = read_scored_bedpe(path)
    g = df[df["cell"] == "GM12878"]
    assert table.loc[0, "aupr"] == pytest.approx(average_precision_score(g["label"], g["prob"]),
                                                 rel=1e-5)
    assert table.loc[0, "threshold"] == 0.4  # from the sidecar
    # refuses to overwrite; --force replaces; --threshold overrides the sidecar
    res = runner.invoke(main, ["evaluate", "-p", str(path), "-o", str(out)])
    assert res.exit_code == 1 and "--force" in res.output
    res = runner.invoke(main, ["evaluate", "-p", str(path), "-o", str(out), "--force", "--by", "none",
                               "--threshold", "0.25"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, sep="\t")
    assert list(table["group"]) == ["all"] and table.loc[0, "threshold"] == 0.25
    assert table.loc[0, "f1_at_t"] == pytest.approx(
        confusion_at(df["label"], df["prob"], 0.25)["f1"], rel=1e-5)


def test_cli_threshold_json_and_missing_by_column(tmp_path):
    path = scored_file(tmp_path)
    tj = tmp_path / "t.json"
    tj.write_text(json.dumps({"K562": 0.6}))
    out = tmp_path / "m.tsv"
    res = CliRunner().invoke(main, ["evaluate", "-p", str(path), "--threshold-json", str(tj),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, sep="\t", na_values=["."]).set_index("cell")
    assert table.loc["K562", "threshold"] == 0.6 and np.isnan(table.loc["GM12878", "threshold"])
    res = CliRunner().invoke(main, ["evaluate", "-p", str(path), "--by", "tissue"])
    assert res.exit_code == 1 and "no column 'tissue' to group by" in res.output
