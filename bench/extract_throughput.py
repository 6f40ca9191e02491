"""extract throughput and peak memory vs a naive per-window reference.

    python bench/extract_throughput.py [--pairs 100000 200000] [--naive-pairs 3000] [--workdir DIR]

Data: a `prism simulate` genome; candidate pairs from `prism candidates` over its enhancer
and promoter BED files (so each element recurs in many pairs, as in real candidate sets).
Windows 3 kb enhancer / 2 kb promoter (extract's defaults).

* PRISM: `prism extract` in a fresh process per run; wall time and the process's peak RSS.
  Runs at several pair counts show whether peak memory depends on the number of pairs.
* Naive reference (published EPI scripts): for every pair, fetch both windows with pyfaidx
  and one-hot them with a Python dict, base by base, into a list of float arrays. Run on the
  first --naive-pairs pairs (its memory grows with the pairs; at 100k pairs it would need
  ~8 GB of float32 one-hot), and its rate is reported per pair and per bp.

bp/s counts window bases per pair ((3000 + 2000) x pairs) for both methods, i.e. the bases a
per-pair pipeline delivers; PRISM reads each unique element once, which is why it wins.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LE, LP = 3000, 2000

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
mode = sys.argv[1]
if mode == "prism":
    from prism_cli.extract import WindowSpec, extract
    from prism_cli.io.fasta import Genome
    root = Path(sys.argv[4]); root.mkdir()
    m = extract(Genome(sys.argv[2]), sys.argv[3], root, WindowSpec(%(LE)d), WindowSpec(%(LP)d))
    n = m["n_pairs"]; extra = {"unique_elements": m["n_enhancers"] + m["n_promoters"]}
else:
    import numpy as np
    import pyfaidx
    fa = pyfaidx.Fasta(sys.argv[2])
    table = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1]}
    out = []
    n = 0
    limit = int(sys.argv[4])
    for line in open(sys.argv[3]):
        if line.startswith("#"):
            continue
        if n >= limit:
            break
        f = line.split("\t")
        for c, s, e, L in ((f[0], int(f[1]), int(f[2]), %(LE)d), (f[3], int(f[4]), int(f[5]), %(LP)d)):
            mid = (s + e) // 2
            lo = max(mid - L // 2, 0)
            seq = str(fa[c][lo:lo + L]).upper()
            out.append(np.array([table.get(b, [0, 0, 0, 0]) for b in seq], dtype=np.float32))
        n += 1
    extra = {}
dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "pairs": n, "seconds": dt, "peak_rss_mb": rss, **extra}))
""" % {"LE": LE, "LP": LP}


def run(*args) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    ap.add_argument("--naive-pairs", type=int, default=3000)
    ap.add_argument("--genome-size", type=int, default=20_000_000)
    ap.add_argument("--max-distance", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="prism-bench-"))
    sim = work / "sim"
    if not sim.exists():
        subprocess.run(["prism", "simulate", "-o", sim, "--genome-size", str(args.genome_size),
                        "--seed", "1"], check=True, capture_output=True)
    cand = work / "candidates.bedpe"
    if not cand.exists():
        subprocess.run(["prism", "candidates", "-e", sim / "enhancers.bed", "-p",
                        sim / "promoters.bed", "-d", str(args.max_distance), "-o", cand],
                       check=True, capture_output=True)
    lines = [ln for ln in open(cand) if not ln.startswith("#")]
    print(f"# {len(lines):,} candidate pairs available; windows {LE}/{LP} bp", flush=True)
    rows = []
    for n in args.pairs:
        if n > len(lines):
            print(f"# skipping {n:,}: only {len(lines):,} candidates")
            continue
        sub = work / f"pairs_{n}.bedpe"
        sub.write_text("".join(lines[:n]))
        out = work / f"ds_{n}"
        subprocess.run(["rm", "-rf", out], check=True)
        rows.append(run("prism", sim / "genome.fa", sub, out))
        print(json.dumps(rows[-1]), flush=True)
    rows.append(run("naive", sim / "genome.fa", cand, args.naive_pairs))
    print(json.dumps(rows[-1]), flush=True)
    naive = rows[-1]
    naive_pps = naive["pairs"] / naive["seconds"]
    print(f"\nmachine: {platform.processor() or platform.machine()}, "
          f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores")
    print("| method | pairs | unique elements | wall s | pairs/s | window Mbp/s | peak RSS MB | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        pps = r["pairs"] / r["seconds"]
        print(f"| {'PRISM extract' if r['mode'] == 'prism' else 'naive pyfaidx + dict one-hot'} "
              f"| {r['pairs']:,} | {r.get('unique_elements', '-')} | {r['seconds']:.2f} | "
              f"{pps:,.0f} | {pps * (LE + LP) / 1e6:,.1f} | {r['peak_rss_mb']:,.0f} | "
              f"{pps / naive_pps:,.0f}x |")


if __name__ == "__main__":
    main()
