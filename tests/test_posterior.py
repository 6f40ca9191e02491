"""The environment posterior (model/posterior.py): a MAP estimate that reads the support
labels, on a model whose U_I and R are set by hand."""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from prism_cli.model.posterior import map_environment, pi_sd_from_cov, teacher_prior


class HandModel(torch.nn.Module):
    """R(z_F, pi) = softplus(z_F . (A pi)), T = 1: environments are identifiable."""

    def __init__(self, k: int = 4, d: int = 6, cells: int = 5, seed: int = 0,
                 space: str = "simplex"):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = torch.randn(d, k, generator=g) * 1.5
        self.cfg = SimpleNamespace(prototype_map=True, env_softmax=space == "simplex")
        self.teacher = SimpleNamespace(theta=torch.randn(cells, k, generator=g) * 1.5)
        self.temperature = torch.tensor(1.0)

    def resistance(self, z_f, pi):
        return F.softplus((z_f * (pi @ self.A.T)).sum(-1))

    def logit(self, u, r):
        return (u - r) / self.temperature


def _world(model, n, episodes=16, seed=1):
    """Support sets of ``episodes`` cells with planted environments around the prior."""
    g = torch.Generator().manual_seed(seed)
    mu, var = teacher_prior(model)
    theta = mu + torch.randn(episodes, 4, generator=g) * var.sqrt()
    z = torch.randn(episodes, n, 6, generator=g)
    u = torch.randn(episodes, n, generator=g) + 1.5
    pi = torch.softmax(theta, -1) if model.cfg.env_softmax else theta
    p = torch.sigmoid(model.logit(u, model.resistance(z, pi[:, None])))
    y = (torch.rand(episodes, n, generator=g) < p).long()
    return theta, z, u, y, torch.ones(episodes, n, dtype=torch.bool)


def _estimate(model, z, u, y, mask, **kw):
    mu, var = teacher_prior(model)
    init = mu.expand(z.shape[0], -1).clone()
    return map_environment(model, z, u, y, mask, init, mu, var, **kw)


def _tv(a, b):
    return 0.5 * (a - b).abs().sum(-1)


def test_map_recovers_a_planted_environment_and_moves_more_with_more_pairs():
    model = HandModel()
    mu, _ = teacher_prior(model)
    err, moved = {}, {}
    for n in (8, 256):
        theta, z, u, y, mask = _world(model, n)
        est = _estimate(model, z, u, y, mask, steps=10)
        pi_hat, pi_true = torch.softmax(est["theta"], -1), torch.softmax(theta, -1)
        err[n] = float(_tv(pi_hat, pi_true).mean())
        moved[n] = float(_tv(pi_hat, torch.softmax(mu, -1)).mean())
        prior_err = float(_tv(torch.softmax(mu, -1), pi_true).mean())
        if n == 256:
            assert err[n] < 0.5 * prior_err, (err, prior_err)
            sd = pi_sd_from_cov(est["theta"], est["cov_theta"], True)
            assert float(sd.mean()) < 0.1
    assert moved[8] < moved[256]
    assert err[256] < err[8]


def test_flipping_the_labels_moves_the_estimate_and_order_does_not_matter():
    model = HandModel()
    _, z, u, y, mask = _world(model, 64, episodes=2)
    a = _estimate(model, z, u, y, mask)["theta"]
    flipped = _estimate(model, z, u, 1 - y, mask)["theta"]
    assert float(_tv(torch.softmax(a, -1), torch.softmax(flipped, -1)).min()) > 0.05
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    b = _estimate(model, z[:, perm], u[:, perm], y[:, perm], mask)["theta"]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    again = _estimate(model, z, u, y, mask)["theta"]
    assert torch.equal(a, again)


def test_padding_and_unlabelled_pairs():
    model = HandModel()
    _, z, u, y, mask = _world(model, 40, episodes=2)
    ref = _estimate(model, z, u, y, mask)["theta"]
    pad = lambda t, v: torch.cat([t, torch.full_like(t[:, :7], v)], 1)  # noqa: E731
    z_pad = torch.cat([z, torch.randn(2, 7, 6) * 50], 1)
    m_pad = torch.cat([mask, torch.zeros(2, 7, dtype=torch.bool)], 1)
    torch.testing.assert_close(_estimate(model, z_pad, pad(u, 9.0), pad(y, 1), m_pad)["theta"],
                               ref, atol=1e-5, rtol=1e-5)
    # unlabelled pairs (EM) change the estimate only with a non-zero weight
    y_half = y.clone()
    y_half[:, 20:] = -1
    lab_only = _estimate(model, z[:, :20], u[:, :20], y[:, :20], mask[:, :20])["theta"]
    zero_w = _estimate(model, z, u, y_half, mask, unlabelled_weight=0.0)["theta"]
    torch.testing.assert_close(zero_w, lab_only, atol=1e-5, rtol=1e-5)
    em = _estimate(model, z, u, y_half, mask, unlabelled_weight=0.5)["theta"]
    assert not torch.allclose(em, lab_only, atol=1e-4)


def test_unrolled_steps_pass_gradients_to_the_starting_guess():
    model = HandModel()
    _, z, u, y, mask = _world(model, 32, episodes=2)
    mu, var = teacher_prior(model)
    init = torch.zeros(2, 4, requires_grad=True)
    out = map_environment(model, z, u, y, mask, init, mu, var, steps=2, create_graph=True)
    out["theta"].sum().backward()
    assert init.grad is not None and float(init.grad.abs().sum()) > 0
    assert "cov_theta" not in out


def test_vector_space_recovers_a_planted_environment_vector():
    """env_space="vector": theta is the environment itself (no softmax), so the MAP
    estimate should land near the planted vector, nearer with more pairs."""
    model = HandModel(space="vector")
    mu, var = teacher_prior(model)
    err = {}
    for n in (8, 256):
        theta, z, u, y, mask = _world(model, n)
        est = _estimate(model, z, u, y, mask, steps=10)["theta"]
        err[n] = float((est - theta).norm(dim=-1).mean())
    prior_err = float((mu - theta).norm(dim=-1).mean())
    assert err[256] < 0.5 * prior_err, (err, prior_err)
    assert err[256] < err[8]
