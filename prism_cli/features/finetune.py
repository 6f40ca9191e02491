"""Fine-tuning each discovered motif's threshold and softness on pair labels, kept only
where it wins on the validation chromosomes (issue 11's optional stage; train config
``motif_finetune_steps``, off by default: it wins on the 20 Mb simulated world and loses
on the real data, docs/benchmarks.md "fine-tuning the motifs' calibration").

    result = finetune_calibration(scanner, enh_codes, prom_codes, train, val, settings)
    result.scanner        the scanner with the chosen thresholds and softnesses (or the
                          same scanner when no step beat step 0)

A motif's soft occupancy in an element is sum_w sigmoid((s_w - t) / sigma) over its
windows w (best-strand score s_w, bits).  The stage fits a pair regression on these
occupancies -- the simulator's cross-cell regression (prism_cli/simulate/references.py:
features [m(e), m(p), m(e)_i * m(p)_j, log10 d] with m = log1p(occupancy), standardised
over the training rows, L2 as sklearn's C = LR_C) -- on the training rows, then moves
each motif's calibration with it: z = (a * s - t - b) / sigma, that is threshold
(t + b) / a and softness sigma / a.  Phase A fits the regression alone (L-BFGS); phase
B takes ``steps`` Adam steps on the regression and (a, b) together.  Every
``eval_every`` steps the regression's AUPR on the validation rows is measured; the best
step is kept, and step 0 (no change) unless a later one beats it.

The windows are scored once (``MotifScanner.windows``: every window within ``SOFT_CUT``
softnesses + ``EXTRA_BITS`` of the threshold), so a step is a sparse sum, not a scan; (a, b)
are clamped so that the windows the fine-tuned scanner reads (within ``SOFT_CUT``
softnesses of its threshold) are among them, and the occupancies trained on equal the
scanner's.  Why calibration and not the whole matrix: fine-tuning every log-odds entry
gives the same validation gain, and leaves the motifs' shapes as they were
(bench/probes/motif_finetune.py, docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..motifs.lookup import SOFT_CUT

EXTRA_BITS = 3.0          # windows collected: within SOFT_CUT softnesses + this of t
SCALE_RANGE = (0.5, 2.0)  # a: softness between twice and half the label-free one


@dataclass
class FinetuneSettings:
    """TrainConfig's motif_finetune_* fields."""
    steps: int = 0           # Adam steps of phase B; 0: off
    lr: float = 0.005        # Adam learning rate of (a, b); the regression's is 1e-3
    eval_every: int = 5
    max_rows: int = 100000   # distinct training (pair, label) rows used at most
    seed: int = 0


@dataclass
class PairRows:
    """Distinct (enhancer, promoter, label) rows with their multiplicity: enh, prom
    int64 (n,) element indices; log_d float32 (n,) log10 distance; y float32 (n,);
    weight float32 (n,)."""
    enh: np.ndarray
    prom: np.ndarray
    log_d: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_pairs(cls, enh_idx, prom_idx, log_d, labels, rows: np.ndarray,
                   max_rows: int = 0, seed: int = 0) -> "PairRows":
        """The labelled pair rows ``rows`` of a dataset, repeats merged; at most
        ``max_rows`` distinct rows (a random subset fixed by ``seed``) when > 0."""
        rows = rows[labels[rows] >= 0]
        key = np.stack([enh_idx[rows], prom_idx[rows], labels[rows]], 1)
        uniq, first, count = np.unique(key, axis=0, return_index=True, return_counts=True)
        if 0 < max_rows < len(uniq):
            keep = np.sort(np.random.default_rng(seed).choice(len(uniq), max_rows,
                                                              replace=False))
            uniq, first, count = uniq[keep], first[keep], count[keep]
        return cls(uniq[:, 0].astype(np.int64), uniq[:, 1].astype(np.int64),
                   np.asarray(log_d)[rows[first]].astype(np.float32),
                   uniq[:, 2].astype(np.float32), count.astype(np.float32))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def has_both_classes(self) -> bool:
        return len(self.y) > 0 and self.y.min() != self.y.max()


class SparseOccupancy:
    """Differentiable soft occupancy of the scanner's motifs in fixed sequences.

    codes (N, L) uint8 are scored once; ``__call__(a, b)`` with a, b (M,) tensors gives
    float32 (N, M): sum over windows of sigmoid((a * s - t - b) / sigma) where that is
    >= -SOFT_CUT (the windows ``MotifScanner.soft_occupancy`` reads at threshold
    (t + b) / a and softness sigma / a)."""

    def __init__(self, scanner, codes: np.ndarray, sigma: np.ndarray, below: np.ndarray):
        import torch

        seq, motif, score = scanner.windows(codes, below)
        self.shape = (len(codes), len(scanner.motifs))
        self.index = torch.from_numpy(seq * self.shape[1] + motif)
        self.motif = torch.from_numpy(motif)
        self.score = torch.from_numpy(score)
        self.t = torch.tensor(scanner._on_grid(scanner.thresholds), dtype=torch.float32)
        self.sigma = torch.tensor(sigma, dtype=torch.float32)

    def __call__(self, a, b):
        import torch

        m = self.motif
        z = (a[m] * self.score - self.t[m] - b[m]) / self.sigma[m]
        w = torch.sigmoid(z) * (z >= -SOFT_CUT)
        out = torch.zeros(self.shape[0] * self.shape[1], dtype=w.dtype)
        return out.index_add(0, self.index, w).view(self.shape)


@dataclass
class FinetuneResult:
    scanner: object                  # MotifScanner, fine-tuned or the input one
    step: int                        # the kept step (0: unchanged)
    history: list = field(default_factory=list)   # [{"step", "val_aupr"}]

    def record(self) -> dict:
        """What the checkpoint keeps of the fine-tuning (JSON)."""
        start = self.history[0]["val_aupr"] if self.history else None
        kept = next((h["val_aupr"] for h in self.history if h["step"] == self.step), None)
        return {"step": self.step, "steps": self.history[-1]["step"] if self.history else 0,
                "val_aupr_start": start, "val_aupr": kept}


class PairRegression:
    """The cross-cell pair regression of simulate/references.py on standardised
    features [m(e), m(p), m(e)_i * m(p)_j, log10 d], computed without forming the M * M
    products: weights over standardised features w -> raw weights w / sd, and the
    interaction term is ((m(e) @ W) * m(p)).sum(1).

    Built from the training rows' me, mp (n, M) and log_d (n,) (the means and sds of
    the features); ``__call__(me, mp, log_d)`` -> logits (n,)."""

    def __init__(self, me, mp, log_d, seed: int = 0):
        import torch

        n, m = me.shape
        self.m = m
        mean_x = (me.T @ mp) / n                                    # (M, M)
        var_x = (me.T ** 2 @ mp ** 2) / n - mean_x ** 2
        self.mu = torch.cat([me.mean(0), mp.mean(0), mean_x.flatten(), log_d.mean()[None]])
        var = torch.cat([me.var(0, unbiased=False), mp.var(0, unbiased=False),
                         var_x.flatten(), log_d.var(unbiased=False)[None]])
        self.sd = var.clamp_min(1e-12).sqrt().clamp_min(1e-6)
        g = torch.Generator().manual_seed(seed)
        bound = 1.0 / len(self.mu) ** 0.5       # nn.Linear's initialisation
        self.weight = torch.nn.Parameter((torch.rand(len(self.mu), generator=g) * 2 - 1)
                                         * bound)
        self.bias = torch.nn.Parameter(torch.zeros(()))

    def parameters(self) -> list:
        return [self.weight, self.bias]

    def penalty(self):
        return (self.weight ** 2).sum()

    def __call__(self, me, mp, log_d):
        m = self.m
        v = self.weight / self.sd
        const = self.bias - (self.weight * self.mu / self.sd).sum()
        inter = ((me @ v[2 * m:-1].view(m, m)) * mp).sum(1)
        return const + me @ v[:m] + mp @ v[m:2 * m] + inter + log_d * v[-1]


def finetune_calibration(scanner, enh_codes: np.ndarray, prom_codes: np.ndarray,
                         train: PairRows, val: PairRows, settings: FinetuneSettings,
                         log=None) -> FinetuneResult:
    """Fine-tune ``scanner``'s thresholds and softnesses on ``train``, choose the step on
    ``val`` (module docstring).  enh_codes / prom_codes: uint8 (n_enhancers, L_e) /
    (n_promoters, L_p), indexed by the rows' enh / prom.  The scanner must read soft
    occupancies (``softness`` set)."""
    import torch
    import torch.nn.functional as F

    from ..metrics import aupr
    from ..simulate.references import LR_C

    say = log or (lambda msg: None)
    if scanner.softness is None:
        raise ValueError("fine-tuning needs soft occupancies (motif_softness > 0)")
    sigma = scanner._softness_vector(scanner.softness)
    below = SOFT_CUT * sigma + EXTRA_BITS
    t = scanner._on_grid(scanner.thresholds)
    # only the elements the rows read are scanned; rows are re-indexed into them
    occ = {}
    local = {}
    for role, codes, ids in (("enh", enh_codes, np.concatenate([train.enh, val.enh])),
                             ("prom", prom_codes, np.concatenate([train.prom, val.prom]))):
        uniq, inv = np.unique(ids, return_inverse=True)
        occ[role] = SparseOccupancy(scanner, np.asarray(codes)[uniq], sigma, below)
        local[role] = (inv[:len(train)], inv[len(train):])
    n_windows = sum(len(o.score) for o in occ.values())

    def tensors(rows: PairRows, i: int):
        return (torch.from_numpy(local["enh"][i]), torch.from_numpy(local["prom"][i]),
                torch.from_numpy(rows.log_d), torch.from_numpy(rows.y),
                torch.from_numpy(rows.weight))

    tr, va = tensors(train, 0), tensors(val, 1)
    a = torch.nn.Parameter(torch.ones(len(t)))
    b = torch.nn.Parameter(torch.zeros(len(t)))

    def contents(rows):
        """log1p occupancies of the rows' enhancers and promoters: (n, M), (n, M)."""
        return (torch.log1p(occ["enh"](a, b))[rows[0]],
                torch.log1p(occ["prom"](a, b))[rows[1]])

    with torch.no_grad():
        fixed = contents(tr)                 # phase A: the occupancies do not move
    head = PairRegression(*fixed, tr[2], seed=settings.seed)
    total = float(tr[4].sum())
    lam = 1.0 / (LR_C * total)      # sklearn's 0.5 |w|^2 + C sum_i loss_i, over C sum_i

    def loss(me=None, mp=None):
        if me is None:
            me, mp = contents(tr)
        value = F.binary_cross_entropy_with_logits(head(me, mp, tr[2]), tr[3], weight=tr[4],
                                                   reduction="sum") / total
        return value + 0.5 * lam * head.penalty()

    def logits(rows):
        return head(*contents(rows), rows[2])

    history = []

    def evaluate(step: int):
        with torch.no_grad():
            history.append({"step": step,
                            "val_aupr": round(aupr(val.y, logits(va).numpy()), 6)})

    lbfgs = torch.optim.LBFGS(head.parameters(), max_iter=500,
                              line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        value = loss(*fixed)
        value.backward()
        return value

    lbfgs.step(closure)
    del fixed
    evaluate(0)
    best = (history[0]["val_aupr"], 0, a.detach().clone(), b.detach().clone())
    adam = torch.optim.Adam([{"params": [a, b], "lr": settings.lr},
                             {"params": head.parameters(), "lr": 1e-3}])
    t_low = torch.tensor(t - below, dtype=torch.float32)    # lowest score collected
    t32 = torch.tensor(t, dtype=torch.float32)
    s32 = torch.tensor(sigma, dtype=torch.float32)
    for step in range(1, settings.steps + 1):
        adam.zero_grad()
        loss().backward()
        adam.step()
        with torch.no_grad():
            # keep (t + b - SOFT_CUT sigma) / a, the lowest window read, >= t_low
            a.clamp_(*SCALE_RANGE)
            b.copy_(torch.maximum(b, a * t_low - t32 + SOFT_CUT * s32))
        if step % settings.eval_every == 0 or step == settings.steps:
            evaluate(step)
            if history[-1]["val_aupr"] > best[0]:
                best = (history[-1]["val_aupr"], step, a.detach().clone(), b.detach().clone())
    _, step, a_best, b_best = best
    say(f"motif calibration fine-tuned on {len(train)} training pair rows "
        f"({n_windows} windows): validation AUPR of the regression "
        f"{history[0]['val_aupr']:.4f} at step 0, {best[0]:.4f} at step {step} (kept)")
    if step == 0:
        return FinetuneResult(scanner, 0, history)
    return FinetuneResult(calibrated(scanner, a_best.double().numpy(),
                                     b_best.double().numpy()), step, history)


def calibrated(scanner, a: np.ndarray, b: np.ndarray):
    """A copy of ``scanner`` whose soft occupancy is that of z = (a * s - t - b) /
    sigma: thresholds (t + b) / a, softnesses sigma / a.  a, b (M,)."""
    from ..motifs.scan import MotifScanner

    tuned = MotifScanner.from_state(scanner.state())
    t = scanner._on_grid(scanner.thresholds)
    tuned.thresholds = tuned._check_thresholds((t + b) / a)
    tuned.softness = scanner._softness_vector(scanner.softness) / a
    return tuned
