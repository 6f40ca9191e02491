"""Episodes, losses and gradient routing (docs/model.md, "Training: per-cell episodes")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prism_cli.model import PRISM
from prism_cli.train.config import TrainConfig
from prism_cli.train.episodes import BatchBuilder, EpisodeSampler, mutate_codes, shift_codes
from prism_cli.train.losses import EpisodeObjective, kl_divergence

from .test_model import tiny


def toy_arrays(n_pairs=400, n_enh=60, n_prom=20, length=32, n_cells=3, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        enhancers=rng.integers(0, 5, (n_enh, length), dtype=np.uint8),
        promoters=rng.integers(0, 5, (n_prom, length), dtype=np.uint8),
        enh_idx=rng.integers(0, n_enh, n_pairs), prom_idx=rng.integers(0, n_prom, n_pairs),
        log_distance=rng.uniform(3, 5, n_pairs).astype(np.float32),
        labels=(rng.random(n_pairs) < 0.3).astype(np.int64),
        cell=rng.integers(0, n_cells, n_pairs))


def sampler_for(a, **kw):
    rows = {c: np.flatnonzero(a["cell"] == c) for c in range(3)}
    return EpisodeSampler(rows, a["labels"], **kw)


def builder_for(a, **kw):
    return BatchBuilder(a["enhancers"], a["promoters"], a["enh_idx"], a["prom_idx"],
                        a["log_distance"], a["labels"], **kw)


def test_episodes_one_cell_disjoint_sizes_both_classes():
    a = toy_arrays()
    s = sampler_for(a, support_sizes=(4, 40), query_size=20, seed=3)
    sizes = []
    for ep in s.sample(200):
        assert set(a["cell"][ep.support]) == {ep.cell} == set(a["cell"][ep.query])
        assert not set(ep.support) & set(ep.query)
        assert len(set(ep.support)) == len(ep.support)
        assert 4 <= len(ep.support) <= 40 and len(ep.query) == 20
        assert set(a["labels"][ep.support]) == {0, 1}
        sizes.append(len(ep.support))
    assert min(sizes) < 8 and max(sizes) > 30          # the whole range is used
    # same seed, same episodes; the state round-trips
    s1, s2 = (sampler_for(a, support_sizes=(4, 40), query_size=20, seed=9) for _ in range(2))
    st = s1.state()
    e1 = s1.sample(3)
    s2.set_state(st)
    e2 = s2.sample(3)
    assert all((x.support == y.support).all() and (x.query == y.query).all()
               for x, y in zip(e1, e2))


def test_hidden_support_labels_become_minus_one():
    a = toy_arrays()
    s = sampler_for(a, support_sizes=(30, 40), query_size=10, unlabelled_fraction=0.5, seed=1)
    eps = s.sample(4)
    batch = builder_for(a).build(eps)
    y = batch.support.y
    assert (y == -1).any()
    hidden = np.concatenate([ep.hidden for ep in eps])
    assert ((y == -1).numpy() == hidden).all()


def test_mutate_codes_rate_keeps_n_and_is_seeded():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (50, 400), dtype=np.uint8)
    codes[:, :20] = 4
    out = mutate_codes(codes, 0.2, np.random.default_rng(1))
    assert out.dtype == np.uint8 and out.shape == codes.shape
    assert (out[:, :20] == 4).all() and (out[:, 20:] < 4).all()
    changed = (out != codes)[:, 20:].mean()         # 20 % drawn, 3/4 of them differ
    assert 0.13 < changed < 0.17
    assert np.array_equal(out, mutate_codes(codes, 0.2, np.random.default_rng(1)))
    assert np.array_equal(mutate_codes(codes, 0.0, rng), codes)


def test_shift_codes_known_answer():
    c = np.array([[0, 1, 2, 3], [0, 1, 2, 3]], dtype=np.uint8)
    out = shift_codes(c, np.array([1, -2]))
    assert out.tolist() == [[4, 0, 1, 2], [2, 3, 4, 4]]


def test_batch_points_pairs_at_their_elements():
    a = toy_arrays()
    eps = sampler_for(a, support_sizes=(4, 16), query_size=8, seed=0).sample(3)
    batch = builder_for(a).build(eps)
    q = batch.query
    for e, ep in enumerate(eps):
        pos = q.index[e][q.mask[e]].numpy()
        np.testing.assert_array_equal(batch.enh_codes[q.enh[pos]].numpy(),
                                      a["enhancers"][a["enh_idx"][ep.query]])
        np.testing.assert_array_equal(batch.prom_codes[q.prom[pos]].numpy(),
                                      a["promoters"][a["prom_idx"][ep.query]])
        np.testing.assert_array_equal(q.y[pos].numpy(), a["labels"][ep.query])
    assert batch.cells.tolist() == [ep.cell for ep in eps]


def _objective(**model_kw):
    torch.manual_seed(0)
    model = PRISM(tiny(**model_kw))
    tcfg = TrainConfig(push_margin=1.0)
    obj = EpisodeObjective(model, tcfg)
    a = toy_arrays()
    batch = builder_for(a).build(sampler_for(a, support_sizes=(6, 20), query_size=16,
                                             seed=0).sample(4))
    return model, obj, batch


def _backbone_grads(model):
    return [p.grad for mod in model.backbone_modules() for p in mod.parameters()]


def _is_zero(grads) -> bool:
    return all(g is None or not g.abs().any() for g in grads)


@pytest.mark.parametrize("name", ["distill", "push", "opportunist"])
def test_distill_competition_losses_do_not_reach_backbone(name):
    model, obj, batch = _objective()
    obj.rho.fill_(3.0)                      # opportunist "winning": push is active
    obj.rho_seen.fill_(1.0)
    obj.eval()                              # keep rho fixed at 3
    terms, weights = obj.components(batch)
    assert terms[name].abs().sum() > 0
    model.zero_grad()
    terms[name].sum().backward()
    assert _is_zero(_backbone_grads(model)), f"{name} moved the backbone"
    owner = model.opportunist if name == "opportunist" else model.student
    assert not _is_zero([p.grad for p in owner.parameters()]), f"{name} trains nothing"


def test_student_path_of_main_loss_does_not_reach_backbone():
    model, obj, batch = _objective()
    obj.eval()

    def backbone_grads_of_main():
        model.zero_grad()
        torch.manual_seed(1)
        obj.components(batch)[0]["main"].sum().backward()
        return [g.clone() for g in _backbone_grads(model)]

    with_student = backbone_grads_of_main()
    original = model.student_environment
    model.student_environment = lambda *a: original(*a).detach()
    try:
        without = backbone_grads_of_main()
    finally:
        model.student_environment = original
    assert not _is_zero(with_student)                     # main does train the backbone
    for g1, g2 in zip(with_student, without):
        assert torch.allclose(g1, g2, atol=1e-7)


def test_main_teacher_adversary_reach_backbone_and_ablation_breaks_routing():
    model, obj, batch = _objective()
    obj.eval()
    terms, _ = obj.components(batch)
    for name in ("main", "teacher", "adversary"):
        model.zero_grad()
        terms[name].sum().backward(retain_graph=True)
        assert not _is_zero(_backbone_grads(model)), name
    # without the stop-gradient, distillation does move the backbone (so the test above
    # can fail)
    model, obj, batch = _objective(stop_gradient=False)
    obj.eval()
    terms, _ = obj.components(batch)
    model.zero_grad()
    terms["distill"].sum().backward()
    assert not _is_zero(_backbone_grads(model))


def test_adversary_gradient_is_reversed_on_z_i():
    model, obj, batch = _objective()
    z = torch.randn(5, model.cfg.d_z, requires_grad=True)
    target = torch.zeros(5, dtype=torch.long)
    ce = torch.nn.functional.cross_entropy(model.adversary(z, 1.0), target)
    (g_rev,) = torch.autograd.grad(ce, z)
    ce2 = torch.nn.functional.cross_entropy(model.adversary.classifier(z), target)
    (g_plain,) = torch.autograd.grad(ce2, z)
    assert torch.allclose(g_rev, -g_plain)


def test_losses_are_per_episode_and_rho_tracks_cells():
    model, obj, batch = _objective()
    obj.train()
    loss, stats = obj(batch)
    terms, weights = obj.components(batch)
    e = batch.cells.shape[0]
    assert all(v.shape == (e,) for v in terms.values())
    assert torch.isfinite(loss) and loss.dim() == 0
    for key in ("main", "teacher", "distill", "adversary", "opportunist", "rho", "push",
                "pull", "T"):
        assert key in stats
    seen = set(batch.cells.tolist())
    assert (obj.rho_seen[list(seen)] > 0).all()
    unseen = [c for c in range(3) if c not in seen]
    assert (obj.rho[unseen] == 1).all()


def test_train_config_removed_key_loads_only_when_inert():
    """Run directories saved with freeze_motifs: false still resume; true is refused."""
    assert TrainConfig.from_dict({**TrainConfig().to_dict(), "freeze_motifs": False}) \
        == TrainConfig()
    with pytest.raises(ValueError, match="freeze_motifs"):
        TrainConfig.from_dict({"freeze_motifs": True})
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"no_such_key": 1})


def test_kl_divergence_known_answer():
    p = torch.tensor([[0.5, 0.5]])
    q = torch.tensor([[0.25, 0.75]])
    expected = 0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    assert kl_divergence(p, q).item() == pytest.approx(expected, rel=1e-5)
    assert kl_divergence(p, p).item() == pytest.approx(0.0, abs=1e-7)


def test_crossattn_objective_is_plain_bce():
    torch.manual_seed(0)
    from prism_cli.model import build_model
    model = build_model(tiny(arch="crossattn"))
    obj = EpisodeObjective(model, TrainConfig())
    a = toy_arrays()
    episodes = sampler_for(a, support_sizes=(6, 20), query_size=16, seed=0).sample(2)
    model.eval()
    obj.eval()
    loss, stats = obj(builder_for(a).build(episodes, with_support=False))
    assert set(stats) == {"main", "loss"}
    # by hand: each episode's query through the towers and the pair head, BCE on U
    # averaged over the episode's pairs, then over episodes
    by_hand = []
    with torch.no_grad():
        for ep in episodes:
            q = np.asarray(ep.query)
            e = model.encode_enhancers(torch.from_numpy(a["enhancers"][a["enh_idx"][q]]))
            p = model.encode_promoters(torch.from_numpy(a["promoters"][a["prom_idx"][q]]))
            u = model.pair(e, p, torch.from_numpy(a["log_distance"][q]))["U"]
            y = torch.from_numpy(a["labels"][q]).float()
            by_hand.append(torch.nn.functional.binary_cross_entropy_with_logits(u, y))
    assert loss.item() == pytest.approx(torch.stack(by_hand).mean().item(), rel=1e-5)


def test_scalar_environment_ablation_trains():
    model, obj, batch = _objective(prototype_map=False)
    assert model.teacher.theta.shape[1] == 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def eval_loss():  # without dropout: one noisy training-mode loss is no measure
        obj.eval()
        with torch.no_grad():
            loss = obj(batch)[0].item()
        obj.train()
        return loss

    before = eval_loss()
    for _ in range(20):
        opt.zero_grad()
        loss, _ = obj(batch)
        loss.backward()
        assert model.teacher.theta.grad is not None and model.teacher.theta.grad.abs().sum() > 0
        opt.step()
    assert eval_loss() < before         # the scalar environment is trained with the rest


def test_chunked_checkpointed_encoding_matches_one_pass():
    model, obj, batch = _objective()
    obj.eval()
    assert 0 < batch.n_enh_query < batch.enh_codes.shape[0]     # support-only elements exist
    torch.manual_seed(0)
    terms, _ = obj.components(batch)
    model.zero_grad()
    terms["main"].sum().backward()
    ref = [p.grad.clone() for p in model.enhancer_tower.parameters()]
    obj.tcfg.encode_chunk = 3
    terms2, _ = obj.components(batch)
    model.zero_grad()
    terms2["main"].sum().backward()
    assert torch.allclose(terms["main"], terms2["main"], atol=1e-6)
    for g1, p in zip(ref, model.enhancer_tower.parameters()):
        assert torch.allclose(g1, p.grad, atol=1e-6)
