"""Cross-cell benchmark (bench/cross_cell/): split logic, deduplication, k-mer features,
the logistic-regression baselines and the report, on tiny worlds built in the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.cross_cell.baselines import (PairFeatures, canonical_index, fit_selected,
                                        kmer_frequencies)
from bench.cross_cell.split import make_fold, nested_supports, window_hashes
from prism_cli.encode import encode, reverse_complement
from prism_cli.metrics import aupr


# --------------------------------------------------------------------------- tiny world

def tiny_world(seed: int = 0, n_elem: int = 40, L: int = 60):
    """3 cells x 4 chromosomes; every enhancer pairs with 3 promoters in every cell.

    Labels: 1 when the enhancer window holds the motif GGGGGG (cell-invariant), flipped
    at random in 10% of rows.  Returns (pairs DataFrame, enhancer codes, promoter codes).
    """
    rng = np.random.default_rng(seed)
    enh = rng.integers(0, 4, size=(n_elem, L)).astype(np.uint8)
    prom = rng.integers(0, 4, size=(n_elem, L)).astype(np.uint8)
    has = rng.random(n_elem) < 0.4
    enh[has, 20:26] = 2   # GGGGGG
    chroms = np.array([f"chr{1 + i % 4}" for i in range(n_elem)])
    rows = []
    for cell in ("A", "B", "C"):
        for e in range(n_elem):
            for j in range(3):
                p = (e + 4 * j) % n_elem            # same chromosome as e (step of 4)
                y = int(has[e]) if rng.random() > 0.1 else 1 - int(has[e])
                rows.append({"chrom1": chroms[e], "start1": 1000 * e, "end1": 1000 * e + L,
                             "chrom2": chroms[p], "start2": 1000 * p + 500,
                             "end2": 1000 * p + 500 + L, "name": f"{cell}{e}_{p}",
                             "cell": cell, "label": y, "enh_idx": e, "prom_idx": p,
                             "distance": abs(1000 * p + 500 - 1000 * e) + 1})
    return pd.DataFrame(rows), enh, prom


def test_fold_respects_cells_chromosomes_and_nesting():
    pairs, enh, prom = tiny_world()
    fold = make_fold(pairs, "C", ["chr3"], ["chr4"], sizes=(4, 8, 16), seed=1)
    cell = pairs["cell"].to_numpy()
    chrom = pairs["chrom1"].to_numpy()
    assert fold.training_cells == ["A", "B"]
    assert set(cell[fold.train]) == {"A", "B"} and set(chrom[fold.train]) == {"chr1", "chr2"}
    assert set(chrom[fold.val]) == {"chr3"} and set(cell[fold.val]) == {"A", "B"}
    assert set(cell[fold.support_pool]) == {"C"}
    assert set(chrom[fold.support_pool]) == {"chr1", "chr2"}
    assert set(cell[fold.query]) == {"C"} and set(chrom[fold.query]) == {"chr4"}
    # every held-out pair on the test chromosome is in the query (nothing to deduplicate)
    assert len(fold.query) == int(((cell == "C") & (chrom == "chr4")).sum())
    assert fold.dedup["removed"] == 0
    # the same pairs are labelled in A and B on chr4: counted, not removed
    assert fold.dedup["query_pairs_labelled_in_other_cells"] == len(fold.query)
    # nested supports drawn from the pool, both classes, sizes as asked
    s4, s8, s16 = (set(fold.supports[n]) for n in (4, 8, 16))
    assert s4 <= s8 <= s16 <= set(fold.support_pool)
    assert [len(fold.supports[n]) for n in (4, 8, 16)] == [4, 8, 16]
    y = pairs["label"].to_numpy()
    for n in (4, 8, 16):
        assert {0, 1} <= set(y[fold.supports[n]].tolist())
    # a different seed draws a different support, the same query
    other = make_fold(pairs, "C", ["chr3"], ["chr4"], sizes=(4, 8, 16), seed=2)
    assert np.array_equal(other.query, fold.query)
    assert not np.array_equal(other.supports[16], fold.supports[16])


def test_dedup_removes_query_pairs_whose_window_sequence_was_seen():
    pairs, enh, prom = tiny_world()
    # enhancer 3 is on chr4 (query); give it the exact sequence of enhancer 0 (chr1,
    # a training chromosome) -> same window at another locus
    enh = enh.copy()
    enh[3] = enh[0]
    by_index = make_fold(pairs, "C", ["chr3"], ["chr4"], sizes=(4,), seed=0)
    by_sequence = make_fold(pairs, "C", ["chr3"], ["chr4"], window_hashes(enh),
                            window_hashes(prom), sizes=(4,), seed=0)
    removed = int(((pairs.cell == "C") & (pairs.enh_idx == 3)).sum())
    assert by_index.dedup["removed"] == 0
    assert by_sequence.dedup["removed_shared_enhancer"] == removed == 3
    assert len(by_sequence.query) == len(by_index.query) - removed
    assert not (pairs["enh_idx"].to_numpy()[by_sequence.query] == 3).any()


def test_held_out_cell_never_trains_and_bad_requests_fail():
    pairs, _, _ = tiny_world()
    with pytest.raises(ValueError, match="held-out cell"):
        make_fold(pairs, "Z", ["chr3"], ["chr4"])
    with pytest.raises(ValueError, match="cannot be a training cell"):
        make_fold(pairs, "C", ["chr3"], ["chr4"], training_cells=["A", "C"])


def test_nested_supports_keep_prevalence_and_minimum_per_class():
    labels = np.array([1] * 10 + [0] * 90)
    sup = nested_supports(np.arange(100), labels, sizes=(16, 64), seed=0)
    assert labels[sup[16]].sum() == 2            # round(1.6) = 2, and at least 2
    assert labels[sup[64]].sum() == 6            # round(6.4)
    assert set(sup[16]) <= set(sup[64])
    with pytest.raises(ValueError, match="positives"):
        nested_supports(np.arange(100), np.r_[[1], np.zeros(99, int)], sizes=(16,))


def test_canonical_kmers_known_answers():
    assert canonical_index(1)[1] == 2
    assert canonical_index(2)[1] == 10
    assert canonical_index(3)[1] == 32
    assert canonical_index(6)[1] == 2080
    # a window and its reverse complement have identical canonical frequencies
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(5, 50)).astype(np.uint8)
    f = kmer_frequencies(codes, 4)
    f_rc = kmer_frequencies(reverse_complement(codes), 4)
    assert np.allclose(f, f_rc)
    assert np.allclose(f.sum(1), 1.0)
    # "AAAA" + N + "TTT": 2-mers AA x3 and TT x2 share one column; N breaks the run
    x = encode("AAAANTTT")[None, :]
    f2 = kmer_frequencies(x, 2)
    column, _ = canonical_index(2)
    aa = column[0]                                  # AA (code 0) == TT (code 15)
    assert column[15] == aa
    assert f2[0, aa] == pytest.approx(1.0)
    assert kmer_frequencies(encode("NNNN")[None, :], 2).sum() == 0


def test_kmer_baseline_learns_a_cell_invariant_motif_and_distance_does_not():
    pairs, enh, prom = tiny_world(n_elem=120)
    fold = make_fold(pairs, "C", ["chr3"], ["chr4"], sizes=(8,), seed=0)
    log_d = np.log10(pairs["distance"].to_numpy())
    feats = PairFeatures(enh, prom, pairs["enh_idx"].to_numpy(), pairs["prom_idx"].to_numpy(),
                         log_d)
    y = pairs["label"].to_numpy()
    cells = pairs["cell"].to_numpy()
    kmer = fit_selected("kmer-lr", feats, y, cells, fold.train, fold.val, [3, 6], False)
    dist = fit_selected("distance-lr", feats, y, cells, fold.train, fold.val, [None], True,
                        c_grid=(1.0,))
    assert len(kmer.selection) == 8             # 2 k x 4 C tried, on validation rows only
    best = max(kmer.selection, key=lambda t: t[2])
    assert (kmer.k, kmer.C) == best[:2]
    s_k = kmer.score(feats, fold.query)
    s_d = dist.score(feats, fold.query)
    prev = y[fold.query].mean()
    assert aupr(y[fold.query], s_k) > prev + 0.3
    assert aupr(y[fold.query], s_d) < aupr(y[fold.query], s_k) - 0.2


def test_report_gain_fraction_and_tables(tmp_path):
    from bench.cross_cell.report import render

    rows = []
    for seed in (0, 1):
        base = {"dataset": "sim", "held_out": "X", "seed": seed, "n": 100, "positives": 25,
                "prevalence": 0.25, "aupr_balanced": 0.6, "auroc": 0.7, "brier": 0.2,
                "threshold": 0.5, "f1_at_t": 0.4, "best_f1": 0.5, "threshold_rule": "-"}
        for model, variant, mode, support, a in (
                ("truth", "oracle", "reference", 0, 0.8),
                ("truth", "mean-env", "reference", 0, 0.6),
                ("prism", "full", "zero-shot", 0, 0.55),
                ("prism", "full", "adapt", 64, 0.7 + 0.02 * seed),
                ("prism", "no-distill", "zero-shot", 0, 0.5),
                ("prism", "no-distill", "adapt", 64, 0.52),
                ("crossattn", "full", "finetune", 64, 0.5)):
            rows.append({**base, "model": model, "variant": variant, "mode": mode,
                         "support": support, "aupr": a})
    out = tmp_path / "res"
    (out / "tasks").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(out / "results.tsv", sep="\t", index=False)
    text = render([out], plot=str(tmp_path / "lc.png"))
    # (AUPR - 0.6) / (0.8 - 0.6) per seed: 0.50 and 0.60 -> 0.55 ± 0.07
    line = next(l for l in text.splitlines() if "| PRISM + adapt n=64 |" in l and "0.80" in l)
    assert "0.55 ± 0.07" in line
    assert "without distillation" in text
    assert "| PRISM + adapt n=64 | 2 | 0.710 ± 0.014 |" in text
    assert (tmp_path / "lc.png").stat().st_size > 1000


def test_harness_end_to_end_without_training(tmp_path):
    """`run` on a tiny `prism simulate` world with the methods that need no training:
    truth references and the linear baselines, through the real data preparation."""
    from bench.cross_cell import harness as cross_cell

    out = tmp_path / "cc"
    cross_cell.main(["run", "--dataset", "sim", "--mode", "cpu", "-o", str(out),
                     "--sim-pairs", "2500", "--sim-genome-size", "600000",
                     "--methods", "references,linear", "--seeds", "0,1",
                     "--kmer-sizes", "3"])
    res = pd.read_csv(out / "results.tsv", sep="\t")
    assert set(res.seed) == {0, 1}
    assert set(res.model) == {"truth", "distance-lr", "kmer-lr", "kmer+dist-lr"}
    one = res[res.seed == 0].set_index(["model", "variant"]).aupr
    prev = res.prevalence.iloc[0]
    # the truth orders as it must: oracle > mean-env > prevalence
    assert one[("truth", "oracle")] > one[("truth", "mean-env")] > prev
    # every method is scored on the same query pairs
    assert res.n.nunique() == 1
    # linear scores do not depend on the seed (only their support-chosen threshold may)
    a = res[res.model == "kmer-lr"].sort_values("seed").aupr.to_numpy()
    assert a[0] == a[1]
