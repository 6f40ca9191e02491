"""Scored BEDPE writer/reader: order, exact floats, bedtools compatibility, interact."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from prism_cli.errors import PrismInputError
from prism_cli.io.scored import (INTERACT_COLUMNS, SCORED_COLUMNS, read_scored_bedpe,
                                 write_scored_bedpe)

NATURAL = ["chr1", "chr2", "chr10", "chrX"]


def scored_pairs(n=40, seed=0, inter_chrom=False):
    """Unsorted scored pairs with ties, float32 U_I, a missing R and passthrough columns."""
    rng = np.random.default_rng(seed)
    chrom = rng.choice(["chrX", "chr10", "chr2", "chr1"], n)
    start1 = rng.integers(0, 50, n) * 100  # few values: many ties
    df = pd.DataFrame({
        "chrom1": chrom, "start1": start1, "end1": start1 + 200,
        "chrom2": chrom, "start2": start1 + 5000, "end2": start1 + 5200,
        "name": [f"p{i}" for i in range(n)], "score": 0, "strand1": ".", "strand2": "+",
        "prob": rng.random(n), "U_I": rng.normal(size=n).astype(np.float32),
        "R": rng.random(n) * 3, "cell": rng.choice(["GM12878", "K562"], n),
        "label": rng.integers(0, 2, n), "extra": rng.choice(["a", "b c"], n),
    })
    df.loc[0, "start1"], df.loc[0, "end1"] = df.loc[1, "start1"], df.loc[1, "end1"]
    df.loc[[0, 1], ["chrom1", "chrom2", "start2", "end2"]] = ["chr2", "chr2", 9000, 9200]
    df.loc[3, "R"] = np.nan
    df.loc[4, "prob"], df.loc[5, "prob"] = 0.0, 1.0
    df.loc[6, "prob"] = 0.0025  # 1000 * p = 2.5: round half to even -> 2
    if inter_chrom:
        df.loc[7, "chrom2"] = "chr1" if df.loc[7, "chrom1"] != "chr1" else "chr2"
    return df


def data_lines(path):
    return [ln.rstrip("\n").split("\t") for ln in open(path) if not ln.startswith("#")]


def test_layout_order_and_scores(tmp_path):
    df = scored_pairs()
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(df, out)
    lines = open(out).read().splitlines()
    assert lines[0] == "#" + "\t".join(SCORED_COLUMNS + ["label", "extra"])
    assert sum(ln.startswith("#") for ln in lines) == 1
    rows = data_lines(out)
    assert len(rows) == len(df) and {len(r) for r in rows} == {16}
    keys = [(NATURAL.index(r[0]), int(r[1]), int(r[2]), NATURAL.index(r[3]), int(r[4]),
             int(r[5])) for r in rows]
    assert keys == sorted(keys)
    # stable: the two identical coordinate keys keep their input order (p0 before p1)
    names = [r[6] for r in rows]
    assert names.index("p0") + 1 == names.index("p1")
    for r in rows:
        prob = float(r[10])
        assert int(r[7]) == round(1000 * prob) and 0 <= int(r[7]) <= 1000
    by_name = {r[6]: r for r in rows}
    assert by_name["p4"][7] == "0" and by_name["p5"][7] == "1000" and by_name["p6"][7] == "2"
    assert by_name["p3"][12] == "."  # missing R


def test_round_trip_exact(tmp_path):
    df = scored_pairs()
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(df, out)
    back = read_scored_bedpe(out)
    assert list(back.columns) == SCORED_COLUMNS + ["label", "extra"]
    expect = df.set_index("name").loc[back["name"]]
    for col in ("prob", "R"):
        np.testing.assert_array_equal(back[col].to_numpy(), expect[col].to_numpy())
    # float32 U_I is written as its exact float64 value
    np.testing.assert_array_equal(back["U_I"].to_numpy(),
                                  expect["U_I"].to_numpy().astype(np.float64))
    assert (back["label"].to_numpy() == expect["label"].to_numpy()).all()
    assert (back["extra"].to_numpy() == expect["extra"].to_numpy()).all()
    assert back["strand1"].isna().all() and (back["strand2"] == "+").all()
    assert back["chrom1"].dtype == object or str(back["chrom1"].dtype) in ("str", "string")
    assert back.attrs["first_data_line"] == 2


def test_chunks_give_the_same_file(tmp_path):
    df = scored_pairs(n=60, seed=3)
    chunks = [df.iloc[40:], df.iloc[:15], df.iloc[15:40]]  # any order
    # ties keep the order in which rows were given: chunk by chunk
    write_scored_bedpe(pd.concat(chunks), tmp_path / "one.bedpe",
                       interact_path=tmp_path / "one.int")
    write_scored_bedpe(iter(chunks), tmp_path / "many.bedpe", interact_path=tmp_path / "many.int")
    assert (tmp_path / "one.bedpe").read_bytes() == (tmp_path / "many.bedpe").read_bytes()
    one = (tmp_path / "one.int").read_text().splitlines()[1:]
    many = (tmp_path / "many.int").read_text().splitlines()[1:]
    assert one == many
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def body(path):
    return path.read_text().splitlines()[1:]


def test_many_chunks_of_one_chromosome_merge_stably(tmp_path):
    df = scored_pairs(n=50, seed=4)
    write_scored_bedpe(df, tmp_path / "one.bedpe", interact_path=tmp_path / "one.int")
    # 10 runs: every chromosome spans several of them and is merged by its keys
    write_scored_bedpe((df.iloc[i:i + 5] for i in range(0, 50, 5)), tmp_path / "many.bedpe",
                       interact_path=tmp_path / "many.int")
    assert (tmp_path / "one.bedpe").read_bytes() == (tmp_path / "many.bedpe").read_bytes()
    # (the track line names the file)
    assert body(tmp_path / "one.int") == body(tmp_path / "many.int")
    # chunks of whole chromosomes: each is copied from its run, same file
    by_chrom = (g for _, g in df.groupby("chrom1", sort=False))
    write_scored_bedpe(by_chrom, tmp_path / "chroms.bedpe")
    assert (tmp_path / "one.bedpe").read_bytes() == (tmp_path / "chroms.bedpe").read_bytes()


def test_parts_of_several_processes_combine(tmp_path):
    from prism_cli.io.scored import ScoredParts

    df = scored_pairs(n=60, seed=5, inter_chrom=True)
    write_scored_bedpe(df, tmp_path / "one.bedpe", interact_path=tmp_path / "one.int")
    states = []
    for r, rows in enumerate([df.iloc[:20], df.iloc[20:35], df.iloc[35:]]):
        (tmp_path / f"r{r}").mkdir()
        parts = ScoredParts.spill([rows.iloc[:7], rows.iloc[7:]], tmp_path / f"r{r}",
                                  interact=True)
        states.append(json.loads(json.dumps(parts.state())))  # as a rank would pass it on
    write_scored_bedpe(ScoredParts.combine(states), tmp_path / "merged.bedpe",
                       interact_path=tmp_path / "merged.int")
    assert (tmp_path / "one.bedpe").read_bytes() == (tmp_path / "merged.bedpe").read_bytes()
    assert body(tmp_path / "one.int") == body(tmp_path / "merged.int")


def test_refuses_overwrite_without_force(tmp_path):
    df = scored_pairs()
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(df, out)
    before = out.read_bytes()
    with pytest.raises(PrismInputError, match="--force"):
        write_scored_bedpe(df.assign(prob=0.5), out)
    assert out.read_bytes() == before
    write_scored_bedpe(df.assign(prob=0.5), out, force=True)
    assert {r[7] for r in data_lines(out)} == {"500"}
    # an existing sidecar or interact file alone also blocks the write
    other = tmp_path / "t.bedpe"
    (tmp_path / "t.bedpe.json").write_text("{}")
    with pytest.raises(PrismInputError):
        write_scored_bedpe(df, other)
    assert not other.exists()


def test_sidecar(tmp_path):
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(scored_pairs(), out, sidecar={"thresholds": {"K562": 0.4}, "model": "m"})
    meta = json.loads((tmp_path / "s.bedpe.json").read_text())
    assert meta["thresholds"] == {"K562": 0.4} and meta["model"] == "m"
    assert meta["rows"] == 40 and meta["columns"][-2:] == ["label", "extra"]
    assert meta["format"] == "prism-scored-bedpe" and "prism_version" in meta and meta["date"]


def test_bad_probability_and_missing_column(tmp_path):
    df = scored_pairs()
    with pytest.raises(ValueError, match="prob"):
        write_scored_bedpe(df.assign(prob=df["prob"] + 1), tmp_path / "a.bedpe")
    with pytest.raises(ValueError, match="prob"):
        write_scored_bedpe(df.drop(columns="prob"), tmp_path / "b.bedpe")
    assert not list(tmp_path.iterdir())


def test_empty_frame_round_trips(tmp_path):
    out = tmp_path / "e.bedpe"
    write_scored_bedpe(scored_pairs().iloc[:0], out)
    assert out.read_text().count("\n") == 1
    back = read_scored_bedpe(out)
    assert len(back) == 0 and list(back.columns)[:14] == SCORED_COLUMNS


def test_reader_errors(tmp_path):
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(scored_pairs(n=10), out)
    lines = out.read_text().splitlines()
    lines[3] += "\textra"
    bad = tmp_path / "bad.bedpe"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(PrismInputError, match=r"bad\.bedpe:4: 17 fields"):
        read_scored_bedpe(bad)
    nohead = tmp_path / "nohead.bedpe"
    nohead.write_text("\n".join(lines[1:3]) + "\n")
    with pytest.raises(PrismInputError, match="header"):
        read_scored_bedpe(nohead)
    with pytest.raises(PrismInputError, match="no such file"):
        read_scored_bedpe(tmp_path / "missing.bedpe")


@pytest.mark.skipif(shutil.which("bedtools") is None, reason="bedtools not installed")
def test_bedtools_reads_output(tmp_path):
    df = scored_pairs()
    out = tmp_path / "s.bedpe"
    write_scored_bedpe(df, out)
    res = subprocess.run(["bedtools", "pairtopair", "-a", str(out), "-b", str(out),
                          "-type", "both"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    hits = [ln.split("\t") for ln in res.stdout.splitlines()]
    # every pair overlaps at least itself; each hit carries both full 16-column records
    assert len(hits) >= len(df) and {len(h) for h in hits} == {32}
    assert {h[6] for h in hits} == set(df["name"])
    enh = tmp_path / "e.bed"
    enh.write_text("chr2\t0\t100000\n")
    res = subprocess.run(["bedtools", "pairtobed", "-a", str(out), "-b", str(enh),
                          "-type", "both"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    hits = [ln.split("\t") for ln in res.stdout.splitlines()]
    assert {len(h) for h in hits} == {16 + 3}  # (bedtools reports a hit once per end)
    assert {h[6] for h in hits} == set(df.loc[df["chrom1"] == "chr2", "name"])


def test_interact_file(tmp_path):
    df = scored_pairs(inter_chrom=True)
    out, inter = tmp_path / "s.bedpe", tmp_path / "s.interact"
    write_scored_bedpe(df, out, interact_path=inter)
    lines = inter.read_text().splitlines()
    assert lines[0].startswith("track type=interact ")
    rows = [ln.split("\t") for ln in lines[1:]]
    assert {len(r) for r in rows} == {18} == {len(INTERACT_COLUMNS)}
    assert len(rows) == len(df) + 1  # the inter-chromosomal pair has two records
    keys = [(r[0].encode(), int(r[1]), int(r[2])) for r in rows]
    assert keys == sorted(keys)  # `LC_ALL=C sort -k1,1 -k2,2n` order for bedToBigBed
    pairs = df.set_index("name")
    for r in rows:
        assert int(r[1]) <= int(r[2]) and 0 <= int(r[4]) <= 1000
        src_name = pairs.index[(pairs["start1"] == int(r[9])) & (pairs["chrom1"] == r[8])
                               & (pairs["start2"] == int(r[14])) & (pairs["prob"] == float(r[5]))]
        p = pairs.loc[src_name[0]]
        assert int(r[4]) == round(1000 * p["prob"]) and r[6] == p["cell"]
        if r[8] == r[13]:  # same chromosome: the record spans both anchors
            assert int(r[1]) == min(p["start1"], p["start2"])
            assert int(r[2]) == max(p["end1"], p["end2"])
        else:  # inter-chromosomal: each record covers its own anchor
            assert (r[0], int(r[1])) in {(r[8], int(r[9])), (r[13], int(r[14]))}


# --------------------------------------------------------------------------- the text of values
# The writer builds its text with numpy (io/scored/text.py); these compare it with the
# plainest Python formatting: repr for floats, str for ints, '.' for missing.

def reference_value(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "."
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v) or "."


def reference_rows(df: pd.DataFrame) -> bytes:
    cols = [[reference_value(v) for v in df[c].tolist()] for c in df.columns]
    return "".join("\t".join(r) + "\n" for r in zip(*cols)).encode()


def float32_values(rng, n):
    """float32 values as float64: probabilities, normals, every magnitude, raw bit patterns,
    short decimals, powers of two and ten and their neighbours; inf, -0.0, ..."""
    with np.errstate(all="ignore"):
        bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
        base = np.concatenate([np.ldexp(1.0, np.arange(-40, 70)), 10.0 ** np.arange(-12, 20)])
        base = base.astype(np.float32)
        near = np.concatenate([np.nextafter(base, np.float32(np.inf)), base,
                               np.nextafter(base, np.float32(0))])
        parts = [rng.random(n), rng.normal(size=n), rng.random(n) * 3,
                 np.sign(rng.normal(size=n)) * 2.0 ** rng.uniform(-25, 60, n),
                 bits[np.isfinite(bits)],
                 rng.integers(1, 10**6, n) / 10.0 ** rng.integers(0, 12, n),
                 near, -near, [0.0, -0.0, 1.0, -1.0, 0.5, 1e-5, 1e-6, np.inf, -np.inf, 1e-45]]
        return np.concatenate([np.asarray(p, dtype=np.float64).astype(np.float32)
                               for p in parts]).astype(np.float64)


def test_floats_are_written_as_repr():
    from prism_cli.io.text import float_planes

    rng = np.random.default_rng(11)
    v = float32_values(rng, 20_000)
    v = np.concatenate([v, rng.normal(size=2000), [1e300, 5e-324, 2.0**53, 2.0**53 + 2]])
    missing = rng.random(len(v)) < 0.05
    planes = float_planes(v, missing)
    got = [bytes(col[col != 0]).decode() for col in planes.T]
    want = ["." if m else repr(x) for x, m in zip(v.tolist(), missing)]
    assert got == want
    for part in (v[:1], v[-4:], np.array([0.5, 1e-300]), np.array([]), np.full(300, 0.25)):
        planes = float_planes(part, np.zeros(len(part), dtype=bool))
        assert [bytes(c[c != 0]).decode() for c in planes.T] == list(map(repr, part.tolist()))


def mixed_frame(n, seed):
    """Columns of every kind the writer meets: ints, bools, nullable ints, floats of each
    width with missing values, text with empty/missing/non-ASCII values, mixed objects."""
    rng = np.random.default_rng(seed)
    f64 = rng.normal(size=n)
    f64[rng.random(n) < 0.1] = np.nan
    text = rng.choice(["a", "bb", "", "é", "long value with spaces"], n).astype(object)
    text[rng.random(n) < 0.1] = None
    label = rng.integers(0, 2, n).astype(object)
    label[rng.random(n) < 0.3] = "."
    return pd.DataFrame({
        "i64": rng.integers(-10**12, 10**12, n), "u8": rng.integers(0, 255, n).astype(np.uint8),
        "flag": rng.random(n) < 0.5,
        "nullable": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)),
                             dtype="Int64"),
        "f32": float32_values(rng, n)[rng.permutation(n)].astype(np.float32),
        "f64": f64, "strand": rng.choice(["+", "-", "."], n),
        "text": text, "str": pd.array(rng.choice(["x", "yy", ""], n), dtype="str"),
        "label": label, "mixed": rng.choice(np.array([1, 2.5, "s"], dtype=object), n),
        "cat": pd.Categorical(rng.choice(["p", "q"], n)),
        "sub": pd.array([Shout(v) for v in rng.choice(["a", "b"], n)], dtype="str"),
    })


class Shout(str):
    """A str that prints otherwise: written as str() gives, as ever."""

    def __str__(self):
        return self.upper()


def test_rows_text_matches_python_formatting():
    from prism_cli.io.scored.layout import (_coded_columns, _format_column, _join_rows,
                                            _rows_bytes)

    for n, seed in [(3000, 0), (50, 1), (1, 2)]:
        df = mixed_frame(n, seed)
        want = reference_rows(df)
        assert _join_rows([_format_column(df[c]) for c in df.columns]).encode() == want
        assert _rows_bytes(df) == want
        coded = _coded_columns(df)  # (factorized once per chunk, as ScoredParts does)
        assert n < 64 or {"strand", "label"} <= set(coded)
        assert _rows_bytes(df, coded) == want
        rows = np.random.default_rng(seed).permutation(n)
        assert _rows_bytes(df.iloc[rows], {c: (k[rows], u) for c, (k, u) in coded.items()}) \
            == reference_rows(df.iloc[rows])


def reference_file(df: pd.DataFrame) -> bytes:
    """The scored BEDPE body by hand: columns in PRISM's order, score = rint(1000 p),
    rows sorted stably by natural chromosome order and coordinates."""
    from prism_cli.io.scored import chrom_sort_key

    out = df.copy()
    out["score"] = np.rint(out["prob"] * 1000).astype(np.int64)
    out = out[SCORED_COLUMNS + [c for c in df.columns if c not in SCORED_COLUMNS]]
    key = [(chrom_sort_key(r.chrom1), r.chrom1, r.start1, r.end1, chrom_sort_key(r.chrom2),
            r.chrom2, r.start2, r.end2) for r in out.itertuples()]
    order = sorted(range(len(out)), key=key.__getitem__)
    return reference_rows(out.iloc[order])


def test_written_file_matches_reference(tmp_path):
    rng = np.random.default_rng(8)
    n = 4000
    df = scored_pairs(n=n, seed=8, inter_chrom=True)
    df["U_I"] = float32_values(rng, n)[rng.permutation(n)].astype(np.float32)
    df["R"] = rng.random(n).astype(np.float32).astype(np.float64)
    df["prob"] = rng.random(n).astype(np.float32).astype(np.float64)
    df.loc[df.index[:40], "R"] = np.nan
    df["label"] = np.where(rng.random(n) < 0.3, ".", rng.integers(0, 2, n)).astype(object)
    df["label"] = [int(v) if v != "." else v for v in df["label"]]
    df["chrom1"] = df["chrom1"].astype("str")
    want = reference_file(df)
    write_scored_bedpe(df, tmp_path / "one.bedpe")
    write_scored_bedpe((df.iloc[i:i + 700] for i in range(0, n, 700)), tmp_path / "many.bedpe")
    for name in ("one.bedpe", "many.bedpe"):
        assert (tmp_path / name).read_bytes().split(b"\n", 1)[1] == want


def test_values_that_cannot_be_written(tmp_path):
    df = scored_pairs(n=100)
    for bad in ("a\tb", "a\nb", "a\rb"):
        with pytest.raises(ValueError, match="tab or newline"):
            write_scored_bedpe(df.assign(extra=bad), tmp_path / "bad.bedpe")
    # a NUL byte is written as it is, as by the Python formatting
    write_scored_bedpe(df.assign(extra="a\x00b"), tmp_path / "nul.bedpe")
    assert {r[-1] for r in data_lines(tmp_path / "nul.bedpe")} == {"a\x00b"}
    with pytest.raises(UnicodeEncodeError):
        write_scored_bedpe(iter([df.assign(extra="\udc80")]), tmp_path / "sur.bedpe")


def test_runs_that_follow_or_interleave_merge_alike(tmp_path):
    df = scored_pairs(n=300, seed=9)
    df = df.iloc[np.lexsort([df["start1"], df["chrom1"].map(NATURAL.index)])]
    write_scored_bedpe(df, tmp_path / "one.bedpe")
    # sorted input cut in order: each chromosome's runs follow one another (copied)
    write_scored_bedpe((df.iloc[i:i + 70] for i in range(0, 300, 70)), tmp_path / "in.bedpe")
    # every other row: the runs of a chromosome interleave (merged line by line)
    write_scored_bedpe(iter([df.iloc[0::2], df.iloc[1::2]]), tmp_path / "inter.bedpe")
    one = (tmp_path / "one.bedpe").read_bytes()
    assert (tmp_path / "in.bedpe").read_bytes() == one
    assert sorted((tmp_path / "inter.bedpe").read_bytes().splitlines()) == sorted(one.splitlines())
