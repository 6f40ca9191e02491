"""Do the sequence towers learn motifs?  A fast diagnostic on a simulated world.

Trains only the backbone (towers + cross-attention + a U head, ``--arch crossattn`` code)
on labels pooled over cells, on chromosomes chr1-2, and scores chr4 (never trained on):

* reference ceilings from the simulator: U alone, the mean-environment score, and
  logistic regression on the *true* motif counts (what a perfect motif detector gives);
* the backbone's held-out-chromosome AUROC/AUPR per epoch;
* motif recovery: for each planted PWM, the best Pearson correlation of a first-layer
  filter with its log-odds matrix (either strand, any offset).

    python -m bench.probes.tower --genome-size 4000000 --pairs 20000 --epochs 20 \
        --set channels=64 --set n_tokens=4

No part of PRISM depends on this file; it exists to choose tower settings on held-out
chromosomes (never on the test split of a benchmark).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from prism_cli.metrics import aupr, auroc
from prism_cli.model import ModelConfig, build_model
from prism_cli.simulate import SimConfig, motif_content, row_scores, simulate
from prism_cli.encode import one_hot
from prism_cli.train.episodes import augment_codes


def windows(world, kind: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (n, length) of the elements of one kind, and their element indices."""
    el = world.elements
    idx = np.flatnonzero(el.kind.to_numpy() == kind)
    out = np.full((len(idx), length), 4, np.uint8)
    for i, k in enumerate(idx):
        seq = world.sequences[el.chrom_idx.iat[k]]
        c = (el.start.iat[k] + el.end.iat[k]) // 2
        a = c - length // 2
        lo, hi = max(a, 0), min(a + length, len(seq))
        out[i, lo - a:hi - a] = seq[lo:hi]
    return out, idx


def true_count_features(world, rows) -> np.ndarray:
    """Pair features from the true implanted counts: m_e (x) m_p, env contents, distance."""
    cand = world.candidates.loc[rows.cand.to_numpy()]
    m = motif_content(world.counts)
    roles = np.array([mo.role for mo in world.motifs])
    me, mp = m[cand.enh.to_numpy()], m[cand.prom.to_numpy()]
    ce, cp = me[:, roles == "compat"], mp[:, roles == "compat"]
    outer = (ce[:, :, None] * cp[:, None, :]).reshape(len(cand), -1)
    env = np.hstack([me[:, roles == "env"], mp[:, roles == "env"]])
    return np.hstack([outer, env, np.log10(cand.distance.to_numpy())[:, None]])


def motif_recovery(filters: np.ndarray, motifs) -> list[float]:
    """Best correlation of any filter (C, 4, W) with each PWM's log-odds, both strands."""
    best = []
    for mo in motifs:
        lo = np.log(mo.pwm / 0.25).T                      # (4, w)
        w = lo.shape[1]
        scores = []
        for pattern in (lo, lo[::-1, ::-1]):
            for f in filters:
                for off in range(f.shape[1] - w + 1):
                    a, b = f[:, off:off + w].ravel(), pattern.ravel()
                    scores.append(np.corrcoef(a, b)[0, 1])
        best.append(float(np.nanmax(scores)))
    return best


def _key_values(items: list[str]) -> dict:
    """["key=JSON value", ...] -> {key: value}."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in items)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genome-size", type=int, default=4_000_000)
    ap.add_argument("--pairs", type=int, default=20_000)
    ap.add_argument("--sim-seed", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--max-shift", type=int, default=50)
    ap.add_argument("--mutation-rate", type=float, default=0.1)
    ap.add_argument("--sim", action="append", default=[], help="SimConfig key=value")
    ap.add_argument("--linear-head", action="store_true",
                    help="replace the crossattn MLP head by one Linear layer")
    ap.add_argument("--linear-distance", action="store_true",
                    help="replace the distance MLP by a linear term in log10 distance")
    ap.add_argument("--no-token-norm", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="ModelConfig key=value")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    sim_kw = _key_values(args.sim)
    world = simulate(SimConfig(seed=args.sim_seed, genome_size=args.genome_size,
                               pairs=args.pairs, **sim_kw))
    L = world.config.window_length
    rows = world.rows.reset_index(drop=True)
    cand = world.candidates.loc[rows.cand.to_numpy()].reset_index(drop=True)
    chrom = world.elements.chrom.to_numpy()[cand.enh.to_numpy()]
    y = rows.label.to_numpy().astype(np.float32)
    train, test = np.isin(chrom, ["chr1", "chr2"]), chrom == "chr4"
    ref = row_scores(world)
    result = {"train_rows": int(train.sum()), "test_rows": int(test.sum()),
              "elements": world.elements.kind.value_counts().to_dict()}
    for name, s in {"U": ref.U, "mean_env": ref.mean_env, "oracle": ref.p}.items():
        s = s.to_numpy()[test]
        result[f"ref_{name}"] = (auroc(y[test], s), aupr(y[test], s))
    X = true_count_features(world, rows)
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(X[train], y[train])
    s = lr.decision_function(X[test])
    result["ref_true_count_lr"] = (auroc(y[test], s), aupr(y[test], s))
    print(json.dumps(result))

    enh, enh_idx = windows(world, "enhancer", L)
    prom, prom_idx = windows(world, "promoter", L)
    e_row = np.searchsorted(enh_idx, cand.enh.to_numpy())
    p_row = np.searchsorted(prom_idx, cand.prom.to_numpy())
    logd = np.log10(cand.distance.to_numpy()).astype(np.float32)
    cfg = ModelConfig(arch="crossattn", enhancer_length=L, promoter_length=L,
                      distance_mean=float(logd.mean()), distance_sd=float(logd.std()),
                      **_key_values(args.set))
    model = build_model(cfg)
    if args.linear_distance:
        class LinearDistance(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(1, 1)

            def forward(self, log_d):
                return self.lin((log_d - cfg.distance_mean)[:, None]).squeeze(-1)
        model.distance_energy = LinearDistance()
    if args.no_token_norm:
        model.enhancer_tower.norm = torch.nn.Identity()
        model.promoter_tower.norm = torch.nn.Identity()
    if args.linear_head:
        model.head = torch.nn.Linear(cfg.d_z, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    def augment(codes: np.ndarray) -> torch.Tensor:
        """The training augmentation (prism_cli.train.episodes) in train mode."""
        if model.training:
            codes = augment_codes(codes, args.max_shift, args.mutation_rate, rng)
        return torch.from_numpy(np.ascontiguousarray(codes))

    def forward(sel: np.ndarray) -> torch.Tensor:
        ue, ie = np.unique(e_row[sel], return_inverse=True)
        up, ip = np.unique(p_row[sel], return_inverse=True)
        te = model.encode_enhancers(augment(enh[ue]))[torch.from_numpy(ie)]
        tp = model.encode_promoters(augment(prom[up]))[torch.from_numpy(ip)]
        return model.pair(te, tp, torch.from_numpy(logd[sel]))["U"]

    train_idx = np.flatnonzero(train)
    history = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = rng.permutation(train_idx)
        losses = []
        for i in range(0, len(perm), args.batch):
            sel = perm[i:i + args.batch]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                forward(sel), torch.from_numpy(y[sel]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            s_test = np.concatenate([forward(np.flatnonzero(test)[i:i + 1024]).numpy()
                                     for i in range(0, int(test.sum()), 1024)])
        with torch.no_grad():
            x = torch.from_numpy(enh[:256])
            h = model.enhancer_tower.motifs(one_hot(x))
            alive = float((h.amax(-1) > 0).float().mean())
            tok = model.encode_enhancers(x)
            tok_sd = float(tok.std(0).mean())
        rec = motif_recovery(model.enhancer_tower.motifs.weight.detach().numpy(),
                             world.motifs)
        roles = [m.role for m in world.motifs]
        h = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
             "test_auroc": auroc(y[test], s_test), "test_aupr": aupr(y[test], s_test),
             "recovery_compat": float(np.mean([r for r, o in zip(rec, roles) if o == "compat"])),
             "recovery_env": float(np.mean([r for r, o in zip(rec, roles) if o == "env"])),
             "alive": alive, "token_sd": tok_sd, "seconds": time.perf_counter() - t0}
        history.append(h)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()}),
              flush=True)
    result["history"] = history
    result["config"] = cfg.to_dict()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
