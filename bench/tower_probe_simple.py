"""Minimal tower variants for bench/tower_probe.py's questions (diagnostic, not product code).

key=value arguments: C (filters / d_model), W (filter width), pool (max|lse|mean),
bil (1 = bilinear e x p term), shift / mut / fdrop (augmentation), pre (label-free
pretraining steps), oracle_init / freeze (start from the simulator's PWMs), real=1 (PRISM's
SequenceTower with one token), enc=1 (PRISM's SequenceTower + PairEncoder + linear head),
gs / pairs / sharp / mlen (the world), epochs, lr, wd.  Run from the repository root:

    python bench/tower_probe_simple.py epochs=12 C=16 bil=0 shift=50 mut=0.1
    python bench/tower_probe_simple.py epochs=4 C=16 enc=1

Prints per epoch: epoch, training loss, chr4 AUROC, AUPR, (compat, env) motif recovery, s.
"""
import sys, json, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, "bench")
from tower_probe import windows
from prism_cli.simulate import SimConfig, simulate, row_scores
from prism_cli.metrics import auroc, aupr
from prism_cli.encode import one_hot
torch.set_num_threads(2)
kw = dict(a.split("=") for a in sys.argv[1:]); torch.manual_seed(int(kw.get("seed", 0)))
C = int(kw.get("C", 32)); W = int(kw.get("W", 15)); pool = kw.get("pool", "max"); gs=int(kw.get("gs", 4000000)); npairs=int(kw.get("pairs", 20000))
world = simulate(SimConfig(genome_size=gs, pairs=npairs, motif_sharp_fraction=float(kw.get("sharp", 0.7)), motif_length=eval(kw.get("mlen", "(8,12)")))); L = 500
rows = world.rows.reset_index(drop=True); cand = world.candidates.loc[rows.cand.to_numpy()].reset_index(drop=True)
chrom = world.elements.chrom.to_numpy()[cand.enh.to_numpy()]; y = rows.label.to_numpy().astype(np.float32)
train, test = np.isin(chrom, ["chr1","chr2"]), chrom=="chr4"
enh, ei = windows(world, "enhancer", L); prom, pi_ = windows(world, "promoter", L)
er = np.searchsorted(ei, cand.enh.to_numpy()); pr = np.searchsorted(pi_, cand.prom.to_numpy())
logd = torch.from_numpy(((np.log10(cand.distance.to_numpy())-4)).astype(np.float32))
E = one_hot(torch.from_numpy(enh)); P = one_hot(torch.from_numpy(prom))
class Tower(nn.Module):
    def __init__(s):
        super().__init__(); s.conv = nn.Conv1d(4, C, W)
    def forward(s, x):
        h = torch.cat([s.conv(x), s.conv(x.flip(-2).flip(-1))], -1)
        if pool=="max": return F.relu(h).amax(-1)
        if pool=="lse": return torch.logsumexp(h, -1)
        return F.softplus(h).mean(-1)*10
from prism_cli.model import ModelConfig
from prism_cli.model.towers import SequenceTower
class RealTower(nn.Module):
    def __init__(s):
        super().__init__(); s.t = SequenceTower(ModelConfig(arch="crossattn", n_tokens=1, d_model=C, n_heads=1, dropout=0.0)); s.conv = s.t.motifs
    def forward(s, x): return s.t(x).mean(1)
if kw.get("real"): Tower = RealTower
from prism_cli.model.attention import PairEncoder
class M2(nn.Module):
    def __init__(s):
        super().__init__()
        cfg = ModelConfig(arch="crossattn", n_tokens=int(kw.get("nt",1)), d_model=C, n_heads=1, dropout=0.0, distance_mean=0.0, distance_sd=1.0)
        s.te, s.tp = SequenceTower(cfg), SequenceTower(cfg); s.enc = PairEncoder(cfg); s.head = nn.Linear(cfg.d_z, 1)
        s.te.conv = s.te.motifs; s.d = nn.Linear(1,1)
    def forward(s, sel):
        ue, ie = np.unique(er[sel], return_inverse=True); up, ip = np.unique(pr[sel], return_inverse=True)
        fe = s.te(E[ue])[ie]; fp = s.tp(P[up])[ip]
        z = s.enc(fe, fp, logd[sel])
        if kw.get("nolnz"): z = s.enc.out(torch.cat([s.enc.pool(torch.cat([s.enc.e_to_p(fe, fp), s.enc.p_to_e(fp, fe), (s.enc.distance_token(s.enc.distance(logd[sel]))).unsqueeze(1)], 1)).flatten(1), s.enc.bilinear_e(fe.mean(1)) * s.enc.bilinear_p(fp.mean(1)), fe.mean(1), fp.mean(1), s.enc.distance(logd[sel])], -1))
        return s.head(z).squeeze(-1) + (0 if kw.get("nod") else s.d(logd[sel,None]).squeeze(-1))
class M(nn.Module):
    def __init__(s):
        super().__init__(); s.te, s.tp = Tower(), Tower(); s.B = nn.Parameter(torch.randn(C, C)*0.01); s.d = nn.Linear(1,1); s.le=nn.Linear(C,1); s.lp=nn.Linear(C,1)
    def forward(s, sel):
        ue, ie = np.unique(er[sel], return_inverse=True); up, ip = np.unique(pr[sel], return_inverse=True)
        xe, xp = E[ue], P[up]
        if s.training and int(kw.get("shift", 0)):
            sh = int(kw["shift"])
            def jit(x):
                off = torch.randint(-sh, sh + 1, (x.shape[0],))
                idx = (torch.arange(x.shape[-1])[None, :] - off[:, None]).clamp(0, x.shape[-1] - 1)
                return torch.gather(x, 2, idx[:, None, :].expand(-1, 4, -1))
            xe, xp = jit(xe), jit(xp)
        if s.training and float(kw.get("mut", 0)):
            def mut(x):
                msk = torch.rand(x.shape[0], 1, x.shape[-1]) < float(kw["mut"])
                rnd = F.one_hot(torch.randint(0, 4, (x.shape[0], x.shape[-1])), 4).transpose(1, 2).float()
                return torch.where(msk, rnd, x)
            xe, xp = mut(xe), mut(xp)
        fe = s.te(xe)[ie]; fp = s.tp(xp)[ip]
        if s.training: fe, fp = F.dropout(fe, float(kw.get("fdrop", 0))), F.dropout(fp, float(kw.get("fdrop", 0)))
        return float(kw.get("bil",1))*(fe@s.B*fp).sum(-1) + s.d(logd[sel,None]).squeeze(-1) + s.le(fe).squeeze(-1)+s.lp(fp).squeeze(-1)
m = M2() if kw.get('enc') else M()
from prism_cli.train.pretrain import chunk_shuffle
from tower_probe import motif_recovery
trE = np.unique(er[train]); trP = np.unique(pr[train])
def rec():
    r = motif_recovery(m.te.conv.weight.detach().numpy(), world.motifs); roles=[o.role for o in world.motifs]
    return round(np.mean([a for a,o in zip(r,roles) if o=="compat"]),3), round(np.mean([a for a,o in zip(r,roles) if o=="env"]),3)
if int(kw.get("oracle_init", 0)):
    with torch.no_grad():
        for tower in (m.te, m.tp):
            tower.conv.weight.zero_()
            for k, mo in enumerate(world.motifs[:C]):
                tower.conv.weight[k, :, :len(mo.pwm)] = torch.from_numpy(np.log(mo.pwm/0.25).T).float()
                tower.conv.bias[k] = -0.7*float(np.log(mo.pwm.max(1)/0.25).sum())
    if int(kw.get("freeze", 0)):
        for tower in (m.te, m.tp): tower.conv.requires_grad_(False)
print("recovery init", rec())
if int(kw.get("pre", 0)):
    heads = nn.ModuleList([nn.Linear(C,1), nn.Linear(C,1)])
    po = torch.optim.AdamW(list(m.te.parameters())+list(m.tp.parameters())+list(heads.parameters()), lr=3e-3, weight_decay=1e-2)
    prng = np.random.default_rng(1)
    for step in range(int(kw["pre"])):
        loss = 0
        for tower, codes, ids, head in ((m.te, enh, trE, heads[0]), (m.tp, prom, trP, heads[1])):
            real = codes[prng.choice(ids, 64)]; fake = chunk_shuffle(real, prng, int(kw.get("chunk", 2)))
            x = one_hot(torch.from_numpy(np.concatenate([real, fake])))
            t = torch.cat([torch.ones(64), torch.zeros(64)])
            loss = loss + F.binary_cross_entropy_with_logits(head(tower(x)).squeeze(-1), t)
        po.zero_grad(); loss.backward(); po.step()
        if step % 100 == 99: print("pre", step+1, round(loss.item()/2, 3), rec(), flush=True)
opt = torch.optim.AdamW(m.parameters(), lr=float(kw.get("lr", 3e-3)), weight_decay=float(kw.get("wd", 1e-4)))
rng = np.random.default_rng(0); tr = np.flatnonzero(train); te_ = np.flatnonzero(test)
for ep in range(int(kw.get("epochs", 10))):
    t0=time.time(); perm = rng.permutation(tr); ls=[]
    for i in range(0, len(perm), 128):
        sel = perm[i:i+128]; loss = F.binary_cross_entropy_with_logits(m(sel), torch.from_numpy(y[sel]))
        opt.zero_grad(); loss.backward(); opt.step(); ls.append(loss.item())
    m.eval()
    with torch.no_grad(): s = m(te_).numpy()
    m.train()
    print(ep, round(np.mean(ls),4), round(auroc(y[test], s),4), round(aupr(y[test], s),4), rec(), round(time.time()-t0,1), flush=True)
