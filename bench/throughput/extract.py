"""extract throughput and peak memory vs a naive per-window reference.

    python -m bench.throughput.extract [--pairs 100000 400000 1000000] [--naive-pairs 3000]
        [--genome-size 300000000] [--max-distance 12000000] [--workdir DIR]

Data: a `prism simulate` genome; candidate pairs from `prism candidates` over its enhancer
and promoter BED files (so each element recurs in many pairs, as in real candidate sets).
The defaults (300 Mb world, 12 Mb) give about 1.1 M candidates, enough for 1 M pairs.
Windows 3 kb enhancer / 2 kb promoter (extract's defaults). Run from the repository root
(prism is run as ``python -m prism_cli.cli`` from this checkout, so no install is needed).

* PRISM: `prism extract` in a fresh process per run; wall time (imports included) and the
  process's own peak RSS (VmHWM).
  Runs at several pair counts show whether peak memory depends on the number of pairs.
* Naive reference (published EPI scripts): for every pair, fetch both windows with pyfaidx
  and one-hot them with a Python dict, base by base, into a list of float arrays. Run on the
  first --naive-pairs pairs (its memory grows with the pairs; at 100k pairs it would need
  ~8 GB of float32 one-hot), and its rate is reported per pair and per bp. It runs before
  and after the PRISM runs; speed-ups are against the mean of the two rates, so a change in
  the machine's load during the run shows (the two naive rows) instead of biasing the ratio.

bp/s counts window bases per pair ((3000 + 2000) x pairs) for both methods, i.e. the bases a
per-pair pipeline delivers; PRISM reads each unique element once, which is why it wins.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys

from .common import LE, LP, REPO, simulated_candidates, workdir

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
try:  # this process's own peak (ru_maxrss would include the parent's RSS at fork)
    rss = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
except (OSError, IndexError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "pairs": n, "seconds": dt, "peak_rss_mb": rss, **extra}))
""" % {"LE": LE, "LP": LP}


def run(*args) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[100_000, 400_000, 1_000_000])
    ap.add_argument("--naive-pairs", type=int, default=3000)
    ap.add_argument("--genome-size", type=int, default=300_000_000)
    ap.add_argument("--max-distance", type=int, default=12_000_000)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)
    work = workdir(args.workdir, "prism-bench-")
    sim, cand = simulated_candidates(work, args.genome_size, args.max_distance)
    with open(cand) as fh:
        available = sum(1 for ln in fh if not ln.startswith("#"))
    print(f"# {available:,} candidate pairs available; windows {LE}/{LP} bp", flush=True)
    print("# load average at start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    rows = [run("naive", sim / "genome.fa", cand, args.naive_pairs)]
    print(json.dumps(rows[-1]), flush=True)
    for n in args.pairs:
        if n > available:
            print(f"# skipping {n:,}: only {available:,} candidates")
            continue
        sub = work / f"pairs_{n}.bedpe"
        with open(cand) as fh, open(sub, "w") as out:  # the first n pairs, no header
            out.writelines(itertools.islice((ln for ln in fh if not ln.startswith("#")), n))
        out = work / f"ds_{n}"
        subprocess.run(["rm", "-rf", out], check=True)
        rows.append(run("prism", sim / "genome.fa", sub, out))
        print(json.dumps(rows[-1]), flush=True)
        sub.unlink()
        subprocess.run(["rm", "-rf", out], check=True)
    rows.append(run("naive", sim / "genome.fa", cand, args.naive_pairs))
    print(json.dumps(rows[-1]), flush=True)
    print("# load average at end: %.2f %.2f %.2f" % os.getloadavg())
    naive = [r for r in rows if r["mode"] == "naive"]
    naive_pps = sum(r["pairs"] / r["seconds"] for r in naive) / len(naive)
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print("| method | pairs | unique elements | wall s | pairs/s | window Mbp/s | peak RSS MB | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows[1:-1] + [naive[0], naive[-1]]:
        pps = r["pairs"] / r["seconds"]
        print(f"| {'PRISM extract' if r['mode'] == 'prism' else 'naive pyfaidx + dict one-hot'} "
              f"| {r['pairs']:,} | {r.get('unique_elements', '-')} | {r['seconds']:.2f} | "
              f"{pps:,.0f} | {pps * (LE + LP) / 1e6:,.1f} | {r['peak_rss_mb']:,.0f} | "
              f"{pps / naive_pps:,.0f}x |")


if __name__ == "__main__":
    main()
