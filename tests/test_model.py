"""Model modules: shapes, known answers and invariances (CPU, tiny configs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from prism_cli.encode import reverse_complement
from prism_cli.model import CrossAttn, ModelConfig, PRISM, build_model
from prism_cli.model.attention import PairEncoder
from prism_cli.model.environment import (Opportunist, ResistanceHead, Student, TeacherTable,
                                         env_from_logits)
from prism_cli.model.kan import FourierEnergyKAN, FourierKANLayer
from prism_cli.model.layers import reverse_gradient
from prism_cli.model.towers import SequenceTower


def tiny(**kw) -> ModelConfig:
    base = dict(channels=8, motif_width=5, pool=2, dilations=(2,), n_tokens=4, d_model=16,
                n_heads=2, n_anchors=2, d_z=12, kan_hidden=6, kan_frequencies=3, d_f=5,
                n_prototypes=4, d_env=6, student_hidden=10, n_cells=3, dropout=0.0, kmer_k=0)
    base.update(kw)
    return ModelConfig(**base)


def codes(n, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 5, (n, length), generator=g, dtype=torch.uint8)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_tower_shapes_and_one_hot_input():
    cfg = tiny()
    tower = SequenceTower(cfg).eval()
    c = codes(3, 40)
    tok = tower(c)
    assert tok.shape == (3, cfg.n_tokens, cfg.d_model)
    from prism_cli.encode import one_hot
    assert torch.allclose(tower(one_hot(c)), tok)
    assert tower(codes(2, 3)).shape == (2, cfg.n_tokens, cfg.d_model)  # shorter than tokens


def test_tower_reverse_complement_gives_reversed_tokens():
    tower = SequenceTower(tiny()).eval()
    c = codes(4, 64)
    rc = torch.from_numpy(reverse_complement(c.numpy()))
    assert torch.allclose(tower(rc), tower(c).flip(1), atol=1e-5)
    fwd_only = SequenceTower(tiny(rc="none")).eval()
    assert not torch.allclose(fwd_only(rc), fwd_only(c).flip(1), atol=1e-3)


@pytest.mark.parametrize("bin_norm,kmer_k", [(False, 0), (True, 0), (True, 3)])
def test_pair_outputs_do_not_depend_on_strand_or_batch(bin_norm, kmer_k):
    model = PRISM(tiny(bin_norm=bin_norm, kmer_k=kmer_k))
    if bin_norm:          # give the running statistics non-trivial values first
        model.train()
        with torch.no_grad():
            model.encode_enhancers(codes(16, 64, 3))
            model.encode_promoters(codes(16, 48, 4))
        assert model.enhancer_tower.bin_norm.num_batches_tracked.item() == 1
    model.eval()
    e, p = codes(5, 64, 1), codes(5, 48, 2)
    ld = torch.linspace(3.5, 5.0, 5)
    with torch.no_grad():
        out = model.pair(model.encode_enhancers(e), model.encode_promoters(p), ld)
        e_rc = torch.from_numpy(reverse_complement(e.numpy()))
        out_rc = model.pair(model.encode_enhancers(e_rc), model.encode_promoters(p), ld)
        one = model.pair(model.encode_enhancers(e[2:3]), model.encode_promoters(p[2:3]), ld[2:3])
    assert out["z_I"].shape == (5, 12) and out["U"].shape == (5,) and out["z_F"].shape == (5, 5)
    for k in out:
        assert torch.allclose(out[k], out_rc[k], atol=1e-4), k
        assert torch.allclose(out[k][2:3], one[k], atol=1e-5), k


@pytest.mark.parametrize("arch,z_f_elements,n_heads,kmer_k", [
    ("prism", True, 2, 0), ("prism", False, 4, 3), ("crossattn", False, 1, 0)])
def test_pair_from_element_terms_equals_pair(arch, z_f_elements, n_heads, kmer_k):
    """The inference path (per-element terms, then the per-pair step) gives pair()'s
    outputs in eval mode, for every architecture and head count."""
    model = build_model(tiny(arch=arch, z_f_elements=z_f_elements, n_heads=n_heads,
                             kmer_k=kmer_k, dropout=0.3))
    with torch.no_grad():  # non-trivial biases and LayerNorm affine, so no term cancels
        for prm in model.pair_encoder.parameters():
            prm.add_(0.3 * torch.randn_like(prm))
    model.eval()
    e, p = codes(7, 64, 1), codes(7, 48, 2)
    ld = torch.linspace(2.5, 6.0, 7)
    with torch.no_grad():
        et, pt = model.encode_enhancers(e), model.encode_promoters(p)
        want = model.pair(et, pt, ld)
        # terms of 3 enhancers and 4 promoters, pairs gathered from them (as score does)
        e_rows, p_rows = torch.tensor([0, 2, 1, 1, 0, 2, 2]), torch.tensor([3, 0, 1, 2, 2, 0, 3])
        e_terms = model.element_terms(et[:3], "enhancer")
        p_terms = model.element_terms(pt[:4], "promoter")
        got = model.pair_from_terms({k: v[e_rows] for k, v in e_terms.items()},
                                    {k: v[p_rows] for k, v in p_terms.items()}, ld)
        want_rows = model.pair(et[e_rows], pt[p_rows], ld)
    assert set(got) == set(want)
    for k in want:
        assert torch.allclose(got[k], want_rows[k], atol=1e-5), k
    assert not torch.allclose(got["U"], want["U"], atol=1e-3)  # the rows really differ


def test_kmer_spectrum_matches_counting_by_hand():
    from prism_cli.encode import decode
    from prism_cli.model.kmer import KmerToken

    k = 3
    token = KmerToken(k, 8)
    c = codes(3, 30, 5)
    spec = token.spectrum(c)
    assert spec.shape == (3, 32)
    comp = str.maketrans("ACGT", "TGCA")
    for row in range(3):
        seq = decode(c[row].numpy())
        kmers = [seq[i:i + k] for i in range(len(seq) - k + 1) if "N" not in seq[i:i + k]]
        canon = [min(m, m.translate(comp)[::-1]) for m in kmers]
        want = sorted(np.unique(canon, return_counts=True)[1] / len(kmers))
        got = spec[row][spec[row] > 0].sort().values.numpy()
        assert np.allclose(got, want)
        # a k-mer and its reverse complement land in the same column
        rc = torch.from_numpy(reverse_complement(c[row:row + 1].numpy()))
        assert torch.allclose(token.spectrum(rc), spec[row:row + 1])


def test_tower_kmer_token_is_strand_invariant_and_learns():
    cfg = tiny(kmer_k=4)
    tower = SequenceTower(cfg).eval()
    c = codes(4, 64)
    tok = tower(c)
    assert tok.shape == (4, cfg.n_tokens + 1, cfg.d_model) and cfg.tokens_per_element == 5
    rc = torch.from_numpy(reverse_complement(c.numpy()))
    tok_rc = tower(rc)
    assert torch.allclose(tok_rc[:, -1], tok[:, -1], atol=1e-5)            # k-mer token
    assert torch.allclose(tok_rc[:, :-1], tok[:, :-1].flip(1), atol=1e-5)  # bins reversed
    from prism_cli.encode import one_hot
    assert torch.allclose(tower(one_hot(c)), tok, atol=1e-6)
    tower.train()
    tower(c)[:, -1].sum().backward()
    assert tower.kmer.project.weight.grad.abs().sum() > 0
    assert tower(c[:1]).shape == (1, 5, cfg.d_model)  # a one-element chunk in training


def test_pair_encoder_uses_distance():
    enc = PairEncoder(tiny()).eval()
    e, p = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    z1 = enc(e, p, torch.tensor([3.0, 3.0]))
    z2 = enc(e, p, torch.tensor([5.0, 5.0]))
    assert z1.shape == (2, 12)
    assert not torch.allclose(z1, z2)


def test_fourier_kan_layer_matches_hand_computation():
    layer = FourierKANLayer(2, 1, n_frequencies=2)
    with torch.no_grad():
        # coef[0] = cosine a_{j,i,k}, coef[1] = sine b_{j,i,k}
        layer.coef.copy_(torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]],
                                       [[[1.5, 0.25], [0.0, -0.75]]]]))
        layer.bias.fill_(0.3)
    x = torch.tensor([[0.7, -1.2]])
    x1, x2 = 0.7, -1.2
    expected = (0.3
                + 0.5 * math.cos(x1) - 1.0 * math.cos(2 * x1) + 1.5 * math.sin(x1)
                + 0.25 * math.sin(2 * x1)
                + 2.0 * math.cos(x2) + 0.0 * math.cos(2 * x2) + 0.0 * math.sin(x2)
                - 0.75 * math.sin(2 * x2))
    assert layer(x).item() == pytest.approx(expected, rel=1e-6)


def test_energy_kan_is_scalar_per_pair():
    kan = FourierEnergyKAN(12, hidden=6, n_frequencies=3)
    assert kan(torch.randn(7, 12)).shape == (7,)


def test_resistance_is_nonnegative_per_pair_and_depends_on_environment():
    cfg = tiny()
    head = ResistanceHead(cfg)
    z_f = torch.randn(50, cfg.d_f) * 3
    pi1 = torch.softmax(torch.randn(cfg.n_prototypes) * 3, 0)
    pi2 = torch.softmax(torch.randn(cfg.n_prototypes) * 3, 0)
    r1, r2 = head(z_f, pi1), head(z_f, pi2)
    assert r1.shape == (50,) and (r1 >= 0).all() and (r2 >= 0).all()
    assert r1.std() > 0                                   # per pair, not one number per cell
    assert not torch.allclose(r1, r2)
    # batched environments broadcast: (E, M, d_f) with (E, 1, K)
    assert head(z_f.view(5, 10, -1), torch.stack([pi1] * 5)[:, None]).shape == (5, 10)


def test_scalar_environment_ablation():
    cfg = tiny(prototype_map=False)
    assert cfg.env_dim == 1
    head = ResistanceHead(cfg)
    r = head(torch.randn(6, cfg.d_f), torch.tensor([0.5]))
    assert torch.allclose(r, torch.nn.functional.softplus(torch.tensor(0.5)).expand(6))
    assert env_from_logits(torch.tensor([2.0]), False).item() == 2.0


def test_teacher_student_opportunist_read_what_they_should():
    cfg = tiny()
    teacher = TeacherTable(cfg.n_cells, cfg.env_dim)
    pi_t = env_from_logits(teacher(torch.tensor([0, 2])), True)
    assert torch.allclose(pi_t, torch.softmax(teacher.theta.detach()[[0, 2]], -1))
    student, opp = Student(cfg).eval(), Opportunist(cfg).eval()
    torch.manual_seed(0)
    z_f, z_i, u = torch.randn(2, 9, cfg.d_f), torch.randn(2, 9, cfg.d_z), torch.randn(2, 9)
    y = torch.randint(0, 2, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.bool)
    assert student(z_f, u, y, mask).shape == (2, cfg.env_dim)
    # the opportunist reads z_I and the support's label base rate; padding is ignored
    base = opp(z_i, y, mask)
    assert not torch.allclose(base, opp(z_i, 1 - y, mask))
    assert not torch.allclose(base, opp(z_i + 1.0, y, mask))
    z_pad = torch.cat([z_i, 100 * torch.randn(2, 3, cfg.d_z)], 1)
    y_pad = torch.cat([y, torch.ones(2, 3, dtype=y.dtype)], 1)
    m_pad = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], 1)
    assert torch.allclose(base, opp(z_pad, y_pad, m_pad), atol=1e-6)


def test_student_is_permutation_invariant_and_ignores_padding():
    cfg = tiny()
    model = PRISM(cfg).eval()
    z_f, u = torch.randn(1, 20, cfg.d_f), torch.randn(1, 20)
    y = torch.randint(0, 2, (1, 20))
    mask = torch.ones(1, 20, dtype=torch.bool)
    pi = model.student_environment(z_f, u, y, mask)
    perm = torch.randperm(20)
    pi_perm = model.student_environment(z_f[:, perm], u[:, perm], y[:, perm], mask)
    assert torch.allclose(pi, pi_perm, atol=1e-6)
    # padding rows (mask False) with garbage change nothing
    pad = lambda t, v: torch.cat([t, torch.full_like(t[:, :5], v)], 1)  # noqa: E731
    z_pad = torch.cat([z_f, torch.randn(1, 5, cfg.d_f) * 100], 1)
    pi_pad = model.student_environment(z_pad, pad(u, 50.0), pad(y, 1),
                                       torch.cat([mask, torch.zeros(1, 5, dtype=bool)], 1))
    assert torch.allclose(pi, pi_pad, atol=1e-6)
    # and labels matter
    pi_flip = model.student_environment(z_f, u, 1 - y, mask)
    assert not torch.allclose(pi, pi_flip)


def test_gradient_reversal():
    x = torch.ones(3, requires_grad=True)
    reverse_gradient(x, 0.5).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -0.5))


def test_adversary_and_switches():
    full = PRISM(tiny())
    assert full.adversary is not None and full.opportunist is not None
    bare = PRISM(tiny(adversary=False, opportunist=False))
    assert bare.adversary is None and bare.opportunist is None
    logits = full.adversary(torch.randn(4, 12))
    assert logits.shape == (4, 3)


def test_probability_formula_and_temperature():
    model = PRISM(tiny())
    with torch.no_grad():
        model.log_temperature.fill_(math.log(2.0))
    u, r = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(model.probability(u, r), torch.sigmoid((u - r) / 2.0))


def test_crossattn_same_interface():
    cfg = tiny(arch="crossattn")
    model = build_model(cfg).eval()
    assert isinstance(model, CrossAttn) and not model.has_environment
    e, p = model.encode_enhancers(codes(3, 32)), model.encode_promoters(codes(3, 32))
    out = model.pair(e, p, torch.tensor([4.0, 4.5, 5.0]))
    assert out["U"].shape == (3,)
    assert torch.allclose(model.probability(out["U"], model.resistance(out["z_F"])),
                          torch.sigmoid(out["U"]))


def test_config_round_trip_and_validation():
    cfg = tiny()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"no_such_key": 1})
    with pytest.raises(ValueError):
        ModelConfig(arch="cnn")
    with pytest.raises(ValueError):
        ModelConfig(kmer_k=9)   # 4**9 columns: refused
    with pytest.raises(ValueError, match="motif_norm"):
        ModelConfig(motif_norm="bacth")   # a typo is not silently "none"
    # checkpoints written before the unused "extra" field was removed still load
    assert ModelConfig.from_saved({**cfg.to_dict(), "extra": {}}) == cfg
    # through JSON, as a checkpoint stores it (tuples come back as lists)
    assert ModelConfig.from_saved(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_z_f_reads_element_content_directly():
    """z_f_elements: z_F = MLP(z_I) + W [mean enhancer tokens, mean promoter tokens], so R
    gets a gradient to the element tokens that does not pass through z_I; without it z_F
    is a function of z_I alone."""
    e_tok, p_tok = torch.randn(6, 4, 16), torch.randn(6, 4, 16)
    ld = torch.full((6,), 4.0)
    for on in (True, False):
        torch.manual_seed(0)
        model = PRISM(tiny(z_f_elements=on)).eval()
        out = model.pair(e_tok, p_tok, ld)
        direct = model.decoupler(out["z_I"])
        if on:
            pooled = torch.cat([e_tok.mean(1), p_tok.mean(1)], -1)
            assert torch.allclose(out["z_F"], direct + model.element_path(pooled), atol=1e-6)
            assert not torch.allclose(out["z_F"], direct, atol=1e-3)
        else:
            assert model.element_path is None
            assert torch.allclose(out["z_F"], direct, atol=1e-6)
