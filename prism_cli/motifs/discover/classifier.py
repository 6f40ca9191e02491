"""The real-vs-shuffled classifier: RC-aware filters started at the seeds, trained, then
read back as PWMs."""

from __future__ import annotations

import numpy as np

from ..pwm import normalise
from .pools import _CHUNK, _Pool
from .refine import _window_pwm


def _train_filters(seeds: list[np.ndarray], real: _Pool, train: _Pool, width: int,
                   steps: int, batch_size: int, crop: int, lr: float, rng):
    """The RC-aware conv + linear real-vs-shuffled classifier, its filters initialised at
    the seeds (log-odds, centred); returns the trained filters (F, 4, width)."""
    import torch
    import torch.nn.functional as F

    device = real.x.device
    w0 = np.zeros((len(seeds), 4, width), dtype=np.float32)
    for i, p in enumerate(seeds):
        lo = np.log2(normalise(p, 0.01) / 0.25)[:width]
        off = (width - len(lo)) // 2
        w0[i, :, off:off + len(lo)] = lo.T
    n_f = len(seeds)
    weight = torch.from_numpy(w0).to(device).requires_grad_()
    bias = torch.from_numpy(-w0.max(1).sum(1) * 0.5).to(device).requires_grad_()
    head = torch.full((n_f,), 0.1, device=device).requires_grad_()
    head_bias = torch.zeros((), device=device, requires_grad=True)
    params = [weight, bias, head, head_bias]
    # Adam by hand: torch.optim's first use imports torch._dynamo (seconds)
    moment = [torch.zeros_like(p) for p in params]
    square = [torch.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    target = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)]).to(device)
    n, length = len(real.codes), real.length
    crop = min(crop, length)
    for step in range(1, steps + 1):
        i = torch.from_numpy(rng.integers(0, n, size=batch_size)).to(device)
        j = torch.from_numpy(rng.integers(0, n, size=batch_size)).to(device)
        c = int(rng.integers(0, length - crop + 1))
        x = torch.cat([real.x[i, :, c:c + crop], train.x[j, :, c:c + crop]])
        kernel = torch.cat([weight, weight.flip(1, 2)])                 # + and - strands
        a = F.conv1d(x, kernel, bias.repeat(2))                         # (2B, 2F, L')
        m = a.view(len(x), 2, n_f, -1).amax(dim=(1, 3))                 # (2B, F)
        loss = F.binary_cross_entropy_with_logits(m @ head + head_bias, target)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, m1, m2 in zip(params, grads, moment, square):
                m1.mul_(beta1).add_(g, alpha=1 - beta1)
                m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (m2 / (1 - beta2 ** step)).sqrt_().add_(eps)
                p.addcdiv_(m1, denom, value=-lr / (1 - beta1 ** step))
    return weight.detach()


def _filter_pwms(weight, real: _Pool, n_sites: int) -> list[np.ndarray]:
    """Per filter, the base frequencies of its best window in each of the ``n_sites``
    real elements where it fires most (strand-aligned)."""
    import torch
    import torch.nn.functional as F

    n_f, _, width = weight.shape
    last = real.length - width + 1
    with torch.no_grad():
        kernel = torch.cat([weight, weight.flip(1, 2)])
        vals, idxs = [], []
        for r in range(0, len(real.x), _CHUNK):
            a = F.conv1d(real.x[r:r + _CHUNK], kernel)[..., :last]        # (B, 2F, L')
            a = a.reshape(a.shape[0], 2, n_f, last).transpose(1, 2).flatten(2)
            v, i = a.max(-1)                                             # (B, F)
            vals.append(v)
            idxs.append(i)
        vals = torch.cat(vals).cpu().numpy()
        idxs = torch.cat(idxs).cpu().numpy()
    out = []
    for f in range(n_f):
        rows = np.argsort(-vals[:, f], kind="stable")[:n_sites]
        strand, start = idxs[rows, f] // last, idxs[rows, f] % last
        out.append(_window_pwm(real.codes, rows, strand, start, width, 0.5))
    return out

