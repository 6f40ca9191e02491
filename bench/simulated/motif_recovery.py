"""How well label-free motif discovery recovers a simulated world's planted PWMs.

    python -m bench.simulated.motif_recovery --seed 0 --genome-size 20000000 --pairs 100000 \
        --threads 2 --out bench/results/motif_recovery.tsv

Simulates the world with `prism simulate`'s settings, takes the 500 bp window centred at
(start + end) // 2 of every element on the training chromosomes (chr1, chr2), runs
`discover_motifs` on those windows (no labels), and prints, for each planted PWM, the
best `pwm_correlation` with any discovered motif and its best TOMTOM match (q-value with
JASPAR CORE vertebrates as the null background, see `prism_cli.motifs.compare`); then
(a) the mean best correlation, (b) the fraction of planted PWMs matched at q < 0.05 and
(c) the wall and CPU time of discovery; the column true_pwm_enrichment (and (d)) says how
enriched each planted PWM itself is over dinucleotide shuffles (windows with a hit of the
true matrix at p = 1e-4, over shuffled windows with one): the ceiling of label-free
recovery.  `--out` writes the per-PWM table as TSV (one
header line) with the summary and settings in a JSON sidecar (`--out` + ".json"), and
the discovered motifs as MEME (`--out` with .meme).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


def element_windows(world, chroms: list[str], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (n, window) of the windows centred on the elements of ``chroms`` (those that
    fit inside their chromosome), and the row numbers of those elements."""
    el = world.elements
    rows, out = [], []
    for i, r in enumerate(el.itertuples(index=False)):
        if r.chrom not in chroms:
            continue
        seq = world.sequences[r.chrom_idx]
        start = (r.start + r.end) // 2 - window // 2
        if start < 0 or start + window > len(seq):
            continue
        rows.append(i)
        out.append(seq[start:start + window])
    return np.stack(out), np.array(rows)


def recovery_table(planted, discovered, counts: np.ndarray, background) -> pd.DataFrame:
    """One row per planted PWM: its best correlated and best TOMTOM-matched discovery."""
    from prism_cli.motifs.compare import tomtom_table
    from prism_cli.motifs.pwm import Motif, pwm_correlation

    queries = [Motif(m.name, m.pwm, "sim") for m in planted]
    tom = tomtom_table(queries, discovered, background=background) if discovered else None
    rows = []
    for i, m in enumerate(queries):
        corr = [pwm_correlation(m.pwm, d.pwm) for d in discovered]
        j = int(np.nanargmax(corr)) if corr else -1
        rows.append({
            "motif": m.name, "role": planted[i].role, "width": m.width,
            "consensus": m.consensus, "planted_sites": int(counts[:, i].sum()),
            "best_correlated": discovered[j].name if j >= 0 else "",
            "best_consensus": discovered[j].consensus if j >= 0 else "",
            "correlation": float(corr[j]) if j >= 0 else float("nan"),
            "tomtom_target": tom["target"][i] if tom is not None else "",
            "tomtom_q": float(tom["q_value"][i]) if tom is not None else 1.0,
        })
    df = pd.DataFrame(rows)
    df["matched"] = df["tomtom_q"] < 0.05
    return df


def planted_enrichment(planted, codes: np.ndarray, p_value: float = 1e-4,
                       seed: int = 0) -> np.ndarray:
    """Per planted PWM (M,): windows holding a hit of the true PWM over dinucleotide-
    shuffled windows holding one (threshold calibrated on the shuffles at ``p_value``,
    as discovery calibrates).  What label-free enrichment could see with the generator's
    own matrix: discovery accepts a motif at a ratio >= 1.5 (``min_ratio``)."""
    from prism_cli.motifs.pwm import Motif
    from prism_cli.motifs.scan import MotifScanner
    from prism_cli.motifs.shuffle import dinucleotide_shuffle_codes

    scanner = MotifScanner([Motif(m.name, m.pwm, "sim") for m in planted])
    scanner.calibrate(codes, p_value=p_value, seed=seed)
    shuffled = dinucleotide_shuffle_codes(codes, seed=seed + 1)
    real = (scanner.occupancy(codes) > 0).sum(0)
    background = (scanner.occupancy(shuffled) > 0).sum(0)
    return real / np.maximum(background, 1)


def planted_acceptance(planted, codes: np.ndarray, seed: int = 0, min_ratio: float = 1.5,
                       min_log10_p: float = -6.0) -> tuple[np.ndarray, np.ndarray]:
    """Per planted PWM: discovery's own acceptance test applied to the generator's matrix.
    Its best window score per element, real against one dinucleotide shuffle, at the
    threshold that separates them best (``refine._best_threshold``); returns the log10
    binomial p there (M,) and whether it passes (M,) bool: p <= 10**min_log10_p and
    ratio >= min_ratio, as ``discover_motifs`` accepts a candidate.  A planted motif
    that fails it cannot be found label-free in these windows."""
    from prism_cli.motifs.discover.pools import _Pool, _Scan
    from prism_cli.motifs.discover.refine import _best_threshold, _enrichment, _min_sites
    from prism_cli.motifs.shuffle import dinucleotide_shuffle_codes

    pad = max(len(m.pwm) for m in planted)
    real = _Scan([m.pwm for m in planted], _Pool(codes, "cpu", pad))
    shuf = _Scan([m.pwm for m in planted],
                 _Pool(dinucleotide_shuffle_codes(codes, seed=seed + 2), "cpu", pad))
    logp, passes = [], []
    for k in range(len(planted)):
        _, lp, n_r, n_s = _best_threshold(real.best[:, k], shuf.best[:, k],
                                          _min_sites(len(codes)))
        logp.append(lp)
        passes.append(lp <= min_log10_p and _enrichment(n_r, n_s)[0] >= min_ratio)
    return np.array(logp), np.array(passes)


def main(argv=None) -> None:
    from prism_cli.motifs.discover import discover_motifs
    from prism_cli.motifs.jaspar import jaspar_motifs, jaspar_release
    from prism_cli.motifs.pwm import write_meme
    from prism_cli.simulate import SimConfig, simulate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--genome-size", type=int, default=20_000_000)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--chroms", default="chr1,chr2", help="chromosomes whose elements are used")
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--discover-seed", type=int, default=0)
    ap.add_argument("--n-motifs", type=int, default=32)
    ap.add_argument("--steps", type=int, default=None,
                    help="discover_motifs steps per round (default: its own)")
    ap.add_argument("--max-elements", type=int, default=None,
                    help="discover_motifs max_elements (default: its own; 0 for all)")
    ap.add_argument("--kmer", type=int, default=None,
                    help="discover_motifs k of the k-mer seeds (default: its own, 8)")
    ap.add_argument("--repeat-mask", action="store_true",
                    help="discover as with train config discover_repeat_mask: repeat "
                         "copies masked first")
    ap.add_argument("--gapped-seeds", action="store_true",
                    help="discover as with train config discover_gapped_seeds: seeds also "
                         "from k-mers with one free interior position")
    ap.add_argument("--degenerate", action="store_true",
                    help="both of --repeat-mask and --gapped-seeds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every discovery round")
    ap.add_argument("-o", "--out", type=Path, help="per-PWM TSV (+ .json sidecar, .meme)")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    world = simulate(SimConfig(seed=args.seed, genome_size=args.genome_size, pairs=args.pairs))
    codes, rows = element_windows(world, args.chroms.split(","), args.window)
    print(f"world: {len(world.elements)} elements, {len(world.motifs)} planted PWMs; "
          f"{len(codes)} windows of {args.window} bp on {args.chroms} "
          f"({time.perf_counter() - t:.0f} s)")

    kwargs = {} if args.steps is None else {"steps": args.steps}
    if args.max_elements is not None:
        kwargs["max_elements"] = args.max_elements or None
    if args.kmer is not None:
        kwargs["kmer"] = args.kmer
    if args.repeat_mask or args.degenerate:
        from prism_cli.motifs.discover.rounds import REPEAT_K

        kwargs["repeat_k"] = REPEAT_K
    if args.gapped_seeds or args.degenerate:
        kwargs["gapped_seeds"] = True
    background = jaspar_motifs()  # loaded before timing: shared by the merge and the table
    wall, cpu = time.perf_counter(), time.process_time()
    discovered = discover_motifs(codes, n_motifs=args.n_motifs, seed=args.discover_seed,
                                 device=args.device, threads=args.threads,
                                 log=print if args.verbose else None, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    df = recovery_table(world.motifs, discovered, world.counts[rows], background)
    df["true_pwm_enrichment"] = planted_enrichment(world.motifs, codes)
    df["true_pwm_log10p"], df["true_pwm_passes"] = planted_acceptance(world.motifs, codes)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    summary = {
        "mean_best_correlation": float(df["correlation"].mean()),
        "fraction_matched_q05": float(df["matched"].mean()),
        "n_discovered": len(discovered),
        "n_windows": int(len(codes)),
        "discovery_wall_s": round(wall, 1),
        "discovery_cpu_s": round(cpu, 1),
        "planted_enriched_1.5": int((df["true_pwm_enrichment"] >= 1.5).sum()),
        "planted_passing_acceptance": int(df["true_pwm_passes"].sum()),
    }
    print(f"(a) mean best correlation {summary['mean_best_correlation']:.3f} (goal >= 0.8)")
    print(f"(b) planted PWMs matched at TOMTOM q < 0.05: {df['matched'].sum()}/{len(df)} "
          f"= {summary['fraction_matched_q05']:.0%} (goal >= 80%)")
    print(f"(c) discovery: {len(discovered)} motifs in {wall:.0f} s wall, {cpu:.0f} s CPU "
          f"({args.threads} threads)")
    print(f"(d) planted PWMs whose own matrix is enriched >= 1.5x over shuffles (p = 1e-4): "
          f"{summary['planted_enriched_1.5']}/{len(df)}")
    print(f"(e) planted PWMs whose own matrix passes discovery's acceptance test (ratio >= "
          f"1.5, log10 p <= -6): {summary['planted_passing_acceptance']}/{len(df)} "
          f"(the ceiling of label-free recovery in these windows)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        df.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        tmp.replace(args.out)
        write_meme(args.out.with_suffix(".meme"), discovered)
        side = {"summary": summary, "args": {k: (str(v) if isinstance(v, Path) else v)
                                             for k, v in vars(args).items()},
                "jaspar_release": jaspar_release(),
                "command": command_line(vars(args))}
        Path(str(args.out) + ".json").write_text(json.dumps(side, indent=2) + "\n")


def command_line(args: dict) -> str:
    """The command that reruns with ``args`` (argparse's namespace as a dict)."""
    parts = ["python -m bench.simulated.motif_recovery"]
    for key, value in args.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


if __name__ == "__main__":
    main()
