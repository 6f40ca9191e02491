"""prism simulate: determinism, file formats, placement, truth and reference scores."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pysam
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from prism_cli.cli import main
from prism_cli.metrics import aupr, auroc
from prism_cli.simulate import references as sim_references
from prism_cli.simulate.references import cross_cell_scores, element_windows, pwm_occupancy
from prism_cli.simulate import (SimConfig, motif_content, reference_scores, sigmoid, simulate,
                                write_world)

TINY = ["--genome-size", "200000", "--n-chroms", "2", "--n-cells", "3", "--n-pairs", "1200",
        "--max-distance", "40000"]
FILES = ["genome.fa", "genome.fa.fai", "enhancers.bed", "promoters.bed", "pairs.bedpe",
         "truth.tsv", "motif_sites.bed", "element_features.tsv", "params.json"]
BEDPE_HEADER = ("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\t"
                "cell\tlabel")


def _run(args):
    return CliRunner().invoke(main, ["simulate", *args])


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "world"
    result = _run(["-o", str(out), "--seed", "3", *TINY])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def tiny_world():
    """The world of world_dir, in memory (do not modify it: dataclasses.replace)."""
    return simulate(SimConfig(seed=3, genome_size=200_000, chroms=2, cells=3, pairs=1200,
                              max_distance=40_000))


def _bed(path, names):
    return pd.read_csv(path, sep="\t", header=None, names=names, comment=None)


ELEMENT_COLS = ["chrom", "start", "end", "name", "score", "strand"]


# ------------------------------------------------------------------------- metrics


def test_metrics_match_sklearn_and_hand_values():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.5, 0.05])
    assert aupr(y, s) == pytest.approx(average_precision_score(y, s))
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    # by hand: positives 0.35, 0.8, 0.9 vs negatives 0.05 0.1 0.2 0.4 0.5
    # 0.35 beats 3 of 5, 0.8 and 0.9 beat all 5 -> 13 / 15
    assert auroc(y, s) == pytest.approx(13 / 15)
    # ranking 1 0 1 0: AP = (1/1 + 2/3) / 2
    assert aupr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # ties count one half


def test_metrics_nan_when_a_class_is_missing():
    assert math.isnan(aupr([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(auroc([1, 1], [0.1, 0.2]))
    assert math.isnan(auroc([], []))
    with pytest.raises(ValueError):
        aupr([0, 1], [0.1])


# ------------------------------------------------------------------------- command


def test_command_writes_every_file_and_prints_table(world_dir):
    for name in FILES:
        assert (world_dir / name).is_file(), name
    params = json.loads((world_dir / "params.json").read_text())
    assert params["recommended_windows"] == {"enhancer_length": 500, "promoter_length": 500}
    assert params["config"]["seed"] == 3 and params["cells"] == ["CELL0", "CELL1", "CELL2"]
    assert len(params["motifs"]) >= 16
    assert all(8 <= len(m["consensus"]) <= 12 for m in params["motifs"])
    result = _run(["-o", str(world_dir.parent / "again"), "--seed", "3", *TINY])
    assert result.exit_code == 0
    for word in ("CELL0", "CELL2", "mean", "oracle", "mean-env", "AUPR", "AUROC",
                 "held-out chr2", "count", "pwm", "dist"):
        assert word in result.output


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert _run(["-o", str(tmp_path / name), "--seed", seed, *TINY]).exit_code == 0
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    for f in ("genome.fa", "pairs.bedpe", "truth.tsv", "enhancers.bed"):
        assert (tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes(), f


def test_refuses_existing_dir_without_force(tmp_path):
    out = tmp_path / "w"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _run(["-o", str(out), *TINY])
    assert result.exit_code != 0 and "exists" in result.output and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    # --force replaces only a world PRISM wrote, never a folder of the user's files
    result = _run(["-o", str(out), "--force", *TINY])
    assert result.exit_code == 1 and "not a folder PRISM wrote" in result.output
    assert (out / "keep.txt").read_text() == "mine" and not (out / "pairs.bedpe").exists()
    (out / "keep.txt").unlink()
    assert _run(["-o", str(out), *TINY]).exit_code == 0  # an empty folder is filled
    result = _run(["-o", str(out), "--force", *TINY])  # a simulated world is replaced
    assert result.exit_code == 0, result.output
    assert (out / "pairs.bedpe").is_file()


@pytest.mark.parametrize("args, message", [
    (["--n-cells", "1"], "--n-cells"),
    (["--genome-size", "1000"], "--genome-size"),
    (["--genome-size", "100000", "--n-chroms", "2", "--n-pairs", "1000000"], "genome too small"),
])
def test_bad_options_fail_cleanly_and_leave_nothing(tmp_path, args, message):
    out = tmp_path / "w"
    result = _run(["-o", str(out), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind either


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    import prism_cli.simulate as sim

    real = sim.write_world

    def broken(world, folder, references=None):
        real(world, folder, references)
        raise OSError("disk full")

    monkeypatch.setattr(sim, "write_world", broken)
    result = _run(["-o", str(tmp_path / "w"), *TINY])
    assert result.exit_code != 0
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------- formats


def test_fasta_parses_with_60_char_lines_and_realistic_content(world_dir):
    params = json.loads((world_dir / "params.json").read_text())
    fa = pysam.FastaFile(str(world_dir / "genome.fa"))
    assert list(fa.references) == ["chr1", "chr2"]
    assert dict(zip(fa.references, fa.lengths)) == params["chromosomes"]
    assert sum(fa.lengths) == 200_000
    lines = (world_dir / "genome.fa").read_text().splitlines()
    seq_lines = [line for line in lines if not line.startswith(">")]
    assert max(len(line) for line in seq_lines) == 60
    text = "".join(fa.fetch(c) for c in fa.references)
    upper = text.upper()
    acgt = sum(upper.count(b) for b in "ACGT")
    assert 0.37 < (upper.count("G") + upper.count("C")) / acgt < 0.45
    lower = sum(text.count(b) for b in "acgt") / len(text)
    assert 0.1 < lower < 0.4                          # soft-masked runs
    assert 0.005 < upper.count("N") / len(text) < 0.06  # N runs
    cpg_oe = upper.count("CG") / (upper.count("C") * upper.count("G") / acgt)
    assert cpg_oe < 0.7                                # CpG depletion


def test_bed_and_bedpe_are_well_formed(world_dir):
    fa = pysam.FastaFile(str(world_dir / "genome.fa"))
    length = dict(zip(fa.references, fa.lengths))
    order = {c: i for i, c in enumerate(fa.references)}
    for name, strands in (("enhancers.bed", {"."}), ("promoters.bed", {"+", "-"})):
        bed = _bed(world_dir / name, ELEMENT_COLS)
        assert set(bed["strand"]) == strands
        assert bed["name"].is_unique
        key = list(zip(bed["chrom"].map(order), bed["start"], bed["end"]))
        assert key == sorted(key)
        assert (bed["start"] >= 0).all() and (bed["end"] <= bed["chrom"].map(length)).all()
    enh = _bed(world_dir / "enhancers.bed", ELEMENT_COLS)
    prom = _bed(world_dir / "promoters.bed", ELEMENT_COLS)
    assert (enh["end"] - enh["start"]).between(200, 1000).all()
    assert (prom["end"] - prom["start"]).between(300, 1000).all()

    lines = (world_dir / "pairs.bedpe").read_text().splitlines()
    assert lines[0] == BEDPE_HEADER
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 12 for r in rows)
    df = pd.read_csv(world_dir / "pairs.bedpe", sep="\t")
    df.columns = BEDPE_HEADER.lstrip("#").split("\t")
    assert len(df) == 1200 and df["name"].is_unique
    assert (df["chrom1"] == df["chrom2"]).all()
    for side in "12":
        assert (df[f"start{side}"] >= 0).all() and (df[f"start{side}"] < df[f"end{side}"]).all()
        assert (df[f"end{side}"] <= df[f"chrom{side}"].map(length)).all()
    key = list(zip(df["chrom1"].map(order), df["start1"], df["end1"], df["start2"],
                   df["end2"], df["cell"]))
    assert key == sorted(key)
    assert set(df["label"]) == {0, 1} and set(df["cell"]) == {"CELL0", "CELL1", "CELL2"}
    assert (df["score"] == ".").all() and (df["strand1"] == ".").all()
    # side 1 is an enhancer, side 2 a promoter with its strand
    assert set(zip(df["chrom1"], df["start1"], df["end1"])) <= set(
        zip(enh["chrom"], enh["start"], enh["end"]))
    prom_strand = {(c, s, e): st for c, s, e, st in
                   zip(prom["chrom"], prom["start"], prom["end"], prom["strand"])}
    assert [prom_strand[k] for k in zip(df["chrom2"], df["start2"], df["end2"])] == list(
        df["strand2"])
    # elements recur across pairs, and a pair appears in several cells
    assert df.groupby(["start1"]).size().median() >= 5
    assert df.groupby(["start2"]).size().median() >= 10
    assert df.groupby(["chrom1", "start1", "start2"]).size().max() >= 2

    truth = pd.read_csv(world_dir / "truth.tsv", sep="\t")
    assert list(truth["name"]) == list(df["name"])
    assert list(truth["cell"]) == list(df["cell"]) and list(truth["label"]) == list(df["label"])


def test_element_features_are_the_true_counts_at_the_bed_coordinates(world_dir):
    params = json.loads((world_dir / "params.json").read_text())
    motifs = [m["name"] for m in params["motifs"]]
    lines = (world_dir / "element_features.tsv").read_text().splitlines()
    assert lines[0] == "\t".join(["#chrom", "start", "end", "name", *motifs])
    table = pd.read_csv(world_dir / "element_features.tsv", sep="\t").rename(
        columns={"#chrom": "chrom"})
    assert all(table[m].dtype.kind == "i" for m in motifs)
    # one row per element, enhancers and promoters, sorted by chromosome then start,
    # at exactly the BED coordinates
    order = {c: i for i, c in enumerate(params["chromosomes"])}
    beds = pd.concat([_bed(world_dir / f, ELEMENT_COLS) for f in ("enhancers.bed",
                                                                   "promoters.bed")])
    beds = beds.assign(o=beds["chrom"].map(order)).sort_values(["o", "start"])
    assert len(table) == params["n_enhancers"] + params["n_promoters"] == len(beds)
    for col in ("chrom", "start", "end", "name"):
        assert list(table[col]) == list(beds[col]), col
    # the counts are those of motif_sites.bed, element by element (zeros included)
    sites = pd.read_csv(world_dir / "motif_sites.bed", sep="\t")
    counts = sites.groupby(["element", "motif"]).size().unstack(fill_value=0)
    expected = counts.reindex(index=table["name"], columns=motifs, fill_value=0).to_numpy()
    assert (table[motifs].to_numpy() == expected).all()
    assert (expected == 0).any() and (expected >= 2).any()


def test_element_windows_are_the_extract_windows(world_dir, tiny_world):
    world = tiny_world
    fa = pysam.FastaFile(str(world_dir / "genome.fa"))
    windows = element_windows(world)
    assert windows.shape == (len(world.elements), 500) and windows.dtype == np.uint8
    for i, r in enumerate(world.elements.itertuples()):
        centre = (r.start + r.end) // 2
        assert "".join("ACGTN"[b] for b in windows[i]) == fa.fetch(
            r.chrom, centre - 250, centre + 250).upper()
    # the true PWMs find the planted instances in those windows
    occupancy = pwm_occupancy(world)
    assert occupancy.shape == world.counts.shape
    corr = [np.corrcoef(occupancy[:, j], world.counts[:, j])[0, 1]
            for j in range(occupancy.shape[1]) if occupancy[:, j].std() > 0]
    assert np.mean(corr) > 0.4


def test_elements_avoid_n_runs_and_each_other(world_dir):
    fa = pysam.FastaFile(str(world_dir / "genome.fa"))
    enh = _bed(world_dir / "enhancers.bed", ELEMENT_COLS)
    prom = _bed(world_dir / "promoters.bed", ELEMENT_COLS)
    elements = pd.concat([enh, prom]).sort_values(["chrom", "start"])
    for r in elements.itertuples():
        centre = (r.start + r.end) // 2
        window = fa.fetch(r.chrom, centre - 250, centre + 250)  # the extract window
        assert len(window) == 500 and "N" not in window.upper()
    for _, group in elements.groupby("chrom"):
        assert (group["start"].to_numpy()[1:] >= group["end"].to_numpy()[:-1] + 300).all()
    params = json.loads((world_dir / "params.json").read_text())
    assert params["n_runs"]  # the genome has N runs, and elements keep clear of them
    for chrom, s, e in params["n_runs"]:
        assert set(fa.fetch(chrom, s, e)) == {"N"}


def test_motifs_lie_in_the_central_400_bp(world_dir):
    fa = pysam.FastaFile(str(world_dir / "genome.fa"))
    params = json.loads((world_dir / "params.json").read_text())
    pwm = {m["name"]: np.array(m["pwm"]) for m in params["motifs"]}
    sites = pd.read_csv(world_dir / "motif_sites.bed", sep="\t").rename(
        columns={"#chrom": "chrom"})
    elements = pd.concat([_bed(world_dir / f, ELEMENT_COLS)
                          for f in ("enhancers.bed", "promoters.bed")]).set_index("name")
    assert len(sites) > 2 * len(elements)
    assert set(sites["strand"]) == {"+", "-"}
    el = elements.loc[sites["element"]]
    centre = ((el["start"] + el["end"]) // 2).to_numpy()
    core = np.minimum(400, (el["end"] - el["start"]).to_numpy())
    assert (sites["start"].to_numpy() >= centre - core // 2).all()
    assert (sites["end"].to_numpy() <= centre - core // 2 + core).all()
    assert (sites["start"].to_numpy() >= el["start"].to_numpy()).all()
    assert (sites["end"].to_numpy() <= el["end"].to_numpy()).all()
    comp = str.maketrans("ACGT", "TGCA")

    def score(motif, seq):  # log-likelihood ratio vs uniform, as a share of the best
        m = pwm[motif]
        return sum(np.log(m[i, "ACGT".index(b)] / 0.25) for i, b in enumerate(seq)) / np.log(
            m.max(1) / 0.25).sum()

    right, wrong = [], []
    for r in sites.itertuples():
        seq = fa.fetch(r.chrom, r.start, r.end).upper()
        assert seq == r.sequence
        rc = seq.translate(comp)[::-1]
        right.append(score(r.motif, seq if r.strand == "+" else rc))
        wrong.append(score(r.motif, rc if r.strand == "+" else seq))
    # instances are PWM samples: most score near the consensus on their own strand only
    assert np.median(right) > 0.6 and np.mean(np.array(right) > 0.3) > 0.85
    assert np.mean(np.array(wrong) > 0.3) < 0.1


# ------------------------------------------------------------------------- truth


def test_truth_follows_the_energy_model(world_dir):
    """Recompute U, R and p from params.json and motif_sites.bed: the documented formula."""
    params = json.loads((world_dir / "params.json").read_text())
    t = params["truth"]
    truth = pd.read_csv(world_dir / "truth.tsv", sep="\t")
    assert np.allclose(truth["p"], sigmoid((truth["U"] - truth["R"]) / t["temperature"]),
                       atol=1e-7)
    assert (truth["R"] >= 0).all()

    sites = pd.read_csv(world_dir / "motif_sites.bed", sep="\t")
    counts = sites.groupby(["element", "motif"]).size().unstack(fill_value=0)

    def content(names, motifs):
        return np.log1p(counts.reindex(index=names, columns=motifs, fill_value=0).to_numpy(float))

    m_e = content(truth["enhancer"], t["compat_motifs"])
    m_p = content(truth["promoter"], t["compat_motifs"])
    W = np.array(t["W"])
    U = (t["U_bias"] + np.einsum("ni,ij,nj->n", m_e, W, m_p)
         - t["distance_slope"] * np.log10(truth["distance"].to_numpy()))
    assert np.allclose(U, truth["U"], atol=1e-4)
    f_env = np.concatenate([content(truth["enhancer"], t["env_motifs"]),
                            content(truth["promoter"], t["env_motifs"])], 1)
    cell = truth["cell"].map({c: i for i, c in enumerate(params["cells"])}).to_numpy()
    act, bias = np.array(t["cell_activity"]), np.array(t["cell_bias"])
    pre = f_env @ act.T + bias  # (rows, cells)
    R_all = np.logaddexp(0, pre)
    assert np.allclose(R_all[np.arange(len(cell)), cell], truth["R"], atol=1e-4)
    other = (R_all.sum(1) - R_all[np.arange(len(cell)), cell]) / (len(params["cells"]) - 1)
    assert np.allclose(other, truth["R_mean_other"], atol=1e-4)
    # distance is the gap between element centres
    bedpe = pd.read_csv(world_dir / "pairs.bedpe", sep="\t")
    d = (bedpe["start1"] + bedpe["end1"]) // 2 - (bedpe["start2"] + bedpe["end2"]) // 2
    assert (d.abs().to_numpy() == truth["distance"].to_numpy()).all()
    assert truth["distance"].between(1000, 40000).all()


def test_references_ordered_on_a_default_like_world():
    cfg = SimConfig(seed=0, genome_size=600_000, chroms=3, pairs=4000, max_distance=60_000)
    world = simulate(cfg)
    refs = pd.DataFrame(reference_scores(world))
    cells, mean = refs[refs["cell"] != "mean"], refs[refs["cell"] == "mean"].iloc[0]
    assert len(cells) == 6 and cells["pairs"].sum() == 4000
    assert cells["prevalence"].between(0.1, 0.4).all()
    assert (cells["oracle_aupr"] > cells["mean_env_aupr"]).all()
    assert (cells["mean_env_aupr"] > cells["prevalence"] + 0.1).all()
    assert mean["oracle_aupr"] > mean["mean_env_aupr"] + 0.05
    assert mean["mean_env_aupr"] > mean["U_aupr"]
    assert mean["oracle_auroc"] > 0.85
    # cross-cell references on the held-out last chromosome
    last = world.elements["chrom_idx"].to_numpy()[
        world.candidates["enh"].to_numpy()[world.rows["cand"].to_numpy()]] == 2
    y, cell = world.rows["label"].to_numpy(), world.rows["cell"].to_numpy()
    assert (cells["test_chrom"] == "chr3").all()
    assert list(cells["test_pairs"]) == [int((last & (cell == c)).sum()) for c in range(6)]
    for c in range(6):
        sel = last & (cell == c)
        assert cells["test_prevalence"].iloc[c] == pytest.approx(y[sel].mean())
        assert cells["oracle_test_aupr"].iloc[c] == pytest.approx(
            aupr(y[sel], world.U[world.rows["cand"].to_numpy()[sel]]
                 - world.R[world.rows["cand"].to_numpy()[sel], c]))
    assert (cells["count_lr_aupr"] > cells["test_prevalence"] + 0.1).all()
    assert mean["count_lr_aupr"] > mean["test_prevalence"] + 0.2
    assert mean["count_lr_aupr"] > mean["distance_test_aupr"] + 0.1
    assert mean["oracle_test_aupr"] > mean["count_lr_aupr"]
    for key in ("count_lr", "pwm_lr", "oracle_test", "distance_test"):
        for metric in ("aupr", "auroc"):
            assert refs[f"{key}_{metric}"].between(0, 1).all(), key
    # with the true counts as "scan", pwm_lr is the very same regression as count_lr
    same = pd.DataFrame(sim_references.reference_scores(world, occupancy=world.counts))
    assert np.allclose(same["pwm_lr_aupr"], same["count_lr_aupr"])
    assert np.allclose(same["count_lr_aupr"], refs["count_lr_aupr"])


def test_cross_cell_scores_never_see_the_cell_or_the_test_chromosome(tiny_world):
    world = tiny_world
    content = motif_content(world.counts)
    before = cross_cell_scores(world, content)
    rows = world.rows
    last = world.elements["chrom_idx"].to_numpy()[
        world.candidates["enh"].to_numpy()[rows["cand"].to_numpy()]] == 1
    assert [len(before[c]) for c in range(3)] == [
        int((last & (rows["cell"] == c)).sum()) for c in range(3)]
    # flip every label of CELL1 and every label on the test chromosome: CELL1's scores stay
    def flipped(where):
        label = np.where(where, 1 - rows["label"], rows["label"])
        return dataclasses.replace(world, rows=rows.assign(label=label))

    after = cross_cell_scores(flipped((rows["cell"] == 1).to_numpy() | last), content)
    assert np.array_equal(after[1], before[1])
    # ...while labels of the other cells off the test chromosome do move them
    moved = cross_cell_scores(flipped((rows["cell"] == 0).to_numpy() & ~last), content)
    assert not np.allclose(moved[1], before[1])


def test_write_world_records_references(tmp_path):
    world = simulate(SimConfig(seed=1, genome_size=150_000, chroms=1, cells=2, pairs=300,
                               max_distance=30_000))
    write_world(world, tmp_path)
    params = json.loads((tmp_path / "params.json").read_text())
    refs = params["references"]
    assert [r["cell"] for r in refs] == ["CELL0", "CELL1", "mean"]
    # one chromosome: no held-out chromosome, so no cross-cell reference, and a note
    assert not any(k.startswith(("count_lr", "pwm_lr", "test_")) for r in refs for k in r)
    assert "one chromosome" in params["reference_notes"]["cross_cell"]
    result = _run(["-o", str(tmp_path / "cli"), "--seed", "1", "--genome-size", "150000",
                   "--n-chroms", "1", "--n-cells", "2", "--n-pairs", "300", "--max-distance", "30000"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "fitted on the other cells" not in result.output
    assert sum(r["pairs"] for r in refs[:2]) == params["n_pairs"] == 300
    truth = pd.read_csv(tmp_path / "truth.tsv", sep="\t")
    sel = truth["cell"] == "CELL1"
    assert refs[1]["oracle_aupr"] == pytest.approx(aupr(truth["label"][sel], truth["p"][sel]),
                                                   abs=1e-6)
