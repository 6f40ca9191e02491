"""Cell environments and the probabilities they give.

    estimate_environment(model, support outputs + labels, sizes, n_episodes, rng)
        -> pi, pi_sd, pis: the student's guess refined to the MAP of the support labels'
           likelihood (model/posterior.py), its Laplace sd, and the estimates of random
           sub-supports of the training sizes
    teacher_pi / mean_environment: a training cell's environment / their average
    predict(model, U, z_F, pi) -> {"p", "R", "logit"}
    nearest_cells: the training cells whose environment is closest to an estimate
"""

from __future__ import annotations

import numpy as np
import torch

from .cache import device_of, evaluating
from .support import draw_support, pad_rows, sample_support_sizes


def estimate_environment(model, support: dict, sizes=(8, 256), n_episodes: int = 32,
                         generator: np.random.Generator | None = None,
                         prior_cell: int | None = None):
    """The environment of one cell from its support set.

    support : {"z_F": (n, d_f), "U": (n,), "y": (n,) int (1/0, -1 = unlabelled)}
    The estimate is ``model.support_environment`` on the whole support: the student's
    amortised guess refined to the MAP of the support labels' likelihood, with the prior
    built from the training cells' teacher environments (or, with ``prior_cell``, that
    training cell's own: a known cell with extra support).
    Returns (pi (K,), pi_sd (K,), pis (n_episodes, K)) as CPU float32 tensors: pi_sd is the
    Laplace (posterior curvature) sd of pi; pis are the estimates from ``n_episodes``
    random sub-supports of the training support sizes ``sizes`` (their spread says how
    much the estimate depends on which pairs were in the support; 0 episodes: empty).
    """
    from ..model.posterior import pi_sd_from_cov

    if not model.has_environment:
        raise ValueError("this model has no cell environment (arch crossattn)")
    rng = generator if generator is not None else np.random.default_rng(0)
    y = np.asarray(support["y"], dtype=np.int64)
    n = len(y)
    if n == 0:
        raise ValueError("empty support set")
    device = device_of(model)
    z_f_all = torch.as_tensor(support["z_F"]).float().to(device)
    u_all = torch.as_tensor(support["U"]).float().to(device)
    y_all = torch.from_numpy(y).to(device)
    with evaluating(model):
        full = model.support_environment(z_f_all[None], u_all[None], y_all[None],
                                         torch.ones(1, n, dtype=torch.bool, device=device),
                                         prior_cell=prior_cell)
        pi = full["pi"][0].float().cpu()
        if "cov_theta" in full:
            sd = pi_sd_from_cov(full["theta"], full["cov_theta"], model.cfg.env_softmax)[0]
        else:
            sd = torch.zeros_like(full["pi"][0])
        pis = torch.zeros(0, pi.shape[0])
        if n_episodes > 0:
            sizes_e = sample_support_sizes(n, sizes, n_episodes, rng)
            rows, mask = pad_rows([draw_support(y, int(s), rng) for s in sizes_e])
            rows_t = torch.from_numpy(rows).to(device)
            pis = model.support_environment(z_f_all[rows_t], u_all[rows_t], y_all[rows_t],
                                            torch.from_numpy(mask).to(device),
                                            prior_cell=prior_cell)["pi"].float().cpu()
    return pi, sd.float().cpu(), pis


def teacher_pi(model, cell_index: int) -> torch.Tensor:
    """pi_T(c) of a training cell (index into the checkpoint's cell registry), (K,)."""
    with evaluating(model):
        c = torch.tensor([int(cell_index)], device=device_of(model))
        return model.teacher_environment(c)[0].float().cpu()


def mean_environment(model) -> torch.Tensor:
    """Average of the training cells' teacher environments, (K,)."""
    with evaluating(model):
        return model.mean_teacher_environment().float().cpu()


def predict(model, u, z_f, pi=None, chunk_size: int = 65536) -> dict[str, torch.Tensor]:
    """Probabilities from pair outputs and an environment.

    u : (n,), z_f : (n, d_f), pi : (K,) environment, or None for U_I alone.
    Returns CPU float32 {"p": (n,), "R": (n,), "logit": (n,)}.
    pi=None is U-only: p = sigmoid(U_I / T), R = 0 (no environment at all; a diagnostic:
    zero-shot scoring uses mean_environment(model)).
    For arch crossattn, p = sigmoid(U) whatever pi is.
    """
    device = device_of(model)
    u = torch.as_tensor(u).float()
    z_f = torch.as_tensor(z_f).float()
    p_parts, r_parts, l_parts = [], [], []
    with evaluating(model):
        for s in range(0, len(u), chunk_size):
            uu = u[s:s + chunk_size].to(device)
            if model.has_environment and pi is not None:
                r = model.resistance(z_f[s:s + chunk_size].to(device),
                                     torch.as_tensor(pi).float().to(device))
            else:
                r = torch.zeros_like(uu)
            logit = model.logit(uu, r)
            p_parts.append(torch.sigmoid(logit).cpu())
            r_parts.append(r.float().cpu())
            l_parts.append(logit.float().cpu())
    if not p_parts:
        z = torch.zeros(0)
        return {"p": z, "R": z, "logit": z}
    return {"p": torch.cat(p_parts), "R": torch.cat(r_parts), "logit": torch.cat(l_parts)}


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits) between two distributions over prototypes."""
    p = np.clip(np.asarray(p, np.float64), 1e-12, None)
    q = np.clip(np.asarray(q, np.float64), 1e-12, None)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum())


def nearest_cells(model, pi: torch.Tensor, cells: list[str], top: int = 3) -> list[dict]:
    """Training cells whose teacher environment is closest to ``pi`` (K,) (JS divergence;
    Euclidean in the vector space)."""
    if not model.cfg.env_softmax:  # vector space (or scalar): Euclidean distance
        dist = [float((teacher_pi(model, i) - pi).norm()) for i in range(len(cells))]
    else:
        dist = [js_divergence(pi.numpy(), teacher_pi(model, i).numpy())
                for i in range(len(cells))]
    order = np.argsort(dist)[:top]
    return [{"cell": cells[i], "distance": float(dist[i])} for i in order]
