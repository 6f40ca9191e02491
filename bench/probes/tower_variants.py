"""Minimal tower variants for bench/probes/tower.py's questions (diagnostic, not product
code).

Settings are KEY=VALUE arguments (the table in ``SETTINGS``): C (filters / d_model),
W (filter width), pool (max|lse|mean), bil (weight of the bilinear e x p term), shift /
mut / fdrop (augmentation), pre (label-free pretraining steps), oracle_init / freeze
(start from the simulator's PWMs), real=1 (PRISM's SequenceTower with one token in the
conv model), enc=1 (PRISM's SequenceTower + PairEncoder + linear head), gs / pairs /
sharp / mlen (the world), epochs, lr, wd.  Run from the repository root:

    python -m bench.probes.tower_variants epochs=12 C=16 bil=0 shift=50 mut=0.1
    python -m bench.probes.tower_variants epochs=4 C=16 enc=1

Prints per epoch: epoch, training loss, chr4 AUROC, AUPR, (compat, env) motif recovery, s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.probes.tower import motif_recovery, windows
from prism_cli.encode import one_hot
from prism_cli.metrics import aupr, auroc
from prism_cli.simulate import SimConfig, simulate


def _flag(value: str) -> bool:
    return bool(int(value))


def _length_range(value: str) -> tuple[int, int]:
    """"8,12" (or "(8,12)") -> (8, 12): the motif length range of SimConfig."""
    lo, hi = (int(v) for v in value.strip("()").split(","))
    return lo, hi


def _pool(value: str) -> str:
    if value not in ("max", "lse", "mean"):
        raise ValueError(f"pool must be max, lse or mean, not {value!r}")
    return value


# KEY: (parser, default, meaning)
SETTINGS = {
    "seed": (int, 0, "torch seed"),
    "C": (int, 32, "filters of the conv tower / d_model of PRISM's tower"),
    "W": (int, 15, "filter width of the conv tower"),
    "pool": (_pool, "max", "conv tower pooling: max (ReLU then max), lse, mean (softplus)"),
    "gs": (int, 4_000_000, "simulated genome size"),
    "pairs": (int, 20_000, "simulated labelled pairs"),
    "sharp": (float, 0.7, "SimConfig.motif_sharp_fraction"),
    "mlen": (_length_range, (8, 12), "SimConfig.motif_length as LO,HI"),
    "real": (_flag, False, "1: PRISM's SequenceTower (one token) in the conv model"),
    "enc": (_flag, False, "1: PRISM's SequenceTower + PairEncoder + linear head"),
    "nt": (int, 1, "with enc=1: tokens per element"),
    "nolnz": (_flag, False, "with enc=1: z from the encoder's layers, no output norm"),
    "nod": (_flag, False, "with enc=1: no linear distance term"),
    "bil": (float, 1.0, "weight of the bilinear term of the conv model"),
    "shift": (int, 0, "training: random shift of each window by up to this many bp"),
    "mut": (float, 0.0, "training: base substitution rate"),
    "fdrop": (float, 0.0, "training: dropout on the pooled tower features"),
    "oracle_init": (_flag, False, "1: first-layer filters = the planted PWMs' log-odds"),
    "freeze": (_flag, False, "with oracle_init=1: keep those filters fixed"),
    "pre": (int, 0, "label-free pretraining steps (element vs chunk-shuffled element)"),
    "chunk": (int, 2, "pretraining: chunk size of the shuffle"),
    "epochs": (int, 10, "training epochs"),
    "lr": (float, 3e-3, "AdamW learning rate"),
    "wd": (float, 1e-4, "AdamW weight decay"),
}
WINDOW = 500


def parse_settings(items: list[str]) -> dict:
    """["KEY=VALUE", ...] -> every setting of SETTINGS, parsed (defaults for the rest)."""
    out = {k: default for k, (_, default, _) in SETTINGS.items()}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in SETTINGS:
            raise ValueError(f"{item!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(SETTINGS)}")
        out[key] = SETTINGS[key][0](value)
    return out


class ProbeData:
    """The world's pairs as model inputs: one-hot windows, row indices, log distance."""

    def __init__(self, world):
        self.world = world
        rows = world.rows.reset_index(drop=True)
        cand = world.candidates.loc[rows.cand.to_numpy()].reset_index(drop=True)
        chrom = world.elements.chrom.to_numpy()[cand.enh.to_numpy()]
        self.y = rows.label.to_numpy().astype(np.float32)
        self.train, self.test = np.isin(chrom, ["chr1", "chr2"]), chrom == "chr4"
        self.enh, enh_idx = windows(world, "enhancer", WINDOW)
        self.prom, prom_idx = windows(world, "promoter", WINDOW)
        self.enh_row = np.searchsorted(enh_idx, cand.enh.to_numpy())
        self.prom_row = np.searchsorted(prom_idx, cand.prom.to_numpy())
        self.log_d = torch.from_numpy((np.log10(cand.distance.to_numpy()) - 4)
                                      .astype(np.float32))
        self.enh_onehot = one_hot(torch.from_numpy(self.enh))
        self.prom_onehot = one_hot(torch.from_numpy(self.prom))


class ConvTower(nn.Module):
    """One conv layer (C x W, both strands), pooled over positions: (B, 4, L) -> (B, C)."""

    def __init__(self, opt: dict):
        super().__init__()
        self.pool = opt["pool"]
        self.conv = nn.Conv1d(4, opt["C"], opt["W"])

    def forward(self, x):
        h = torch.cat([self.conv(x), self.conv(x.flip(-2).flip(-1))], -1)
        if self.pool == "max":
            return F.relu(h).amax(-1)
        if self.pool == "lse":
            return torch.logsumexp(h, -1)
        return F.softplus(h).mean(-1) * 10


class PrismTower(nn.Module):
    """PRISM's SequenceTower with one token of width C, averaged: (B, 4, L) -> (B, C)."""

    def __init__(self, opt: dict):
        super().__init__()
        from prism_cli.model import ModelConfig
        from prism_cli.model.towers import SequenceTower

        self.t = SequenceTower(ModelConfig(arch="crossattn", n_tokens=1, d_model=opt["C"],
                                           n_heads=1, dropout=0.0))
        self.conv = self.t.motifs

    def forward(self, x):
        return self.t(x).mean(1)


class PrismEncoderModel(nn.Module):
    """PRISM's SequenceTower + PairEncoder + a linear head (+ a linear distance term):
    pair rows -> logits (B,)."""

    def __init__(self, opt: dict, data: ProbeData):
        super().__init__()
        from prism_cli.model import ModelConfig
        from prism_cli.model.attention import PairEncoder
        from prism_cli.model.towers import SequenceTower

        self.opt, self.data = opt, data
        cfg = ModelConfig(arch="crossattn", n_tokens=opt["nt"], d_model=opt["C"], n_heads=1,
                          dropout=0.0, distance_mean=0.0, distance_sd=1.0)
        self.te, self.tp = SequenceTower(cfg), SequenceTower(cfg)
        self.enc = PairEncoder(cfg)
        self.head = nn.Linear(cfg.d_z, 1)
        self.te.conv = self.te.motifs
        self.d = nn.Linear(1, 1)

    def forward(self, sel):
        d, opt = self.data, self.opt
        ue, ie = np.unique(d.enh_row[sel], return_inverse=True)
        up, ip = np.unique(d.prom_row[sel], return_inverse=True)
        fe = self.te(d.enh_onehot[ue])[ie]
        fp = self.tp(d.prom_onehot[up])[ip]
        log_d = d.log_d[sel]
        z = self.enc(fe, fp, log_d)
        if opt["nolnz"]:
            enc = self.enc
            tokens = torch.cat([enc.e_to_p(fe, fp), enc.p_to_e(fp, fe),
                                enc.distance_token(enc.distance(log_d)).unsqueeze(1)], 1)
            z = enc.out(torch.cat([enc.pool(tokens).flatten(1),
                                   enc.bilinear_e(fe.mean(1)) * enc.bilinear_p(fp.mean(1)),
                                   fe.mean(1), fp.mean(1), enc.distance(log_d)], -1))
        return self.head(z).squeeze(-1) + (0 if opt["nod"] else
                                           self.d(log_d[:, None]).squeeze(-1))


class ConvPairModel(nn.Module):
    """Two towers (ConvTower, or PrismTower with real=1), a bilinear e x p term, linear
    terms of each element and a linear distance term: pair rows -> logits (B,)."""

    def __init__(self, opt: dict, data: ProbeData):
        super().__init__()
        self.opt, self.data = opt, data
        tower = PrismTower if opt["real"] else ConvTower
        C = opt["C"]
        self.te, self.tp = tower(opt), tower(opt)
        self.B = nn.Parameter(torch.randn(C, C) * 0.01)
        self.d = nn.Linear(1, 1)
        self.le = nn.Linear(C, 1)
        self.lp = nn.Linear(C, 1)

    def forward(self, sel):
        d, opt = self.data, self.opt
        ue, ie = np.unique(d.enh_row[sel], return_inverse=True)
        up, ip = np.unique(d.prom_row[sel], return_inverse=True)
        xe, xp = d.enh_onehot[ue], d.prom_onehot[up]
        if self.training and opt["shift"]:
            sh = opt["shift"]

            def jit(x):
                off = torch.randint(-sh, sh + 1, (x.shape[0],))
                idx = (torch.arange(x.shape[-1])[None, :] - off[:, None]).clamp(
                    0, x.shape[-1] - 1)
                return torch.gather(x, 2, idx[:, None, :].expand(-1, 4, -1))
            xe, xp = jit(xe), jit(xp)
        if self.training and opt["mut"]:
            def mut(x):
                msk = torch.rand(x.shape[0], 1, x.shape[-1]) < opt["mut"]
                rnd = F.one_hot(torch.randint(0, 4, (x.shape[0], x.shape[-1])), 4) \
                    .transpose(1, 2).float()
                return torch.where(msk, rnd, x)
            xe, xp = mut(xe), mut(xp)
        fe = self.te(xe)[ie]
        fp = self.tp(xp)[ip]
        if self.training:
            fe, fp = F.dropout(fe, opt["fdrop"]), F.dropout(fp, opt["fdrop"])
        return (opt["bil"] * (fe @ self.B * fp).sum(-1)
                + self.d(d.log_d[sel, None]).squeeze(-1)
                + self.le(fe).squeeze(-1) + self.lp(fp).squeeze(-1))


def recovery(model, world) -> tuple[float, float]:
    """Mean motif recovery of the enhancer tower's filters: (compat PWMs, env PWMs)."""
    r = motif_recovery(model.te.conv.weight.detach().numpy(), world.motifs)
    roles = [o.role for o in world.motifs]
    return (round(np.mean([a for a, o in zip(r, roles) if o == "compat"]), 3),
            round(np.mean([a for a, o in zip(r, roles) if o == "env"]), 3))


def oracle_init(model, world, C: int, freeze: bool) -> None:
    """First-layer filters = the planted PWMs' log-odds (bias at 0.7 of the best score)."""
    with torch.no_grad():
        for tower in (model.te, model.tp):
            tower.conv.weight.zero_()
            for k, mo in enumerate(world.motifs[:C]):
                tower.conv.weight[k, :, :len(mo.pwm)] = \
                    torch.from_numpy(np.log(mo.pwm / 0.25).T).float()
                tower.conv.bias[k] = -0.7 * float(np.log(mo.pwm.max(1) / 0.25).sum())
    if freeze:
        for tower in (model.te, model.tp):
            tower.conv.requires_grad_(False)


def pretrain(model, data: ProbeData, opt: dict) -> None:
    """Label-free pretraining of both towers: element vs its chunk-shuffled copy."""
    from prism_cli.train.pretrain import chunk_shuffle

    C = opt["C"]
    train_enh = np.unique(data.enh_row[data.train])
    train_prom = np.unique(data.prom_row[data.train])
    heads = nn.ModuleList([nn.Linear(C, 1), nn.Linear(C, 1)])
    po = torch.optim.AdamW(list(model.te.parameters()) + list(model.tp.parameters())
                           + list(heads.parameters()), lr=3e-3, weight_decay=1e-2)
    prng = np.random.default_rng(1)
    for step in range(opt["pre"]):
        loss = 0
        for tower, codes, ids, head in ((model.te, data.enh, train_enh, heads[0]),
                                        (model.tp, data.prom, train_prom, heads[1])):
            real = codes[prng.choice(ids, 64)]
            fake = chunk_shuffle(real, prng, opt["chunk"])
            x = one_hot(torch.from_numpy(np.concatenate([real, fake])))
            t = torch.cat([torch.ones(64), torch.zeros(64)])
            loss = loss + F.binary_cross_entropy_with_logits(head(tower(x)).squeeze(-1), t)
        po.zero_grad()
        loss.backward()
        po.step()
        if step % 100 == 99:
            print("pre", step + 1, round(loss.item() / 2, 3), recovery(model, data.world),
                  flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter,
        epilog="settings:\n" + "\n".join(f"  {k}={d!r}: {h}" for k, (_, d, h)
                                         in SETTINGS.items()))
    ap.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    try:
        opt = parse_settings(args.settings)
    except ValueError as err:
        ap.error(str(err))
    torch.set_num_threads(2)
    torch.manual_seed(opt["seed"])
    world = simulate(SimConfig(genome_size=opt["gs"], pairs=opt["pairs"],
                               motif_sharp_fraction=opt["sharp"], motif_length=opt["mlen"]))
    data = ProbeData(world)
    model = PrismEncoderModel(opt, data) if opt["enc"] else ConvPairModel(opt, data)
    if opt["oracle_init"]:
        oracle_init(model, world, opt["C"], opt["freeze"])
    print("recovery init", recovery(model, world))
    if opt["pre"]:
        pretrain(model, data, opt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opt["lr"], weight_decay=opt["wd"])
    rng = np.random.default_rng(0)
    train_rows, test_rows = np.flatnonzero(data.train), np.flatnonzero(data.test)
    y = data.y
    for epoch in range(opt["epochs"]):
        t0 = time.time()
        perm = rng.permutation(train_rows)
        losses = []
        for i in range(0, len(perm), 128):
            sel = perm[i:i + 128]
            loss = F.binary_cross_entropy_with_logits(model(sel), torch.from_numpy(y[sel]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            s = model(test_rows).numpy()
        model.train()
        print(epoch, round(np.mean(losses), 4), round(auroc(y[data.test], s), 4),
              round(aupr(y[data.test], s), 4), recovery(model, world),
              round(time.time() - t0, 1), flush=True)


if __name__ == "__main__":
    main()
