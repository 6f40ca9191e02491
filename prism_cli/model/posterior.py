"""A cell's environment from its support labels: the MAP estimate of the support
likelihood under the frozen U_I and R, with a prior from the training cells.

For one cell with support pairs i (U_i, z_F,i, y_i) and environment logits theta (K,),
pi = env_from_logits(theta):

    -log post(theta) = sum_i w_i BCE(sigmoid((U_i - R(z_F,i, pi)) / T), y_i)
                       + strength / 2 * sum_k (theta_k - mu_k)^2 / v_k

* prior N(mu, v / strength): mu = mean of the training cells' teacher logits, v = their
  variance per prototype (+ a floor) -- the spread of environments seen in training.
  For a known cell c with extra support, mu = theta_T(c) (the teacher is the prior).
* labelled pairs: w_i = 1, so the likelihood grows with the support and the estimate
  moves further from the prior the more pairs there are.
* unlabelled pairs (y = -1, transductive): EM -- each step's E-step gives them soft labels
  q_i = p_i under the current theta (held fixed inside the step), weight
  ``unlabelled_weight``.  (A discriminative likelihood learns little from them: they
  pull the estimate towards environments that make the support's predictions confident.)
* solver: Gauss-Newton steps (K x K per episode, K small; positive definite by the
  prior) from an initial guess (the student's amortised logits).
  With ``create_graph`` the steps are differentiable, so training optimises the
  environment the refinement returns (the same function runs in training episodes,
  validation, ``adapt`` and ``score --support``).
* uncertainty: the Laplace approximation -- cov(theta) = H^-1 (Gauss-Newton) at the estimate; the sd of pi
  follows by the delta method.

Shapes: E episodes (cells), N support pairs (padded; ``mask``), K = env_dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

VAR_FLOOR = 0.05       # floor of the prior variance per prototype (logit units^2)
MAX_STEP = 3.0         # largest Newton step (logit units, L2 per episode)


def teacher_prior(model, cell: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu (K,), v (K,)) of the prior: mean and variance of the teacher logits over the
    training cells; ``cell`` given -> mu is that cell's own teacher logits."""
    theta = model.teacher.theta.detach().float()                       # (C, K)
    if model.cfg.env_softmax:  # softmax ignores a common shift: centre each cell's logits
        theta = theta - theta.mean(-1, keepdim=True)
    var = theta.var(0, unbiased=False) if theta.shape[0] > 1 else torch.ones_like(theta[0])
    var = var.clamp_min(VAR_FLOOR)
    mu = theta.mean(0) if cell is None else theta[int(cell)]
    return mu, var


def _gauss_newton(model, theta, z_f, u, y, mask, mu, var, strength, unlabelled_weight,
                  create_graph: bool):
    """Negative log posterior (E,), its gradient (E, K) and Gauss-Newton Hessian (E, K, K)
    at theta (E, K).  One forward and one backward pass: the per-pair Jacobian of R with
    respect to pi comes from one gradient of R.sum() w.r.t. pi expanded per pair."""
    from .environment import env_from_logits

    pi = env_from_logits(theta, model.cfg.env_softmax)               # (E, K)
    pi_pair = pi[:, None, :].expand(*u.shape, pi.shape[-1])            # (E, N, K)
    if not pi_pair.requires_grad:
        pi_pair = pi_pair.detach().requires_grad_(True)
    r = model.resistance(z_f, pi_pair)                                 # (E, N)
    dr_dpi = torch.autograd.grad(r.sum(), pi_pair, create_graph=create_graph)[0]
    if model.cfg.env_softmax:  # d pi / d theta = diag(pi) - pi pi^T
        jac_pi = torch.diag_embed(pi) - pi[:, :, None] * pi[:, None, :]
        dr = dr_dpi @ jac_pi                                           # (E, N, K)
    else:
        dr = dr_dpi
    t = model.temperature
    logit = model.logit(u, r)
    p = torch.sigmoid(logit)
    labelled = mask & (y >= 0)
    target = torch.where(labelled, y.clamp(min=0).to(p.dtype), p.detach())  # EM soft labels
    w = labelled.to(p.dtype) + unlabelled_weight * (mask & (y < 0)).to(p.dtype)
    nll = (F.binary_cross_entropy_with_logits(logit, target, reduction="none") * w).sum(1)
    prec = strength / var
    f = nll + 0.5 * ((theta - mu) ** 2 * prec).sum(-1)
    # d logit / d theta = -dR / T
    g = -((w * (p - target))[..., None] * dr).sum(1) / t + (theta - mu) * prec
    curv = (w * p * (1 - p))[..., None] * dr / t ** 2                  # (E, N, K)
    h = curv.transpose(1, 2) @ dr + torch.diag_embed(prec.expand_as(theta))
    return f, g, h


def map_environment(model, z_f, u, y, mask, init, mu, var, strength: float = 1.0,
                    steps: int = 8, unlabelled_weight: float = 0.5,
                    create_graph: bool = False, curvature: bool | None = None
                    ) -> dict[str, torch.Tensor]:
    """MAP environment logits of each episode.

    z_f (E, N, d_f), u (E, N), y (E, N) int (1/0, -1 = unlabelled), mask (E, N) bool;
    init (E, K) starting logits (the student's); mu, var (K,) or (E, K): the prior.
    Returns {"theta": (E, K) logits} and, with ``curvature`` (default: when not
    ``create_graph``), "hessian" (E, K, K) at the estimate, "cov_theta" (E, K, K) and
    "sd_theta" (E, K) (Laplace), all detached.  Without ``create_graph`` nothing keeps
    a graph; steps = 0 returns ``init`` itself (the student alone).
    """
    curvature = (not create_graph) if curvature is None else curvature
    z_f, u = z_f.float(), u.float()
    mu = mu.to(z_f.device).float().expand_as(init)
    var = var.to(z_f.device).float().expand_as(init)
    theta = init.float() if create_graph else init.detach().float()

    args = (z_f, u, y, mask, mu, var, strength, unlabelled_weight)
    with torch.enable_grad():
        for _ in range(max(int(steps), 0)):
            _, g, h = _gauss_newton(model, theta, *args, create_graph=create_graph)
            step = torch.linalg.solve(h, g.unsqueeze(-1)).squeeze(-1)
            step = step * (MAX_STEP / step.norm(dim=-1, keepdim=True).clamp_min(MAX_STEP))
            theta = theta - step
            if not create_graph:
                theta = theta.detach()
        out = {"theta": theta if create_graph else theta.detach()}
        if curvature:  # Laplace: the (Gauss-Newton) curvature at the estimate
            f, _, h = _gauss_newton(model, theta.detach(), *args, create_graph=False)
            cov = torch.linalg.inv(h.detach())
            out.update(neg_log_post=f.detach(), hessian=h.detach(), cov_theta=cov,
                       sd_theta=torch.diagonal(cov, dim1=1, dim2=2).clamp_min(0).sqrt())
    return out


def pi_sd_from_cov(theta: torch.Tensor, cov: torch.Tensor, softmax: bool) -> torch.Tensor:
    """Delta-method sd of pi = softmax(theta): J cov J^T, J = diag(pi) - pi pi^T.
    theta (E, K), cov (E, K, K) -> (E, K).  Identity map without the softmax."""
    if not softmax:
        return torch.diagonal(cov, dim1=1, dim2=2).clamp_min(0).sqrt()
    pi = torch.softmax(theta.float(), -1)
    jac = torch.diag_embed(pi) - pi[:, :, None] * pi[:, None, :]
    c = jac @ cov @ jac.transpose(1, 2)
    return torch.diagonal(c, dim1=1, dim2=2).clamp_min(0).sqrt()
