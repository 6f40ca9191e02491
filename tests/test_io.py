import gzip
import subprocess

import numpy as np
import pysam
import pytest

from prism_cli.encode import decode
from prism_cli.errors import PrismInputError
from prism_cli.io.bed import read_bed, read_bedpe
from prism_cli.io.fasta import Genome

from .conftest import CHR1, write_fasta


def test_fasta_plain_builds_index_and_uppercases(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1\n" + CHR1[:60] + "\n" + CHR1[60:120] + "\n")
    g = Genome(path)  # no .fai yet: built
    assert (tmp_path / "g.fa.fai").exists()
    assert g.lengths == {"chr1": 120}
    codes, outside = g.fetch_codes("chr1", 4, 10)
    assert decode(codes) == CHR1[4:10].upper() and outside == 0


def test_fasta_window_past_edges_is_n(tiny_fasta):
    g = Genome(tiny_fasta)
    codes, outside = g.fetch_codes("chr1", -3, 2)
    assert decode(codes) == "NNN" + CHR1[:2].upper() and outside == 3
    codes, outside = g.fetch_codes("chr1", 298, 303)
    assert decode(codes) == CHR1[298:].upper() + "NNN" and outside == 3
    codes, outside = g.fetch_codes("chr1", 400, 404)
    assert decode(codes) == "NNNN" and outside == 4


def test_fasta_bgzip_and_plain_gzip(tmp_path, tiny_fasta):
    bgz = tmp_path / "g2.fa.gz"
    pysam.tabix_compress(str(tiny_fasta), str(bgz))
    g = Genome(bgz)
    assert decode(g.fetch_codes("chr1", 0, 12)[0]) == CHR1[:12].upper()
    plain = tmp_path / "g3.fa.gz"
    plain.write_bytes(gzip.compress(tiny_fasta.read_bytes()))
    with pytest.raises(PrismInputError, match="not bgzip"):
        Genome(plain)


def test_chr_prefix_hint(tiny_fasta):
    with pytest.raises(PrismInputError, match="add or strip the 'chr' prefix"):
        Genome(tiny_fasta).check_chrom("1", "x.bed", 3)


BEDPE5 = (
    "#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\tcell\tlabel\n"
    "chr1\t10\t20\tchr1\t100\t120\tp1\t.\t.\t+\tA\t1\n"
    "chr1\t30\t40\tchr1\t150\t170\tp2\t.\t.\t-\tA\t0\n"
    "chr2\t0\t25\tchr2\t200\t250\tp3\t.\t.\t+\tB\t1\n"
    "chr2\t50\t60\tchr2\t70\t80\tp4\t.\t.\t.\tB\t0\n"
    "chr1\t5\t15\tchr1\t280\t300\tp5\t.\t.\t+\tB\t.\n"
)


def test_bedpe_round_trip(tmp_path, tiny_fasta):
    path = tmp_path / "x.bedpe"
    path.write_text(BEDPE5)
    df = read_bedpe(path, genome=Genome(tiny_fasta), label_col="label")
    assert list(df["name"]) == ["p1", "p2", "p3", "p4", "p5"]
    assert df["label"].tolist() == [1, 0, 1, 0, -1]
    assert df["_line"].tolist() == [2, 3, 4, 5, 6]
    assert df["end2"].tolist() == [120, 170, 250, 80, 300]
    out = tmp_path / "back.bedpe"
    cols = [c for c in df.columns if c != "_line"]
    back = df[cols].astype(str).replace({"-1": "."})
    out.write_text("#" + "\t".join(cols) + "\n" + back.to_csv(sep="\t", header=False, index=False))
    assert out.read_text() == BEDPE5
    # gz input, track/browser lines and blank lines are skipped
    gz = tmp_path / "x.bedpe.gz"
    gz.write_bytes(gzip.compress(("track name=x\nbrowser position chr1\n\n" + BEDPE5).encode()))
    assert read_bedpe(gz)["name"].tolist() == list(df["name"])


def test_bed_without_header_names_extra_columns(tmp_path):
    path = tmp_path / "x.bed"
    path.write_text("chr1\t1\t5\ta\t0\t+\textra\n")
    df = read_bed(path)
    assert df.columns.tolist()[:7] == ["chrom", "start", "end", "name", "score", "strand", "col7"]


BAD = [
    ("chr1\t1x\t20\tchr1\t100\t120\n", "x.bedpe:1: start1 is non-integer ('1x')", {}),
    ("chr1\t10\t20\tchr1\t-5\t120\n", "x.bedpe:1: start2 is negative ('-5')", {}),
    ("chr1\t10\t20\tchr1\t5200\t5100\n", "x.bedpe:1: start2 (5200) > end2 (5100)", {}),
    ("1\t10\t20\t1\t100\t120\n", "x.bedpe:1: chromosome '1' is not in the FASTA", {"fasta": 1}),
    ("chr1\t10\t20\tchr1\t100\t999\n", "x.bedpe:1: end2 (999) is past the end of chr1", {"fasta": 1}),
    ("chr1\t10\t20\tchr1\t100\t120\nchr1\t10\t20\tchr1\t100\n",
     "x.bedpe:2: 5 columns where earlier lines have 6", {}),
    ("chr1\t10\t20\tchr1\n", "x.bedpe:1: 4 column(s); BEDPE needs at least 6", {}),
    ("# only a header\n", "x.bedpe: empty BEDPE file", {}),
    ("#c1\ts1\te1\tc2\ts2\te2\tn\ts\tt1\tt2\tlabel\nchr1\t1\t2\tchr1\t3\t4\t.\t.\t.\t.\t2\n",
     "x.bedpe:2: label must be 0 or 1, got '2'", {"label": 1}),
    ("chr1\t1\t2\tchr1\t3\t4\n", "x.bedpe: missing required column 'label'", {"label": 1}),
    # values pandas' integer parser would take are refused, as written
    ("chr1\t1e2\t200\tchr1\t100\t120\n", "x.bedpe:1: start1 is non-integer ('1e2')", {}),
    ("chr1\t10\t+20\tchr1\t100\t120\n", "x.bedpe:1: end1 is non-integer ('+20')", {}),
    ("chr1\t10\t20\tchr1\t100\t 120\n", "x.bedpe:1: end2 is non-integer (' 120')", {}),
    ("chr1\t10\t20\tchr1\t\t120\n", "x.bedpe:1: start2 is non-integer ('')", {}),
    ("chr1\t99999999999999999999\t2\tchr1\t3\t4\n",
     "x.bedpe:1: start1 is too large ('99999999999999999999')", {}),
    # line numbers count header, blank, track and comment lines, CRLF and lone-CR line ends
    ("#h\n\nchr1\t10\t20\tchr1\t100\t120\r\n\r\ntrack x\r\nchr1\t10\t20\tchr1\t-5\t1\r\n",
     "x.bedpe:6: start2 is negative ('-5')", {}),
    ("chr1\t10\t20\tchr1\t30\t40\rchr1\t10\t20\tchr1\t50\t40\r",
     "x.bedpe:2: start2 (50) > end2 (40)", {}),
    ("chr1\t1\t2\tchr1\t3\t4\n# note\n \t\nchr1\t1\t2\tchr1\t3\n",
     "x.bedpe:4: 5 columns where earlier lines have 6", {}),
    ("chr1\t1\t2\tchr1\t3\t4\tp\t.\t+\t-\nchr1\t1\t2\tchr1\t3\t4\tp\t.\t+\tx\n",
     "x.bedpe:2: strand2 must be +, - or '.', got 'x'", {}),
]


@pytest.mark.parametrize("text,message,opts", BAD)
def test_bad_bedpe_messages(tmp_path, tiny_fasta, monkeypatch, text, message, opts):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.bedpe").write_text(text)
    kw = {}
    if "fasta" in opts:
        kw["genome"] = Genome(tiny_fasta)
    if "label" in opts:
        kw.update(label_col="label", label_required=True)
    with pytest.raises(PrismInputError) as err:
        read_bedpe("x.bedpe", **kw)
    assert err.value.message.startswith(message), err.value.message
    assert "\n" not in err.value.message


MESSY = (
    "track name=x\n#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\t"
    "strand2\tlabel\r\n"
    "chr1\t10\t20\tchr1\t100\t120\tp1\t.\t.\t+\t1\r\n"
    "\r\n"
    "chr1\t007\t020\tchr1\t100\t120\t\"q\t.\t.\t-\t0\n"  # leading zeros, a quote
    "# mid-file comment\n"
    "chr2\t0\t25\tchr2\t200\t250\tp\u00e9\t.\t.\t+\t.\r"
    "chr2\t50\t60\tchr2\t70\t80\tp4\t.\t.\t.\t1"  # no final line end
)


@pytest.mark.parametrize("chunk_rows,block", [(1, 1), (2, 7), (3, 64), (1000, 1 << 23)])
def test_bedpe_chunks_and_blocks_read_the_same(tmp_path, monkeypatch, chunk_rows, block):
    """Frames do not depend on the chunk size or on where the byte blocks fall."""
    import prism_cli.io.bed as bed

    path = tmp_path / "x.bedpe"
    path.write_bytes(MESSY.encode())
    monkeypatch.setattr(bed, "BLOCK_BYTES", block)
    df = read_bedpe(path, label_col="label", chunk_rows=chunk_rows)
    assert df["_line"].tolist() == [3, 5, 7, 8]
    assert df["start1"].tolist() == [10, 7, 0, 50] and df["end1"].tolist() == [20, 20, 25, 60]
    assert df["name"].tolist() == ["p1", '"q', "p\u00e9", "p4"]
    assert df["strand2"].tolist() == ["+", "-", "+", "."]
    assert df["label"].tolist() == [1, 0, -1, 1] and df["label"].dtype == np.int8
    assert df["start2"].dtype == np.int64


def test_coordinate_check_at_the_end_of_the_data(tmp_path, monkeypatch):
    """The last field of the last line (no line end after it) is checked like any other;
    19 digits are read as text, still an integer."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.bedpe").write_text("chr1\t1\t2\tchr1\t3\t4\nchr1\t1\t2\tchr1\t3\t4x")
    with pytest.raises(PrismInputError) as err:
        read_bedpe("x.bedpe")
    assert err.value.message == "x.bedpe:2: end2 is non-integer ('4x')"
    for last in ("45", "1234567890123456789"):
        (tmp_path / "x.bedpe").write_text("chr1\t1\t2\tchr1\t3\t4\nchr1\t1\t2\tchr1\t3\t" + last)
        assert read_bedpe("x.bedpe")["end2"].tolist() == [4, int(last)]


def test_kept_table_gives_the_reader_chunks_again(tmp_path):
    from prism_cli.io.bed import BEDPE, KeptTable, TableReader

    path = tmp_path / "x.bedpe"
    path.write_bytes(MESSY.encode())
    reader = TableReader(path, BEDPE, label_col="label", chunk_rows=1)
    kept = KeptTable(reader)
    seen = []
    for chunk in reader:
        kept.add(chunk)
        seen.append((chunk, reader.bytes_read))
    assert kept.rows == 4 and kept.name == str(path) and kept.columns == reader.columns
    again = [(chunk, kept.bytes_read) for chunk in kept]
    assert [c is s for (c, _), (s, _) in zip(again, seen)] == [True] * 4
    assert [b for _, b in again] == [b for _, b in seen] and again[-1][1] == kept.bytes_total
    assert list(kept) == []  # read once
