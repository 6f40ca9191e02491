import numpy as np
import pandas as pd
from click.testing import CliRunner

from prism_cli.cli import main


def _random_bed(path, rng, n, chroms, strand=False):
    rows = []
    for i in range(n):
        c = rng.choice(chroms)
        s = int(rng.integers(0, 50_000))
        e = s + int(rng.integers(1, 800))
        row = [c, s, e, f"{path.stem}{i}"]
        if strand:
            row += [0, rng.choice(["+", "-"])]
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, sep="\t", header=False, index=False)
    return rows


def test_candidates_equal_brute_force(tmp_path):
    rng = np.random.default_rng(3)
    enh = _random_bed(tmp_path / "enh.bed", rng, 60, ["chr1", "chr2", "chr10"])
    prom = _random_bed(tmp_path / "prom.bed", rng, 40, ["chr1", "chr2", "chr10"], strand=True)
    D = 7_000
    out = tmp_path / "c.bedpe"
    res = CliRunner().invoke(main, ["candidates", "--enhancers", str(tmp_path / "enh.bed"),
                                    "--promoters", str(tmp_path / "prom.bed"),
                                    "--max-distance", str(D), "-o", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, sep="\t")
    assert got.columns[0] == "#chrom1" and got.columns[-1] == "distance"
    brute = set()
    for c1, s1, e1, n1 in enh:
        for c2, s2, e2, n2, _, strand in prom:
            d = max(abs((s1 + e1) // 2 - (s2 + e2) // 2), 1)
            if c1 == c2 and d <= D:
                brute.add((c1, s1, e1, s2, e2, f"{n1}|{n2}", strand, d))
    mine = {(r["#chrom1"], r.start1, r.end1, r.start2, r.end2, r["name"], r.strand2, r.distance)
            for _, r in got.iterrows()}
    assert len(brute) > 20 and mine == brute and len(got) == len(brute)
    # sorted in natural chromosome order, then by coordinates
    order = {"chr1": 0, "chr2": 1, "chr10": 2}
    keys = list(zip(got["#chrom1"].map(order), got.start1, got.end1, got.start2, got.end2))
    assert keys == sorted(keys)


def test_candidates_refuses_overwrite(tmp_path):
    (tmp_path / "e.bed").write_text("chr1\t0\t10\n")
    (tmp_path / "p.bed").write_text("chr1\t20\t30\n")
    out = tmp_path / "c.bedpe"
    out.write_text("keep me")
    args = ["candidates", "--enhancers", str(tmp_path / "e.bed"), "--promoters",
            str(tmp_path / "p.bed"), "--max-distance", "100", "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0 and "use --force" in res.output and out.read_text() == "keep me"
    assert CliRunner().invoke(main, args + ["--force"]).exit_code == 0
    assert out.read_text().splitlines()[1].split("\t")[-1] == "20"
