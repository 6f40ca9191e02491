import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prism_cli.cli import main
from prism_cli.dataset import PairDataset
from prism_cli.encode import decode
from prism_cli.extract import WindowSpec, extract
from prism_cli.pair_table import tsv_bytes
from prism_cli.io.fasta import Genome

from .conftest import CHR1, CHR2
from .test_io import BEDPE5

SEQ = {"chr1": CHR1.upper(), "chr2": CHR2.upper()}


def _expected(chrom, ws, L):
    seq = SEQ[chrom]
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(ws, ws + L))


def _run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("anchor", ["center", "start", "end", "five_prime"])
def test_extract_windows_match_fasta(tmp_path, tiny_fasta, anchor):
    (tmp_path / "x.bedpe").write_text(BEDPE5)
    out = tmp_path / "ds"
    res = _run(["extract", "-g", str(tiny_fasta), "-p", str(tmp_path / "x.bedpe"), "-o",
                str(out), "--enhancer-length", "16", "--promoter-length", "24",
                "--enhancer-anchor", anchor, "--promoter-anchor", anchor])
    assert res.exit_code == 0, res.output
    ds = PairDataset(out)
    assert ds.enhancers.shape == (5, 16) and ds.promoters.shape == (5, 24)
    spec_e, spec_p = WindowSpec(16, anchor), WindowSpec(24, anchor)
    outside = 0
    for _, r in ds.pairs.iterrows():
        ws = int(spec_e.starts([r.start1], [r.end1], [r.strand1])[0])
        assert decode(ds.enhancers[r.enh_idx]) == _expected(r.chrom1, ws, 16)
        wp = int(spec_p.starts([r.start2], [r.end2], [r.strand2])[0])
        assert decode(ds.promoters[r.prom_idx]) == _expected(r.chrom2, wp, 24)
        outside += max(0, -wp) + max(0, wp + 24 - len(SEQ[r.chrom2]))
    assert ds.manifest["n_outside"] >= outside
    assert ds.pairs["label"].tolist() == [1, 0, 1, 0, -1]
    assert ds.pairs["cell"].tolist() == ["A", "A", "B", "B", "B"]
    of_a = ds.pairs[ds.pairs["cell"] == "A"]
    windows = ([decode(ds.enhancers[i]) for i in of_a["enh_idx"].unique()]
               + [decode(ds.promoters[i]) for i in of_a["prom_idx"].unique()])
    n_fraction = sum(w.count("N") for w in windows) / sum(len(w) for w in windows)
    assert ds.manifest["cells"]["A"] == {"pairs": 2, "positives": 1, "labelled": 2,
                                         "enhancers": 2, "promoters": 2,
                                         "n_fraction": pytest.approx(n_fraction)}


def test_windows_past_chromosome_end_counted(tmp_path, tiny_fasta):
    (tmp_path / "x.bedpe").write_text("chr2\t0\t4\tchr2\t240\t250\n")
    out = tmp_path / "ds"
    assert _run(["extract", "-g", str(tiny_fasta), "-p", str(tmp_path / "x.bedpe"), "-o",
                 str(out), "--enhancer-length", "10", "--promoter-length", "30"]).exit_code == 0
    ds = PairDataset(out)
    assert decode(ds.enhancers[0]) == "NNN" + CHR2[:7]  # centre 2, window starts at -3
    assert decode(ds.promoters[0]) == CHR2[230:250] + "N" * 10  # window 230-260
    table = ds.enhancer_table()
    assert table["n_outside"].tolist() == [3] and ds.manifest["n_outside"] == 3 + 10
    assert ds.pairs["label"].tolist() == [-1] and ds.pairs["cell"].tolist() == ["."]


def test_unique_elements_once_and_chunking_invariant(tmp_path, tiny_fasta):
    rng = np.random.default_rng(0)
    lines = []
    enh = [(int(s), int(s) + 20) for s in rng.integers(0, 200, 6)]
    prom = [(int(s), int(s) + 30) for s in rng.integers(0, 200, 4)]
    for i in range(40):
        e, p = enh[i % 6], prom[(i * 7) % 4]
        lines.append(f"chr1\t{e[0]}\t{e[1]}\tchr1\t{p[0]}\t{p[1]}\tq{i}\t.\t.\t+\tC\t{i % 2}")
    (tmp_path / "x.bedpe").write_text("\n".join(lines) + "\n")
    g = Genome(tiny_fasta)
    manifests = []
    for chunk in (1, 7, 1000):
        root = tmp_path / f"d{chunk}"
        root.mkdir()
        manifests.append(extract(g, tmp_path / "x.bedpe", root, WindowSpec(20), WindowSpec(30),
                                 chunk_rows=chunk))
        manifests[-1]["source"] = None
    assert manifests[0] == manifests[1] == manifests[2]
    assert manifests[0]["n_enhancers"] == len(set(enh)) and manifests[0]["n_promoters"] == len(set(prom))
    for name in ("enhancers.u8", "promoters.u8", "pairs.tsv"):
        assert (tmp_path / "d1" / name).read_bytes() == (tmp_path / "d1000" / name).read_bytes()
    pairs = (tmp_path / "d7" / "pairs.tsv").read_bytes()
    assert manifests[1]["sha256"] == hashlib.sha256(pairs).hexdigest()
    ds = pd.read_csv(tmp_path / "d7" / "pairs.tsv", sep="\t")
    assert ds["name"].tolist() == [f"q{i}" for i in range(40)]
    assert ds["label"].tolist() == [-1] * 40  # no header: columns 11, 12 are extras
    assert ds["col12"].tolist() == [i % 2 for i in range(40)]


@pytest.mark.parametrize("quoted", [False, True])
def test_pairs_table_bytes_are_what_to_csv_writes(quoted):
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({
        "chrom": rng.choice(["chr1", "chrX", "scaffold_\u00e9"], n).astype(object),
        "start": rng.integers(0, 10**12, n),
        "big": np.where(rng.random(n) < 0.5, rng.integers(-10**18, 10**18, n), 0),
        "label": rng.choice(np.array([-1, 0, 1], np.int8), n),
        "name": rng.choice(["", ".", "a b", "x" * 70, "\u4e2d"], n).astype(object),
        "cell": "K562",
    })
    if quoted:  # values to_csv quotes: the chunk is written by to_csv itself
        frame.loc[5, "name"] = 'say "hi"'
    want = frame.to_csv(sep="\t", header=False, index=False).encode()
    assert tsv_bytes(frame) == want
    assert tsv_bytes(frame.iloc[:1]) == frame.iloc[:1].to_csv(sep="\t", header=False,
                                                             index=False).encode()


def test_extract_from_beds_and_cells_filter(tmp_path, tiny_fasta):
    (tmp_path / "e.bed").write_text("chr1\t10\t20\te1\nchr1\t200\t210\te2\n")
    (tmp_path / "p.bed").write_text("chr1\t50\t60\tp1\t0\t+\nchr2\t0\t10\tp2\t0\t-\n")
    out = tmp_path / "ds"
    res = _run(["extract", "-g", str(tiny_fasta), "--enhancers", str(tmp_path / "e.bed"),
                "--promoters", str(tmp_path / "p.bed"), "--max-distance", "100", "-o", str(out),
                "--enhancer-length", "8", "--promoter-length", "8"])
    assert res.exit_code == 0, res.output
    ds = PairDataset(out)
    assert ds.pairs["name"].tolist() == ["e1|p1"] and ds.pairs["distance"].tolist() == [40]
    (tmp_path / "x.bedpe").write_text(BEDPE5)
    res = _run(["extract", "-g", str(tiny_fasta), "-p", str(tmp_path / "x.bedpe"), "-o",
                str(tmp_path / "b"), "--cells", "B", "--enhancer-length", "8",
                "--promoter-length", "8"])
    assert res.exit_code == 0 and set(PairDataset(tmp_path / "b").pairs["cell"]) == {"B"}
    res = _run(["extract", "-g", str(tiny_fasta), "-p", str(tmp_path / "x.bedpe"), "-o",
                str(tmp_path / "z"), "--cells", "B,Z"])
    assert res.exit_code != 0 and "cell(s) Z not found" in res.output
    assert not (tmp_path / "z").exists()


BAD = [
    ("chr1\t10\t20\tchr1\t5200\t5100\n", "x.bedpe:1: start2 (5200) > end2 (5100)"),
    ("1\t10\t20\t1\t30\t40\n", "x.bedpe:1: chromosome '1' is not in the FASTA g.fa (the FASTA "
                               "names it 'chr1': add or strip the 'chr' prefix)"),
    ("chr1\t10\t20\tchr1\t30\t40\nchr1\t10\t20\tchr1\t30\t400\n",
     "x.bedpe:2: end2 (400) is past the end of chr1 (300 bp in the FASTA)"),
    ("chr1\t10\t20\tchr2\t30\t40\n", "x.bedpe:1: inter-chromosomal pair"),
    ("", "x.bedpe: empty BEDPE file"),
    ("#a\tb\tc\td\te\tf\tg\th\ti\tj\tcell\tlabel\nchr1\t1\t2\tchr1\t3\t4\t.\t.\t.\t.\tA\tyes\n",
     "x.bedpe:2: label must be 0 or 1, got 'yes'"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_extract_bad_input_leaves_nothing(tmp_path, tiny_fasta, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.bedpe").write_text(text)
    res = _run(["extract", "-g", str(tiny_fasta), "-p", "x.bedpe", "-o", "ds"])
    assert res.exit_code == 1
    assert res.output.startswith("Error: " + message), res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.fai", "x.bedpe"]


def test_extract_refuses_existing_output(tmp_path, tiny_fasta):
    (tmp_path / "x.bedpe").write_text(BEDPE5)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "mine.txt").write_text("precious")
    args = ["extract", "-g", str(tiny_fasta), "-p", str(tmp_path / "x.bedpe"), "-o",
            str(tmp_path / "ds"), "--enhancer-length", "8", "--promoter-length", "8"]
    res = _run(args)
    assert res.exit_code == 1 and "use --force" in res.output
    assert (tmp_path / "ds" / "mine.txt").read_text() == "precious"
    # --force replaces only a dataset PRISM wrote, never a folder of the user's files
    res = _run(args + ["--force"])
    assert res.exit_code == 1 and "not a folder PRISM wrote" in res.output
    assert (tmp_path / "ds" / "mine.txt").read_text() == "precious"
    (tmp_path / "ds" / "mine.txt").unlink()
    assert _run(args).exit_code == 0  # an empty folder is filled
    assert _run(args + ["--force"]).exit_code == 0  # a dataset is replaced
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["n_pairs"] == 5


def test_extract_on_simulated_world_matches_fasta(tmp_path):
    import pysam

    sim = tmp_path / "sim"
    res = _run(["simulate", "-o", str(sim), "--genome-size", "400000", "--n-chroms", "2",
                "--n-cells", "2", "--n-pairs", "400", "--seed", "2"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "ds"
    res = _run(["extract", "-g", str(sim / "genome.fa"), "-p", str(sim / "pairs.bedpe"),
                "-o", str(out), "--enhancer-length", "500", "--promoter-length", "300"])
    assert res.exit_code == 0, res.output
    ds = PairDataset(out)
    fa = pysam.FastaFile(str(sim / "genome.fa"))
    assert len(ds) == 400 and set(ds.pairs["cell"]) == {"CELL0", "CELL1"}
    for _, r in ds.pairs.sample(60, random_state=0).iterrows():
        for codes, (c, s, e), L in ((ds.enhancers[r.enh_idx], (r.chrom1, r.start1, r.end1), 500),
                                    (ds.promoters[r.prom_idx], (r.chrom2, r.start2, r.end2), 300)):
            lo = (s + e) // 2 - L // 2
            want = fa.fetch(c, max(lo, 0), min(lo + L, fa.get_reference_length(c))).upper()
            want = "N" * max(0, -lo) + want
            want += "N" * (L - len(want))
            assert decode(codes) == want
    assert ds.pairs["enh_idx"].nunique() == ds.manifest["n_enhancers"] < len(ds)


# ------------------------------------------------- score's dataset: parsed once, kept in memory

_STD = "#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2"
IN_MEMORY = {
    "cells and labels": (BEDPE5, {}),
    "six columns": ("chr1\t10\t20\tchr1\t100\t120\nchr2\t0\t25\tchr2\t200\t250\n", {}),
    # candidates' own distance column (read back as distance.1), a plain-integer extra
    "integer extras": (_STD + "\tdistance\tpeaks\n"
                       "chr1\t10\t20\tchr1\t100\t120\tp1\t.\t.\t+\t95\t3\n"
                       "chr2\t0\t25\tchr2\t200\t250\t\"q\t0\t-\t.\t212\t0\n", {}),
    # text pandas' reader might take for missing, a number or a quote, kept as written
    "odd text": (_STD + "\tcell\tlabel\n"
                 "chr1\t10\t20\tchr1\t100\t120\t\t1.5\t.\t+\tNA\t1\n"
                 "chr1\t10\t20\tchr1\t100\t120\tnan\tTrue\t.\t+\t\t0\n"
                 "chr1\t10\t20\tchr1\t100\t120\t#x\t-\t.\t+\t7\t.\n"
                 "chr1\t10\t20\tchr1\t100\t120\t a\"b \t'\t.\t+\t\u00e9\t.\n", {}),
    # extra columns named like ones pairs.tsv adds (label.1, enh_idx.1: the values it adds)
    "repeated names": (_STD + "\ttype\tlab\tlabel\tenh_idx\n"
                       "chr1\t10\t20\tchr1\t100\t120\tp\u00e9\t.\t.\t+\tA\t1\tx\t7\n"
                       "chr1\t5\t15\tchr1\t280\t300\tp2\t.\t.\t+\tB\t.\ty\t12\n",
                       {"cell_col": "type", "label_col": "lab"}),
}
FALLBACK = {  # extra columns only pandas' reader knows how to type: pairs.tsv after all
    "text": "x\ty",
    "leading zero": "7\t007",
    "float": "1\t1.5",
    "negative": "3\t-3",
    "empty": "3\t",
}


def _kept(path, genome, chunk_rows=50_000, label_col="label"):
    from prism_cli.io.bed import BEDPE, KeptTable, TableReader

    reader = TableReader(path, BEDPE, genome=genome, label_col=label_col, chunk_rows=chunk_rows)
    kept = KeptTable(reader)
    for chunk in reader:
        kept.add(chunk)
    return kept


def _same_dataset(a, b, same_sha=False):
    pd.testing.assert_frame_equal(a.pairs, b.pairs, check_exact=True)
    for name in ("enhancers.u8", "promoters.u8", "enhancers.tsv", "promoters.tsv"):
        assert (a.root / name).read_bytes() == (b.root / name).read_bytes(), name
    drop = set() if same_sha else {"sha256"}
    assert ({k: v for k, v in a.manifest.items() if k not in drop}
            == {k: v for k, v in b.manifest.items() if k not in drop})


@pytest.mark.parametrize("case", list(IN_MEMORY))
@pytest.mark.parametrize("chunk_rows", [1, 50_000])
def test_in_memory_dataset_is_what_pairs_tsv_reads_back(tmp_path, tiny_fasta, case, chunk_rows):
    """score's dataset (the validation pass's chunks, no pairs.tsv) holds the very pair
    frame PairDataset reads back from the pairs.tsv that `prism extract` writes."""
    from prism_cli.prepare import pairs_dataset

    text, kw = IN_MEMORY[case]
    path = tmp_path / "x.bedpe"
    path.write_text(text)
    g = Genome(tiny_fasta)
    windows = (WindowSpec(16), WindowSpec(24, "five_prime"))
    disk = pairs_dataset(g, path, windows, tmp_path / "disk", **kw)
    for parsed in (None, _kept(path, g, chunk_rows, kw.get("label_col", "label"))):
        root = tmp_path / f"mem{parsed is None}"
        mem = pairs_dataset(g, path, windows, root, parsed=parsed, in_memory=True, **kw)
        assert not (root / "pairs.tsv").exists()
        _same_dataset(mem, disk)
    assert disk.pairs.columns[-2:].tolist() == (
        ["distance.1", "peaks"] if case == "integer extras"
        else ["label.1", "enh_idx.1"] if case == "repeated names" else ["enh_idx", "prom_idx"])


@pytest.mark.parametrize("case", list(FALLBACK))
def test_in_memory_falls_back_to_pairs_tsv(tmp_path, tiny_fasta, case):
    """An extra column that is not plain integers, even in a late chunk only, or a quote in
    the header: the dataset is `prism extract`'s, byte for byte, and read from disk."""
    from prism_cli.extract import extract_in_memory

    rows = [f"chr1\t{i}\t{i + 9}\tchr1\t{100 + i}\t{120 + i}\tp{i}\t.\t.\t+\t{i}\t{i + 1}"
            for i in range(5)]
    rows.append("chr2\t0\t25\tchr2\t200\t250\tq\t.\t.\t-\t" + FALLBACK[case])
    path = tmp_path / "x.bedpe"
    path.write_text(_STD + "\tone\ttwo\n" + "\n".join(rows) + "\n")
    g = Genome(tiny_fasta)
    (tmp_path / "disk").mkdir()
    want = extract(g, path, tmp_path / "disk", WindowSpec(16), WindowSpec(24))
    (tmp_path / "mem").mkdir()
    got, pairs = extract_in_memory(g, path, tmp_path / "mem", WindowSpec(16), WindowSpec(24),
                                   parsed=_kept(path, g, chunk_rows=2))
    assert pairs is None and got == want
    _same_dataset(PairDataset(tmp_path / "mem"), PairDataset(tmp_path / "disk"), same_sha=True)
    assert (tmp_path / "mem" / "pairs.tsv").read_bytes() == (
        tmp_path / "disk" / "pairs.tsv").read_bytes()
    if case == "text":  # a quote in the header: the same
        path.write_text(_STD + '\t"one\ttwo\n' + "\n".join(rows[:5]) + "\n")
        (tmp_path / "q").mkdir()
        assert extract_in_memory(g, path, tmp_path / "q", WindowSpec(16), WindowSpec(24))[1] \
            is None and (tmp_path / "q" / "pairs.tsv").exists()


def test_kept_chunks_report_errors_as_reading_does(tmp_path, tiny_fasta, monkeypatch):
    """Extraction from the kept chunks names a bad line (file:line) as reading the file
    does; the validation pass keeps its chunks only up to keep_rows pairs."""
    from types import SimpleNamespace

    from prism_cli.errors import PrismInputError
    from prism_cli.extract import extract_in_memory
    from prism_cli.predict.score_inputs import check_pairs

    monkeypatch.chdir(tmp_path)
    g = Genome(tiny_fasta)
    ck = SimpleNamespace(cells=["A"], arch="prism")
    Path("x.bedpe").write_text(BEDPE5)

    def check(keep_rows):
        return check_pairs("x.bedpe", g, ck, None, None, None, True, "cell", "label",
                           keep_rows=keep_rows)

    assert check(0).parsed is None and check(4).parsed is None
    kept = check(5).parsed
    assert kept.rows == 5 and kept.name == "x.bedpe" and kept.columns[-2:] == ["cell", "label"]
    Path("x.bedpe").write_text(BEDPE5 + "chr1\t10\t20\tchr2\t30\t40\tp6\t.\t.\t+\tA\t0\n")
    kept = check(100).parsed  # the validation pass lets inter-chromosomal pairs through
    messages = []
    for parsed in (kept, None):
        Path(f"d{parsed is None}").mkdir()
        with pytest.raises(PrismInputError) as err:
            extract_in_memory(g, "x.bedpe", Path(f"d{parsed is None}"), WindowSpec(8),
                              WindowSpec(8), parsed=parsed)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and messages[0].startswith(
        "x.bedpe:7: inter-chromosomal pair (chr1 - chr2)"), messages
    Path("x.bedpe").write_text(BEDPE5 + "chr1\t10\t20\tchr1\t30\t-4\tp6\t.\t.\t+\tA\t0\n")
    with pytest.raises(PrismInputError) as err:
        check(100)
    assert str(err.value).startswith("x.bedpe:7: end2 is negative ('-4')")


@pytest.mark.parametrize("case", ["cells and labels", "integer extras", "text extra"])
def test_score_writes_what_reading_the_input_twice_gave(tmp_path, tiny_fasta, monkeypatch, case):
    """`prism score` extracting from its validation pass's chunks into an in-memory pair
    table writes the very file it wrote when extraction read PAIRS again and pairs.tsv
    back (the extraction of before, put back by hand)."""
    import prism_cli.prepare as prepare

    from .conftest import save_tiny_model

    save_tiny_model(tmp_path / "model" / "best")
    text = IN_MEMORY.get(case, (_STD + "\tone\tgene\nchr1\t10\t20\tchr1\t100\t120\tp\t.\t.\t+"
                                "\t5\tMYC\nchr2\t0\t25\tchr2\t200\t250\tq\t.\t.\t-\t6\tFOS\n",))[0]
    (tmp_path / "x.bedpe").write_text(text)
    args = ["score", "-p", tmp_path / "x.bedpe", "-m", tmp_path / "model", "-g", tiny_fasta]
    args += [] if case == "cells and labels" else ["-c", "A"]
    seen = []

    def spy(*a, parsed=None, **kw):
        manifest, pairs = in_memory(*a, parsed=parsed, **kw)
        seen.append((parsed is not None, pairs is not None))
        return manifest, pairs

    in_memory = prepare.extract_in_memory
    monkeypatch.setattr(prepare, "extract_in_memory", spy)
    res = _run([str(a) for a in args + ["-o", tmp_path / "new.bedpe"]])
    assert res.exit_code == 0, res.output
    assert seen == [(True, case != "text extra")]  # the kept chunks; no pairs.tsv but there

    def read_twice(genome, bedpe, root, enh, prom, parsed=None, **kw):
        return prepare.extract(genome, bedpe, root, enh, prom, **kw), None

    monkeypatch.setattr(prepare, "extract_in_memory", read_twice)
    res = _run([str(a) for a in args + ["-o", tmp_path / "old.bedpe"]])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new.bedpe").read_bytes() == (tmp_path / "old.bedpe").read_bytes()
    sidecars = [json.loads((tmp_path / f"{v}.bedpe.json").read_text()) for v in ("new", "old")]
    for s in sidecars:
        s.pop("date", None)
    assert sidecars[0] == sidecars[1]
