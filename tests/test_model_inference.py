"""prism_cli.predict: the one path shared by validation, adapt and score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prism_cli.predict import cache, environment, pairs, support
from prism_cli.model import build_model

from .test_model import tiny


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model(tiny()).eval()


def test_cache_in_batches_of_one_equals_batches_of_many(model):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, (30, 48), dtype=np.uint8)
    idx = rng.integers(0, 30, 50)
    one = cache.ElementCache.build(model, codes, idx, "enhancer", batch_size=1)
    many = cache.ElementCache.build(model, codes, idx, "enhancer", batch_size=64)
    assert np.array_equal(one.indices, np.unique(idx))
    assert torch.allclose(one.tokens, many.tokens, atol=1e-6)
    assert one.rows(one.indices[::-1]).tolist() == list(range(len(one) - 1, -1, -1))
    with pytest.raises(KeyError):
        one.rows([999])
    assert model.training is False
    model.train()
    cache.ElementCache.build(model, codes, idx[:3], "promoter")
    assert model.training is True                     # mode restored


def test_pair_outputs_in_chunks_match_direct_call(model):
    rng = np.random.default_rng(1)
    enh = rng.integers(0, 5, (8, 40), dtype=np.uint8)
    prom = rng.integers(0, 5, (5, 40), dtype=np.uint8)
    e_idx, p_idx, ld = rng.integers(0, 8, 23), rng.integers(0, 5, 23), rng.uniform(3, 5, 23)
    ec = cache.ElementCache.build(model, enh, e_idx, "enhancer")
    pc = cache.ElementCache.build(model, prom, p_idx, "promoter")
    out = pairs.pair_outputs(model, ec, pc, e_idx, p_idx, ld, chunk_size=4)
    with torch.no_grad():
        direct = model.pair(model.encode_enhancers(torch.from_numpy(enh[e_idx])),
                            model.encode_promoters(torch.from_numpy(prom[p_idx])),
                            torch.tensor(ld, dtype=torch.float32))
    for k in ("z_I", "U", "z_F"):
        assert torch.allclose(out[k], direct[k], atol=1e-5), k


def _support(model, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"z_F": torch.randn(n, model.cfg.d_f, generator=g),
            "U": torch.randn(n, generator=g),
            "y": (torch.rand(n, generator=g) < 0.3).long().numpy()}


def test_estimate_environment_known_answer_and_shapes(model):
    sup = _support(model)
    # without refinement the estimate is one student call on the whole support
    model.cfg.env_map_steps = 0
    pi, sd, pis = environment.estimate_environment(model, sup, sizes=40, n_episodes=5,
                                                 generator=np.random.default_rng(0))
    with torch.no_grad():
        ref = model.student_environment(sup["z_F"][None], sup["U"][None],
                                        torch.from_numpy(sup["y"])[None],
                                        torch.ones(1, 40, dtype=torch.bool))[0]
    assert pis.shape == (5, model.cfg.n_prototypes)
    assert torch.allclose(pi, ref, atol=1e-5) and torch.allclose(pis, ref.expand_as(pis),
                                                                  atol=1e-5)
    assert torch.allclose(pi.sum(), torch.tensor(1.0), atol=1e-5)
    # refined: a proper distribution with a posterior sd; sub-supports reproducible
    model.cfg.env_map_steps = 5
    pi2, sd2, _ = environment.estimate_environment(model, sup, 40, 0)
    assert torch.allclose(pi2.sum(), torch.tensor(1.0), atol=1e-5) and float(sd2.min()) > 0
    assert not torch.allclose(pi2, pi, atol=1e-4)
    a = environment.estimate_environment(model, sup, (4, 20), 16, np.random.default_rng(3))
    b = environment.estimate_environment(model, sup, (4, 20), 16, np.random.default_rng(3))
    assert torch.equal(a[2], b[2]) and float(a[2].std(0).max()) > 0


def test_support_sizes_and_draws():
    rng = np.random.default_rng(0)
    sizes = support.sample_support_sizes(1000, (8, 256), 500, rng)
    assert sizes.min() >= 8 and sizes.max() <= 256
    assert (sizes < 32).mean() > 0.3                       # log-uniform: many small supports
    assert support.sample_support_sizes(10, (8, 256), 3, rng).max() <= 10
    labels = np.array([0] * 50 + [1] * 2)
    for _ in range(20):
        pick = support.draw_support(labels, 5, rng)
        assert len(set(pick)) == 5 and set(labels[pick]) == {0, 1}


def test_predict_zero_shot_teacher_and_fusion(model):
    sup = _support(model, 12)
    u, z_f = sup["U"], sup["z_F"]
    zero = environment.predict(model, u, z_f, None)
    with torch.no_grad():
        t = model.temperature
        assert torch.allclose(zero["p"], torch.sigmoid(u / t)) and not zero["R"].any()
        pi_t = environment.teacher_pi(model, 2)
        full = environment.predict(model, u, z_f, pi_t, chunk_size=5)
        assert torch.allclose(full["p"], model.probability(u, model.resistance(z_f, pi_t)))
    assert (full["R"] >= 0).all()
    # a known cell with a support set: the posterior with its teacher as the prior stays
    # at the teacher for a tiny support
    few = {k: v[:2] for k, v in sup.items()}
    model.cfg.env_prior_strength = 1e4
    fused, _, _ = environment.estimate_environment(model, few, 2, 0, prior_cell=2)
    model.cfg.env_prior_strength = 1.0
    assert torch.allclose(fused, pi_t, atol=1e-3)
    assert environment.mean_environment(model).shape == (model.cfg.n_prototypes,)


def test_crossattn_has_no_environment():
    torch.manual_seed(0)
    model = build_model(tiny(arch="crossattn")).eval()
    with pytest.raises(ValueError):
        environment.estimate_environment(model, _support(build_model(tiny())), 8, 2)
    u = torch.randn(6)
    assert torch.allclose(environment.predict(model, u, torch.randn(6, 12))["p"],
                          torch.sigmoid(u))
