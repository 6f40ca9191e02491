"""Would fine-tuning the discovered motifs on pair labels help? (issue 11's optional stage)

    python -m bench.probes.motif_finetune --motifs D.meme --held-out CELL0,CELL1,CELL2 \
        [--what kernels|calibration] [--steps 75] [--lr 0.005] [-o OUT.tsv] [--tables DIR]

D.meme: motifs discovered without labels on the world's training chromosomes, e.g. the
.meme that `python -m bench.simulated.motif_recovery --discover-seed 2 -o D.tsv` writes.

Rebuilds the `prism simulate` world (--world-seed, --genome-size, --pairs), scans every
element's window with the motifs (thresholds calibrated on the chr1-2 windows at p < 1e-4,
as `discover` calibrates them) and computes their soft occupancies (softness 1 bit) with
a differentiable scan: sum over windows of sigmoid(best-strand score - threshold), every
window kept (MotifScanner.soft_occupancy leaves out windows 5 bits under the threshold).
On these it fits the simulator's own-motif regression (pair_features of
prism_cli.simulate.references, standardised over chr1-2 candidates, L2 equal to
sklearn's C = LR_C) on the training cells' chr1-2 rows: phase A, the head alone (L-BFGS);
phase B, Adam on the head (lr 1e-3) and the motif layer (``--lr``):

* ``kernels``: every log-odds entry of every motif (the motif layer itself);
* ``calibration``: one scale and one threshold shift per motif (score -> a * score - b).

Every ``--eval-every`` steps it reports the AUPR of the held-out cell's chr3 rows and of
the training cells' chr3 rows (both validation chromosome: chr4, the benchmarks' query,
is never read) and the motifs' mean best correlation with the planted PWMs (the kernels
as PWMs: softmax over bases of log-odds * ln 2).  One torch thread: about 5 s a step for
3000 training elements of 500 bp on CPU-2.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd


class SoftScan:
    """Differentiable both-strand soft occupancy of M motifs over fixed windows.

    windows : codes (N, L) uint8; scanner : the MotifScanner (log-odds and thresholds)
    whose soft occupancy this differentiates; its windows that run off the end or hold
    an N are left out here too.
    occupancy(kernel (M, 4, W_max), scale (M,), shift (M,), rows) -> (len(rows), M)."""

    def __init__(self, windows: np.ndarray, scanner):
        import torch

        from prism_cli.encode import one_hot

        self.m = len(scanner.log_odds)
        self.widths = [len(lo) for lo in scanner.log_odds]
        self.w_max = max(self.widths)
        self.kernel0 = np.zeros((self.m, 4, self.w_max), np.float32)
        mask = np.zeros((self.m, 1, self.w_max), np.float32)
        for i, lo in enumerate(scanner.log_odds):
            self.kernel0[i, :, :len(lo)] = lo.T
            mask[i, :, :len(lo)] = 1
        self.mask = torch.from_numpy(mask)
        self.thresholds = torch.tensor(scanner.thresholds, dtype=torch.float32)
        self.length = windows.shape[1]
        self.x = one_hot(windows, device="cpu")                        # (N, 4, L), N = 0
        self.ok = torch.isfinite(scanner.scores(windows))              # (N, M, L)

    def occupancy(self, kernel, scale, shift, rows: np.ndarray):
        import torch
        import torch.nn.functional as F

        k = kernel * self.mask
        rc = [F.pad(k[i, :, :w].flip(0).flip(1), (0, self.w_max - w))
              for i, w in enumerate(self.widths)]        # complement, reversed, left-aligned
        kk = torch.cat([k, torch.stack(rc)], 0)
        s = F.conv1d(F.pad(self.x[rows], (0, self.w_max - 1)), kk)[..., :self.length]
        s = torch.maximum(s[:, :self.m], s[:, self.m:])             # (B, M, L)
        z = scale[None, :, None] * s - (self.thresholds + shift)[None, :, None]
        return (torch.sigmoid(z) * self.ok[rows]).sum(-1)


def kernel_pwms(kernel: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    """Log-odds kernels (M, 4, W_max) -> PWMs (W_m, 4): softmax over bases of lo * ln 2."""
    out = []
    for k, w in zip(kernel, widths):
        lo = k[:, :w].T.astype(np.float64) * math.log(2)
        p = np.exp(lo - lo.max(1, keepdims=True))
        out.append(p / p.sum(1, keepdims=True))
    return out


def finetune(world, motifs, held_out: int, what: str, steps: int, lr: float,
             eval_every: int, log=print) -> tuple[list[dict], dict]:
    """Phase A then B for one held-out cell.  Returns one row per evaluation (step 0 =
    phase A) and the occupancies (n_elements, M) at step 0 ("start") and at the
    evaluation best on the training cells' chr3 rows ("chosen": what a training run could
    pick without the held-out cell)."""
    import torch
    import torch.nn.functional as F

    from prism_cli.metrics import aupr
    from prism_cli.motifs.pwm import pwm_correlation
    from prism_cli.motifs.scan import MotifScanner
    from prism_cli.simulate.references import LR_C, element_windows

    windows = element_windows(world)
    el_chrom = world.elements["chrom_idx"].to_numpy()
    scanner = MotifScanner(motifs)
    scanner.calibrate(windows[el_chrom < 2])
    scan = SoftScan(windows, scanner)
    kernel = torch.nn.Parameter(torch.from_numpy(scan.kernel0.copy()))
    scale = torch.nn.Parameter(torch.ones(scan.m))
    shift = torch.nn.Parameter(torch.zeros(scan.m))

    cand, rows = world.candidates, world.rows
    enh, prom = cand["enh"].to_numpy(), cand["prom"].to_numpy()
    chrom = el_chrom[enh]
    r_cand, r_cell = rows["cand"].to_numpy(), rows["cell"].to_numpy()
    y = rows["label"].to_numpy()
    train = (chrom[r_cand] < 2) & (r_cell != held_out)
    keys, weight = np.unique(r_cand[train] * 2 + y[train], return_counts=True)
    t_cand = keys // 2
    t_y = torch.tensor(keys % 2, dtype=torch.float32)
    t_w = torch.tensor(weight, dtype=torch.float32)
    val = {name: (r_cand[m], y[m]) for name, m in (
        ("held_out_chr3", (chrom[r_cand] == 2) & (r_cell == held_out)),
        ("train_cells_chr3", (chrom[r_cand] == 2) & (r_cell != held_out)))}
    log_d = torch.tensor(np.log10(cand["distance"].to_numpy()), dtype=torch.float32)
    every = np.arange(len(windows))             # tables cover chr4 too (never read here)
    train_el = np.unique(np.concatenate([enh[t_cand], prom[t_cand]]))

    def features(occ, c):     # references.pair_features, in torch for the gradient
        m = torch.log1p(occ)
        me, mp = m[enh[c]], m[prom[c]]
        return torch.cat([me, mp, (me[:, :, None] * mp[:, None, :]).flatten(1),
                          log_d[c][:, None]], 1)

    with torch.no_grad():
        occ0 = scan.occupancy(kernel, scale, shift, every)
        f0 = features(occ0, np.flatnonzero(chrom < 2))
        mu, sd = f0.mean(0), f0.std(0).clamp_min(1e-6)
    head = torch.nn.Linear(f0.shape[1], 1)
    lam = 1.0 / (LR_C * float(t_w.sum()))        # sklearn: 0.5 |w|^2 + C sum w_i loss_i

    def loss(occ):
        z = head((features(occ, t_cand) - mu) / sd).squeeze(1)
        return (F.binary_cross_entropy_with_logits(z, t_y, weight=t_w, reduction="sum")
                / t_w.sum() + 0.5 * lam * (head.weight ** 2).sum())

    planted = [m.pwm for m in world.motifs]

    def report(step, occ):
        with torch.no_grad():
            row = {"held_out": world.cell_names[held_out], "what": what, "step": step,
                   "train_loss": round(float(loss(occ)), 5)}
            for name, (c, yy) in val.items():
                row[f"aupr_{name}"] = round(aupr(yy, head((features(occ, c) - mu) / sd)
                                                 .squeeze(1).numpy()), 4)
        pwms = kernel_pwms((kernel * scale[:, None, None]).detach().numpy(), scan.widths)
        row["mean_best_corr"] = round(float(np.mean(
            [max(pwm_correlation(q, p) for q in pwms) for p in planted])), 4)
        log("  ".join(f"{k} {v}" for k, v in row.items()))
        return row

    opt = torch.optim.LBFGS(head.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = loss(occ0)
        value.backward()
        return value

    opt.step(closure)
    out = [report(0, occ0)]
    occupancies = {"start": occ0.numpy(), "chosen": occ0.numpy()}
    layer = [kernel] if what == "kernels" else [scale, shift]
    adam = torch.optim.Adam([{"params": layer, "lr": lr},
                             {"params": head.parameters(), "lr": 1e-3}])
    for step in range(1, steps + 1):
        adam.zero_grad()
        occ = occ0.clone()
        occ[train_el] = scan.occupancy(kernel, scale, shift, train_el)
        loss(occ).backward()
        adam.step()
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                occ = scan.occupancy(kernel, scale, shift, every)
                out.append(report(step, occ))
            if out[-1]["aupr_train_cells_chr3"] > max(r["aupr_train_cells_chr3"]
                                                      for r in out[:-1]):
                occupancies["chosen"] = occ.numpy()
    return out, occupancies


def write_table(path: Path, world, occupancy: np.ndarray, names: list[str]) -> None:
    """The occupancies as a `--element-features table:` TSV (docs/features.md)."""
    coords = world.elements[["chrom", "start", "end", "name"]].reset_index(drop=True)
    df = pd.concat([coords, pd.DataFrame(occupancy, columns=names)], axis=1)
    df.rename(columns={"chrom": "#chrom"}).to_csv(path, sep="\t", index=False,
                                                  float_format="%.5g")


def main(argv=None) -> None:
    import torch

    from prism_cli.motifs.pwm import read_meme
    from prism_cli.simulate import SimConfig, simulate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--genome-size", type=int, default=20_000_000)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--motifs", type=Path, required=True, help="MEME file of the motifs")
    ap.add_argument("--held-out", default="CELL0,CELL1,CELL2")
    ap.add_argument("--what", choices=("kernels", "calibration"), default="kernels")
    ap.add_argument("--steps", type=int, default=75)
    ap.add_argument("--lr", type=float, default=0.005, help="Adam lr of the motif layer")
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("-o", "--out", type=Path, help="write the rows as TSV")
    ap.add_argument("--tables", type=Path,
                    help="folder for feature tables CELL_start.tsv / CELL_chosen.tsv per "
                         "held-out cell (to train PRISM on them with --features table:)")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    world = simulate(SimConfig(seed=args.world_seed, genome_size=args.genome_size,
                               pairs=args.pairs))
    motifs = read_meme(args.motifs, source="discover")
    rows = []
    for cell in args.held_out.split(","):
        got, occupancies = finetune(world, motifs, world.cell_names.index(cell),
                                    args.what, args.steps, args.lr, args.eval_every)
        rows += got
        if args.tables:
            args.tables.mkdir(parents=True, exist_ok=True)
            for key, occ in occupancies.items():
                write_table(args.tables / f"{cell}_{key}.tsv", world, occ,
                            [m.name for m in motifs])
        if args.out:
            pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
