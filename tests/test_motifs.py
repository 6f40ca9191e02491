"""Known answers and invariances of prism_cli.motifs (PWMs, shuffles, scans, JASPAR,
TOMTOM, discovery, logos)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from prism_cli.encode import encode, reverse_complement
from prism_cli.motifs.pwm import (Motif, information_content, pwm_correlation, read_meme,
                                  reverse_complement_pwm, trim, write_meme)
from prism_cli.motifs.scan import MotifScanner
from prism_cli.motifs.shuffle import dinucleotide_shuffle_codes


def sharp(consensus: str, p: float = 0.91) -> np.ndarray:
    """PWM (W, 4) with probability p on the consensus base of each position."""
    idx = encode(consensus)
    pwm = np.full((len(idx), 4), (1 - p) / 3)
    pwm[np.arange(len(idx)), idx] = p
    return pwm


def random_codes(seed: int, n: int, length: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, length)).astype(np.uint8)


def one_hot_np(codes: np.ndarray) -> np.ndarray:
    x = np.zeros((len(codes), 4, codes.shape[1]), dtype=np.int8)
    rows, cols = np.nonzero(codes < 4)
    x[rows, codes[rows, cols], cols] = 1
    return x


@pytest.fixture(scope="module")
def jaspar():
    from prism_cli.motifs.jaspar import jaspar_motifs

    return jaspar_motifs()


# ----------------------------------------------------------------------------- pwm


def test_meme_round_trip(tmp_path):
    from memelite.io import read_meme as memelite_read
    from tangermeme.io import read_meme as tangermeme_read

    rng = np.random.default_rng(0)
    motifs = [Motif("MA0000.1 alpha", sharp("ACGTACGG"), "jaspar"),
              Motif("D01", rng.dirichlet(np.full(4, 0.5), size=11), "discover")]
    path = tmp_path / "m.meme"
    write_meme(path, motifs)
    back = read_meme(path)
    assert [m.name for m in back] == ["MA0000.1 alpha", "D01"]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(b.pwm, a.pwm, atol=2e-6)
    # the libraries' own readers see the same (4, W) matrices
    for reader in (memelite_read, tangermeme_read):
        raw = reader(str(path))
        assert list(raw) == ["MA0000.1 alpha", "D01"]
        np.testing.assert_allclose(np.asarray(raw["D01"]), motifs[1].pwm.T, atol=2e-6)
    assert "letter-probability matrix: alength= 4 w= 11 nsites= 20 E= 0" in path.read_text()


def test_information_content_and_trim():
    flat = np.full((1, 4), 0.25)
    core = np.eye(4)[[0, 1, 2, 3, 0]]
    pwm = np.concatenate([flat, flat, core, flat])
    ic = information_content(pwm)
    np.testing.assert_allclose(ic, [0, 0, 2, 2, 2, 2, 2, 0], atol=1e-12)
    np.testing.assert_array_equal(trim(pwm), core)
    # an inner low-IC position is kept
    gapped = np.concatenate([core[:2], flat, core[2:]])
    assert len(trim(gapped)) == 6


def test_pwm_correlation_both_strands_and_offsets():
    a = sharp("GATTACAGGC")
    assert pwm_correlation(a, a) == pytest.approx(1.0)
    assert pwm_correlation(a, reverse_complement_pwm(a)) == pytest.approx(1.0)
    # a core of the motif inside uniform flanks still aligns perfectly on its overlap
    inner = np.concatenate([np.full((3, 4), 0.25), a[2:9], np.full((2, 4), 0.25)])
    assert pwm_correlation(a[2:9], inner) == pytest.approx(1.0)
    other = sharp("CCGGTTAACA")
    assert pwm_correlation(a, other) < 0.6


# ----------------------------------------------------------------------------- shuffle


def dinucleotide_counts(seq: np.ndarray) -> np.ndarray:
    return np.bincount(seq[:-1].astype(int) * 5 + seq[1:], minlength=25)


def test_dinucleotide_shuffle_keeps_counts():
    codes = random_codes(1, 20, 150)
    codes[3, 40:55] = 4                                   # an N run
    codes[7, :] = encode("ACGT" * 37 + "AC")              # low complexity
    out = dinucleotide_shuffle_codes(codes, seed=5)
    assert out.shape == codes.shape and out.dtype == np.uint8
    for a, b in zip(codes, out):
        np.testing.assert_array_equal(dinucleotide_counts(a), dinucleotide_counts(b))
        assert a[0] == b[0] and a[-1] == b[-1]
    assert (out != codes).mean() > 0.3                    # it did shuffle
    np.testing.assert_array_equal(out, dinucleotide_shuffle_codes(codes, seed=5))
    assert not np.array_equal(out, dinucleotide_shuffle_codes(codes, seed=6))


# ----------------------------------------------------------------------------- scan


def test_scores_equal_memelite_fimo():
    from memelite import fimo

    rng = np.random.default_rng(2)
    motifs = [Motif(f"m{i}", rng.dirichlet(np.full(4, 0.3), size=w)) for i, w in
              enumerate((6, 9, 14))]
    codes = random_codes(3, 6, 180)
    ours = MotifScanner(motifs)._strand_scores(torch.from_numpy(codes))   # (B, M, 2, L)
    hits = fimo({m.name: m.pwm.T for m in motifs}, one_hot_np(codes), threshold=1e-2)
    n = 0
    for i, df in enumerate(hits):
        for h in df.itertuples():
            strand = 0 if h.strand == "+" else 1
            score = ours[h.sequence_name, i, strand, h.start].item()
            assert score == pytest.approx(h.score, abs=1e-3)
            n += 1
    assert n > 30


def test_scores_shape_and_ineligible_windows():
    m = Motif("m", sharp("ACGTT"))
    codes = encode("ACGTTAAAAACGTTNAA")[None]
    s = MotifScanner([m]).scores(torch.from_numpy(codes))
    assert s.shape == (1, 1, 17) and s.dtype == torch.float32
    assert torch.isinf(s[0, 0, 13:]).all()                # runs off the end
    assert torch.isinf(s[0, 0, 10:13]).all()              # holds the N at 14
    assert s[0, 0, 0] == s[0, 0, :10].max() == s[0, 0, 9]  # both planted copies


def test_pvalue_thresholds_match_brute_force():
    import itertools

    pwm = np.random.default_rng(4).dirichlet(np.full(4, 0.4), size=5)
    scanner = MotifScanner([Motif("m", pwm)])
    lo = scanner.log_odds[0]
    scores = np.sort([lo[np.arange(5), list(k)].sum()
                      for k in itertools.product(range(4), repeat=5)])
    err = 5 * 0.01 / 2 + scanner.quantum   # binning of 5 columns at 0.01 bits, grid
    for p in (0.05, 0.01):
        thr = scanner.set_pvalue_thresholds(p)[0]
        # of the 4**5 equally likely 5-mers, at most a fraction p reach the threshold,
        # and more than p reach the next lower bin
        assert np.mean(scores >= thr + err) <= p
        assert np.mean(scores >= thr - 0.01 - err) > p


def test_calibrate_controls_background_rate():
    codes = random_codes(5, 300, 200)
    motifs = [Motif("a", sharp("TGACTCA")), Motif("b", sharp("GGGCGGGGC", 0.8))]
    scanner = MotifScanner(motifs)
    thr = scanner.calibrate(codes, p_value=1e-3, seed=0)
    s = scanner._strand_scores(torch.from_numpy(dinucleotide_shuffle_codes(codes, seed=0)))
    s = s.transpose(0, 1).reshape(2, -1).double().numpy()
    n = np.isfinite(s).sum(1)
    assert ((s >= thr[:, None]).sum(1) <= np.floor(1e-3 * n)).all()
    assert ((s >= thr[:, None] - scanner.quantum).sum(1) > np.floor(1e-3 * n)).all()
    # on iid uniform sequence the empirical threshold is close to FIMO's exact one
    exact = MotifScanner(motifs).set_pvalue_thresholds(1e-3)
    assert np.abs(thr - exact).max() < 1.0
    # too few windows for a 1e-6 quantile: the exact threshold is used
    small = MotifScanner(motifs)
    np.testing.assert_array_equal(small.calibrate(codes[:5], p_value=1e-6),
                                  MotifScanner(motifs).set_pvalue_thresholds(1e-6))


def test_occupancy_counts_an_instance_once(device):
    motif = Motif("m", sharp("GGTCACGTGACC"))             # a palindrome: both strands hit
    plain = Motif("p", sharp("TTGACGCATC"))
    codes = random_codes(6, 4, 120)
    codes[0, 30:42] = encode("GGTCACGTGACC")
    codes[1, 50:60] = encode("TTGACGCATC")
    codes[2, 50:60] = reverse_complement(encode("TTGACGCATC"))
    codes[3, 10:30] = encode("GGTCACGTGACCGTGACCCA")     # overlapping near-copies
    scanner = MotifScanner([motif, plain])
    scanner.set_pvalue_thresholds(1e-6)
    occ = scanner.occupancy(codes, device=device)
    np.testing.assert_array_equal(occ, [[1, 0], [0, 1], [0, 1], [1, 0]])


def test_occupancy_batch_size_independent(device):
    codes = random_codes(7, 200, 160)
    motifs = [Motif("a", sharp("TGACTCA", 0.8)), Motif("b", sharp("CACGTG", 0.85)),
              Motif("c", np.random.default_rng(8).dirichlet(np.full(4, 0.5), size=15))]
    scanner = MotifScanner(motifs)
    scanner.calibrate(codes, p_value=1e-2)
    ref = scanner.occupancy(codes, batch_size=512)
    assert ref.dtype == np.float32 and ref.shape == (200, 3) and ref.sum() > 100
    for b in (1, 7, 64):
        np.testing.assert_array_equal(scanner.occupancy(codes, batch_size=b, device=device), ref)


def test_soft_occupancy_equals_the_dense_sum():
    """soft_occupancy = sum over windows (>= threshold - SOFT_CUT * softness) of
    sigmoid((best-strand score - threshold) / softness), from MotifScanner.scores; a
    site grades by its score, and content() follows the scanner's softness."""
    from prism_cli.motifs.lookup import SOFT_CUT

    codes = random_codes(12, 120, 150)
    codes[0, 20:27] = encode("TGACTCA")
    codes[5, 4:8] = 4                                      # an N run: ineligible windows
    motifs = [Motif("a", sharp("TGACTCA", 0.8)), Motif("b", sharp("CACGTGAC", 0.7)),
              Motif("c", np.random.default_rng(3).dirichlet(np.full(4, 0.5), size=14))]
    scanner = MotifScanner(motifs)
    scanner.calibrate(codes, p_value=1e-2)
    thr = scanner._on_grid(scanner.thresholds)[None, :, None]
    scores = scanner.scores(torch.from_numpy(codes)).numpy().astype(np.float64)
    for softness in (0.5, 2.0):
        z = np.where(np.isfinite(scores), (scores - thr) / softness, -60.0)
        keep = scores >= thr - SOFT_CUT * softness
        ref = np.where(keep, 1.0 / (1.0 + np.exp(-z)), 0.0).sum(2)
        got = scanner.soft_occupancy(codes, softness, batch_size=7)
        assert got.dtype == np.float32 and got.shape == (120, 3)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        assert (got > 0).mean() > 0.5                      # weak matches count a little
    assert scanner.content(codes).sum() == scanner.occupancy(codes).sum()    # softness None
    scanner.softness = 1.0
    np.testing.assert_array_equal(scanner.content(codes), scanner.soft_occupancy(codes, 1.0))
    with pytest.raises(ValueError, match="softness"):
        scanner.soft_occupancy(codes, 0.0)


def test_per_motif_softness_and_windows_follow_the_dense_scores():
    """A softness per motif equals each motif scanned at its own softness; windows()
    lists exactly the best-strand scores within ``below`` bits of each threshold."""
    codes = random_codes(13, 80, 140)
    codes[3, 10:14] = 4
    motifs = [Motif("a", sharp("TGACTCA", 0.8)), Motif("b", sharp("CACGTGAC", 0.7))]
    scanner = MotifScanner(motifs)
    scanner.calibrate(codes, p_value=1e-2)
    both = scanner.soft_occupancy(codes, np.array([0.5, 2.0]))
    np.testing.assert_array_equal(both[:, 0], scanner.soft_occupancy(codes, 0.5)[:, 0])
    np.testing.assert_array_equal(both[:, 1], scanner.soft_occupancy(codes, 2.0)[:, 1])
    with pytest.raises(ValueError, match="softness"):
        scanner.soft_occupancy(codes, np.array([1.0, -1.0]))
    below = np.array([3.0, 6.0])
    seq, motif, score = scanner.windows(codes, below, batch_size=9)
    dense = scanner.scores(torch.from_numpy(codes)).numpy()              # (N, M, L)
    thr = scanner._on_grid(scanner.thresholds)
    want = dense >= (thr - below)[None, :, None]
    assert len(seq) == want.sum() > 0
    np.testing.assert_array_equal(np.sort(seq * 2 + motif),
                                  np.sort(np.nonzero(want)[0] * 2 + np.nonzero(want)[1]))
    np.testing.assert_allclose(np.sort(score), np.sort(dense[want]), atol=1e-6)


def reference_occupancy(scanner: MotifScanner, codes: np.ndarray):
    """Straightforward scan: best-strand integer scores (score / q) by a loop over motif
    positions, -inf where the window runs off the end or holds an N; hits >= threshold;
    greedy selection one hit at a time.  Returns (occupancy (N, M), scores (N, M, L))."""
    n, length = codes.shape
    grid = np.clip(scanner._on_grid(scanner.thresholds), -3e38, 3e38)
    thr = np.ceil(grid.astype(np.float32).astype(np.float64) / scanner.quantum)  # NaN: none
    padded = np.concatenate([codes, np.full((n, 40), 4, np.uint8)], 1).astype(np.int64)
    scores = np.full((n, len(scanner.motifs), length), -np.inf)
    occ = np.zeros((n, len(scanner.motifs)), np.float32)
    for m, lo in enumerate(scanner.log_odds):
        q = np.round(lo / scanner.quantum)                     # (W, 4) integers
        w = len(q)
        best = np.full((n, length), -np.inf)
        for kernel in (q, q[::-1, ::-1]):
            s = np.zeros((n, length))
            bad = np.zeros((n, length), bool)
            for k in range(w):
                c = padded[:, k:k + length]
                bad |= c == 4
                s += np.where(c == 4, 0, kernel[k, np.minimum(c, 3)])
            best = np.maximum(best, np.where(bad, -np.inf, s))
        scores[:, m] = best
        for i in range(n):
            hits = np.flatnonzero(best[i] >= thr[m])
            kept = []
            for j in sorted(hits, key=lambda j: (-best[i, j], j)):
                if all(abs(j - k) >= w for k in kept):
                    kept.append(j)
            occ[i, m] = len(kept)
    return occ, scores


def test_occupancy_equals_a_reference_scan(monkeypatch):
    from prism_cli.motifs import lookup

    rng = np.random.default_rng(15)
    widths = [1, 2, 5, 6, 7, 9, 11, 12, 12, 13, 17, 20, 25, 33] * 3
    motifs = [Motif(f"m{i}", rng.dirichlet(np.full(4, 0.4), size=w))
              for i, w in enumerate(widths)]
    motifs.append(Motif("site", sharp("TTGACGCATC")))
    codes = random_codes(16, 30, 250)
    codes[rng.random(codes.shape) < 0.01] = 4                # scattered Ns
    codes[3, 100:140] = 4                                    # an N run
    codes[4, 200:] = 4                                       # N to the end
    codes[5, :] = np.tile(encode("ACGTTGCA"), 32)[:250]      # low complexity
    codes[6, 20:40] = encode("TTGACGCATCTTGACGCATC")         # adjacent copies
    codes[7, 60:72] = encode("TTGACGCATCAT")
    codes[7, 63:73] = reverse_complement(encode("TTGACGCATC"))  # overlapping strands
    scanner = MotifScanner(motifs)
    thr = scanner.set_pvalue_thresholds(1e-2).copy()
    thr[:4] = [np.inf, -np.inf, np.nan, 1e30]
    ref_occ, ref_scores = reference_occupancy(scanner, codes)
    # the reference scores are the convolution's
    assert np.array_equal(scanner.scores(torch.from_numpy(codes)).double().numpy(),
                          ref_scores * scanner.quantum)
    m = 5                                                    # a threshold hit exactly,
    thr[m] = ref_scores[:, m].max() * scanner.quantum - scanner.quantum / 3  # off-grid
    scanner.thresholds = thr
    ref_occ, _ = reference_occupancy(scanner, codes)
    assert ref_occ[:, 1].sum() > 1000 and ref_occ[:, 0].sum() == ref_occ[:, 2].sum() == 0
    assert ref_occ[:, m].sum() >= 1 and (ref_occ > 1).sum() > 100
    shorter = {length: codes[:, :length].copy() for length in (0, 1, 8, 20)}
    ref_short = {n: reference_occupancy(scanner, c)[0] for n, c in shorter.items()}
    # each group scored by the look-up filter + candidates, or densely: both exact
    for rate, dense in ((1.0, {False}), (0.0, {True})):
        monkeypatch.setattr(lookup, "_FILTER_RATE", rate)
        scanner._tables_cache.clear()
        assert {mask is None for *_, mask, _ in scanner._tables()} == dense
        for batch_size in (512, 7, 1):
            np.testing.assert_array_equal(scanner.occupancy(codes, batch_size=batch_size),
                                          ref_occ)
        for length, short in shorter.items():     # shorter than the motifs, and empty
            np.testing.assert_array_equal(scanner.occupancy(short), ref_short[length])


def test_greedy_non_overlapping_is_the_greedy_selection():
    from prism_cli.motifs.lookup import _greedy_non_overlapping

    rng = np.random.default_rng(17)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        pair = np.sort(rng.integers(0, 3, n))
        pos = rng.choice(60, n, replace=False)
        order = np.lexsort((pos, pair))
        pair, pos = pair[order], pos[order]
        width = np.array([1, 4, 9])[pair]
        score = rng.integers(0, 4, n)                        # many ties
        kept = _greedy_non_overlapping(pair, pos, score, width)
        ref = np.zeros(n, bool)                              # one hit at a time
        for i in sorted(range(n), key=lambda i: (-score[i], pos[i])):
            rivals = np.flatnonzero(ref & (pair == pair[i]))
            ref[i] = (np.abs(pos[rivals] - pos[i]) >= width[i]).all()
        np.testing.assert_array_equal(kept, ref)


def test_scanner_state_round_trip():
    codes = random_codes(9, 60, 150)
    motifs = [Motif("a", sharp("TGACTCA", 0.8), "jaspar"),
              Motif("b", np.random.default_rng(1).dirichlet(np.ones(4), size=10), "discover")]
    scanner = MotifScanner(motifs, background=[0.3, 0.2, 0.2, 0.3], pseudocount=0.01)
    scanner.calibrate(codes, p_value=1e-3)
    scanner.softness = 1.5
    rebuilt = MotifScanner.from_state(json.loads(json.dumps(scanner.state())))
    np.testing.assert_array_equal(rebuilt.thresholds, scanner.thresholds)
    assert rebuilt.softness == 1.5
    np.testing.assert_array_equal(rebuilt.content(codes), scanner.content(codes))
    scanner.softness = np.array([0.7, 1.3])                # per motif (fine-tuned)
    rebuilt = MotifScanner.from_state(json.loads(json.dumps(scanner.state())))
    np.testing.assert_array_equal(rebuilt.softness, scanner.softness)
    np.testing.assert_array_equal(rebuilt.content(codes), scanner.content(codes))
    assert [m.source for m in rebuilt.motifs] == ["jaspar", "discover"]
    np.testing.assert_array_equal(rebuilt.occupancy(codes), scanner.occupancy(codes))
    x = torch.from_numpy(codes)
    assert torch.equal(rebuilt.scores(x), scanner.scores(x))


# ----------------------------------------------------------------------------- JASPAR


def test_jaspar_ctcf_hits_its_site_not_the_shuffle(jaspar):
    from prism_cli.motifs.jaspar import jaspar_release

    assert jaspar_release().startswith("JASPAR")
    ctcf = [m for m in jaspar if m.name.startswith("MA0139.")]
    assert len(ctcf) == 1 and ctcf[0].name.endswith("CTCF") and ctcf[0].source == "jaspar"
    site = encode("CCACCAGGGGGCGC")                       # CTCF core consensus
    codes = random_codes(10, 3, 100)
    codes[0, 40:54] = site
    codes[1, 40:54] = reverse_complement(site)
    codes[2] = dinucleotide_shuffle_codes(codes[:1], seed=0)[0]
    scanner = MotifScanner(ctcf)
    scanner.set_pvalue_thresholds(1e-4)                    # FIMO's default p-value
    np.testing.assert_array_equal(scanner.occupancy(codes)[:, 0], [1, 1, 0])


# ----------------------------------------------------------------------------- compare


def test_tomtom_matches_copies_and_merge_drops_them(jaspar):
    from prism_cli.motifs.compare import merge_redundant, tomtom_table

    rng = np.random.default_rng(11)
    queries = [Motif("A", sharp("TGACGTCATG")), Motif("B", sharp("GGGAATTTCCAC"))]
    copies = [Motif(m.name + "_copy", 0.8 * m.pwm + 0.2 * rng.dirichlet(np.ones(4), m.width))
              for m in queries]
    table = tomtom_table(queries, copies[::-1], background=jaspar)
    assert list(table.columns[:4]) == ["query", "target", "p_value", "q_value"]
    assert list(table["target"]) == ["A_copy", "B_copy"]
    assert (table["q_value"] < 1e-2).all()
    kept = merge_redundant([queries[0], copies[0], queries[1]], background=jaspar)
    assert [m.name for m in kept] == ["A", "B"]
    kept = merge_redundant([queries[0], copies[0], queries[1]], order=[1, 0, 2],
                           background=jaspar)
    assert [m.name for m in kept] == ["A_copy", "B"]


# ----------------------------------------------------------------------------- discovery


def test_discover_finds_a_planted_motif(jaspar):
    from prism_cli.motifs.compare import tomtom_table
    from prism_cli.motifs.discover import discover_motifs

    rng = np.random.default_rng(12)
    planted = Motif("P", sharp("TCAGGTTACGA", 0.9))
    codes = random_codes(13, 200, 150)
    for row in codes:                                     # one instance each, either strand
        inst = (rng.random((11, 1)) > np.cumsum(planted.pwm, 1)).sum(1).astype(np.uint8)
        if rng.random() < 0.5:
            inst = reverse_complement(inst)
        start = rng.integers(0, 150 - 11)
        row[start:start + 11] = inst
    threads = torch.get_num_threads()
    kwargs = dict(n_motifs=4, steps=20, seed=0, max_rounds=2, threads=threads + 1,
                  merge_background=jaspar)
    found = discover_motifs(codes, **kwargs)
    assert found and found[0].name == "D01" and found[0].source == "discover"
    table = tomtom_table([planted], found, background=jaspar)
    assert table["q_value"][0] < 1e-3
    assert max(pwm_correlation(planted.pwm, m.pwm) for m in found) > 0.95
    again = discover_motifs(codes, **kwargs)               # deterministic for a seed
    assert [m.name for m in again] == [m.name for m in found]
    for a, b in zip(again, found):
        np.testing.assert_array_equal(a.pwm, b.pwm)
    assert torch.get_num_threads() == threads              # the caller's setting restored


def test_repeat_mask_covers_repeat_copies_not_motif_instances():
    from prism_cli.motifs.discover.repeats import repeat_mask

    rng = np.random.default_rng(21)
    codes = random_codes(22, 120, 150)
    segment = random_codes(23, 1, 40)[0]
    copies = {}
    for row in range(5):                                  # a repeat family: 5 copies
        start = int(rng.integers(0, 110))
        codes[row, start:start + 40] = segment if row % 2 else reverse_complement(segment)
        copies[row] = start
    pair = random_codes(24, 1, 40)[0]                     # copied twice only: no family
    codes[10, 5:45] = codes[11, 60:100] = pair
    motif = encode("TCAGGTTACG")                          # exact motif, 100 instances
    sites = []
    for row in range(20, 120):
        start = int(rng.integers(0, 140))
        codes[row, start:start + 10] = motif
        sites.append((row, start))
    mask = repeat_mask(codes, k=20, min_elements=3)
    assert not mask[5:20].any()                           # the pair and random sequence
    for row, start in copies.items():                     # a copy, +- a base its
        assert mask[row, start:start + 40].all()          # neighbours share by chance
        assert not mask[row, :max(start - 3, 0)].any() and not mask[row, start + 43:].any()
    assert not any(mask[r, s:s + 10].any() for r, s in sites)
    assert not repeat_mask(codes, k=20, min_elements=6).any()


def test_gapped_seed_reaches_a_motif_with_a_degenerate_position():
    from prism_cli.motifs.discover.pools import _Pool
    from prism_cli.motifs.discover.seeds import _kmer_seeds, _rc_index

    rng = np.random.default_rng(31)
    codes = random_codes(32, 1000, 200)
    for row in codes[:300]:                               # ACG?TAGC, any base at ?
        inst = encode("ACGNTAGC".replace("N", "ACGT"[rng.integers(4)]))
        if rng.random() < 0.5:
            inst = reverse_complement(inst)
        start = int(rng.integers(0, 192))
        row[start:start + 8] = inst
    real = _Pool(codes, "cpu", 8)
    background = _Pool(dinucleotide_shuffle_codes(codes, seed=1), "cpu", 8)
    exact = _kmer_seeds(real, background, 1, 8, np.zeros(4 ** 8, bool), _rc_index(8))
    assert not np.any(np.all(exact[0] == 0.25, axis=1))   # off by default
    seeds = _kmer_seeds(real, background, 1, 8, np.zeros(4 ** 8, bool), _rc_index(8),
                        gapped=True)
    free = np.flatnonzero(np.all(seeds[0] == 0.25, axis=1))
    consensus = "".join("N" if i in free else "ACGT"[b] for i, b in enumerate(seeds[0].argmax(1)))
    assert consensus in ("ACGNTAGC", "GCTANCGT")          # no exact 8-mer holds its sites


def test_rounds_that_mask_repeats_do_not_end_discovery_before_a_motif():
    """Real elements start with rounds of Alu copies: repeat-only rounds before the first
    motif do not count against ``patience`` (they used to: 0 motifs, an error in train)."""
    from prism_cli.motifs.discover import discover_motifs

    rng = np.random.default_rng(5)
    codes = random_codes(6, 600, 200)
    repeat = random_codes(7, 1, 40)[0]                    # one 40-bp family, 400 copies
    for row in codes[:400]:
        start = int(rng.integers(0, 160))
        row[start:start + 40] = repeat
    planted = sharp("TCAGGTTACGA", 0.95)
    for row in codes[200:]:                               # a motif in a third of them
        inst = (rng.random((11, 1)) > np.cumsum(planted, 1)).sum(1).astype(np.uint8)
        start = int(rng.integers(0, 189))
        row[start:start + 11] = inst if rng.random() < 0.5 else reverse_complement(inst)
    found = discover_motifs(codes, steps=10, patience=1, max_rounds=4, threads=1,
                            merge_background=[])
    assert found and max(pwm_correlation(planted, m.pwm) for m in found) > 0.9


def test_discover_finds_nothing_in_shuffled_noise():
    from prism_cli.motifs.discover import discover_motifs

    codes = random_codes(14, 200, 150)
    assert discover_motifs(codes, steps=10, max_rounds=2, threads=1,
                           merge_background=[]) == []
    # gapped seeds try more k-mers: in noise one refines into a 22-bp PWM fitted to its
    # own few dozen sites, which must be taken for a repeat, not reported
    assert discover_motifs(codes, steps=10, max_rounds=2, threads=1, merge_background=[],
                           gapped_seeds=True, repeat_k=20) == []


# ----------------------------------------------------------------------------- logos


def test_plot_logos_writes_png(tmp_path):
    from prism_cli.motifs.logo import plot_logos

    path = tmp_path / "logos.png"
    plot_logos([Motif("A", sharp("TGACGTCA")), Motif("B", sharp("CCAAT"))], path,
               titles=["first", "second"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*"))
