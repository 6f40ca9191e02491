"""The models: PRISM (decoupled energy model) and CrossAttn (plain baseline).

Both expose the same split interface, so training, validation, ``adapt`` and ``score``
share one data flow and every unique element is encoded once:

    encode_enhancers(x) -> tokens (B, n_tok, d_model)
    encode_promoters(x) -> tokens (B, n_tok, d_model)
    (x: the element input -- codes (B, L) uint8, features (B, F) float, or both as one
    float (B, F + L), model/features.py; n_tok = cfg.tokens_per_element)
    pair(enh_tokens (B, n, d), prom_tokens (B, n, d), log_distance (B,))
        -> {"z_I": (B, d_z), "U": (B,), "z_F": (B, d_f)}
    element_terms(tokens (N, n, d), role) -> per-element terms (dict of (N, ...) tensors)
    pair_from_terms(enhancer terms, promoter terms (rows = pairs), log_distance (B,))
        -> the outputs of pair() in eval mode (inference: attention.py's docstring)
    resistance(z_F (…, d_f), pi (…, K)) -> R (…) >= 0
    probability(U (…), R (…)) -> p (…) = sigmoid((U - R) / T)

PRISM adds the environment machinery (teacher table, student, opportunist, adversary).
CrossAttn has no environment: U is a plain classification logit, R = 0, T = 1.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .adversary import DomainAdversary
from .attention import PairEncoder
from .config import ModelConfig
from .features import FeatureTower, split_element_input
from .environment import (Opportunist, ResistanceHead, Student, TeacherTable,
                          env_from_logits)
from .kan import FourierEnergyKAN
from .layers import MLP, DistanceFeatures
from .towers import SequenceTower


class DistanceEnergy(nn.Module):
    """Additive distance term of U: log10 distance (B,) -> (B,), a small MLP of the
    standardised distance features.  Keeps the distance effect -- the strongest single
    signal in real data -- one easy step away, whatever the sequence features do."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.features = DistanceFeatures(cfg.distance_mean, cfg.distance_sd)
        self.mlp = MLP(self.features.dim, 16, 1)

    def forward(self, log_distance: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(log_distance)).squeeze(-1)


class _Backbone(nn.Module):
    """Towers (sequence and/or feature) + pair encoder shared by both architectures."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        seq, feat = cfg.sequence_tower, cfg.n_features > 0
        self.enhancer_tower = SequenceTower(cfg) if seq else None
        self.promoter_tower = SequenceTower(cfg) if seq else None
        self.enhancer_features = FeatureTower(cfg) if feat else None
        self.promoter_features = FeatureTower(cfg) if feat else None
        self.pair_encoder = PairEncoder(cfg)
        self.distance_energy = DistanceEnergy(cfg) if cfg.distance_path else None

    def _distance_term(self, log_distance: torch.Tensor) -> torch.Tensor | float:
        return 0.0 if self.distance_energy is None else self.distance_energy(log_distance)

    def _encode(self, tower, features, x: torch.Tensor) -> torch.Tensor:
        feats, codes = split_element_input(x, self.cfg.n_features, self.cfg.sequence_tower)
        tokens = [tower(codes)] if tower is not None else []
        if features is not None:
            tokens.append(features(feats))
        return tokens[0] if len(tokens) == 1 else torch.cat(tokens, dim=1)

    def encode_enhancers(self, x: torch.Tensor) -> torch.Tensor:
        """Element input (B, ...) -> tokens (B, n_tok, d_model)."""
        return self._encode(self.enhancer_tower, self.enhancer_features, x)

    def encode_promoters(self, x: torch.Tensor) -> torch.Tensor:
        """Element input (B, ...) -> tokens (B, n_tok, d_model)."""
        return self._encode(self.promoter_tower, self.promoter_features, x)

    def element_terms(self, tokens: torch.Tensor, role: str) -> dict[str, torch.Tensor]:
        """Per-element terms of the pair head, computed once per element for inference:
        tokens (N, n, d), role "enhancer"/"promoter" -> dict of (N, ...) tensors (those of
        PairEncoder.element_terms, + "mean" (N, d))."""
        return {**self.pair_encoder.element_terms(tokens, role), "mean": tokens.mean(1)}

    def pair_from_terms(self, e: dict, p: dict, log_distance: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
        """``pair()`` in eval mode from the element terms of each pair's two elements."""
        z_i = self.pair_encoder.from_terms(e, p, log_distance)
        return self._outputs(z_i, e["mean"], p["mean"], log_distance)

    def tower_modules(self) -> list[nn.Module]:
        """The element encoders that exist (sequence and feature towers)."""
        return [m for m in (self.enhancer_tower, self.promoter_tower, self.enhancer_features,
                            self.promoter_features) if m is not None]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


class PRISM(_Backbone):
    """P(y=1 | x, c) = sigmoid((U_I(x) - R(x, pi_c)) / T)."""

    has_environment = True

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.energy = FourierEnergyKAN(cfg.d_z, cfg.kan_hidden, cfg.kan_frequencies)
        self.decoupler = MLP(cfg.d_z, cfg.d_z, cfg.d_f)
        # direct path element content -> z_F (model/config.py: z_f_elements)
        self.element_path = nn.Linear(2 * cfg.d_model, cfg.d_f) if cfg.z_f_elements else None
        self.resistance_head = ResistanceHead(cfg)
        self.teacher = TeacherTable(cfg.n_cells, cfg.env_dim)
        self.student = Student(cfg)
        self.opportunist = Opportunist(cfg) if cfg.opportunist else None
        self.adversary = DomainAdversary(cfg.d_z, cfg.n_cells) if cfg.adversary else None
        self.log_temperature = nn.Parameter(torch.zeros(()))

    # ---- backbone -------------------------------------------------------------------
    def backbone_modules(self) -> list[nn.Module]:
        """Modules producing z_I, U_I and z_F (what distill/competition must not move)."""
        mods = self.tower_modules() + [self.pair_encoder, self.energy, self.decoupler]
        mods += [self.element_path] if self.element_path is not None else []
        return mods + ([self.distance_energy] if self.distance_energy is not None else [])

    def pair(self, enh_tokens: torch.Tensor, prom_tokens: torch.Tensor,
             log_distance: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pair outputs from cached element tokens (see module docstring)."""
        z_i = self.pair_encoder(enh_tokens, prom_tokens, log_distance)
        return self._outputs(z_i, enh_tokens.mean(1), prom_tokens.mean(1), log_distance)

    def _outputs(self, z_i, enh_mean, prom_mean, log_distance) -> dict[str, torch.Tensor]:
        """z_I (B, d_z), the elements' mean tokens (B, d) -> {"z_I", "U", "z_F"}."""
        u = self.energy(z_i) + self._distance_term(log_distance)
        z_f = self.decoupler(z_i)
        if self.element_path is not None:
            pooled = torch.cat([enh_mean, prom_mean], dim=-1)
            z_f = z_f + self.element_path(pooled.to(z_f.dtype))
        return {"z_I": z_i, "U": u, "z_F": z_f}

    # ---- environment ------------------------------------------------------------------
    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.clamp(-3.0, 3.0).exp()

    def resistance(self, z_f: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """R(x, pi) >= 0.  z_F (…, d_f), pi (K,) or (…, K) -> (…)."""
        return self.resistance_head(z_f, pi)

    def probability(self, u: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(u, r))

    def logit(self, u: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return (u.float() - r.float()) / self.temperature

    def teacher_environment(self, cell: torch.Tensor) -> torch.Tensor:
        """pi_T(c).  cell (…,) long -> (…, K)."""
        return env_from_logits(self.teacher(cell), self.cfg.env_softmax)

    def student_environment(self, z_f, u, y, mask) -> torch.Tensor:
        """pi_S from a support set: z_F (E, N, d_f), U (E, N), y (E, N), mask (E, N) -> (E, K)."""
        return env_from_logits(self.student(z_f, u, y, mask), self.cfg.env_softmax)

    def support_environment(self, z_f, u, y, mask, prior_cell: int | None = None,
                            create_graph: bool = False) -> dict[str, torch.Tensor]:
        """The environment a support set implies: the student's amortised guess refined
        to the MAP of the support likelihood (model/posterior.py), the one procedure of
        training episodes, validation, ``adapt`` and ``score --support``.

        z_F (E, N, d_f), U (E, N), y (E, N), mask (E, N); prior_cell: a training cell
        whose teacher environment is the prior (known cell + support), else the prior
        is built from all training cells.  Returns {"pi": (E, K), "pi_student": (E, K),
        "theta": (E, K)} (+ "cov_theta" (E, K, K) without ``create_graph``)."""
        from .posterior import map_environment, teacher_prior

        cfg = self.cfg
        student = self.student(z_f, u, y, mask)                          # (E, K) logits
        mu, var = teacher_prior(self, prior_cell)
        if cfg.env_init == "prior" or prior_cell is not None:
            init = mu.to(student.device).expand_as(student)
        else:
            init = student
        if cfg.env_map_steps == 0:
            theta, extra = init, {}
        else:
            out = map_environment(self, z_f, u, y, mask, init, mu, var,
                                  cfg.env_prior_strength, cfg.env_map_steps,
                                  cfg.env_unlabelled_weight, create_graph=create_graph)
            theta = out.pop("theta")
            extra = out
        return {"pi": env_from_logits(theta, cfg.env_softmax), "theta": theta,
                "pi_student": env_from_logits(student, cfg.env_softmax), **extra}

    def opportunist_environment(self, z_i, y, mask) -> torch.Tensor:
        """pi_O: z_I (E, N, d_z), y (E, N), mask (E, N) -> (E, K)."""
        return env_from_logits(self.opportunist(z_i, y, mask), self.cfg.env_softmax)

    def opportunist_logit(self, u, z_f, pi_o) -> torch.Tensor:
        """The opportunist's logit (U - R(z_F, pi_O)) / T, with U, z_F, T and the resistance
        head's weights detached: its loss trains the opportunist only.
        u (E, M), z_F (E, M, d_f), pi_O (E, K) -> (E, M)."""
        frozen = {k: v.detach() for k, v in self.resistance_head.named_parameters()}
        r = functional_call(self.resistance_head, frozen, (z_f.detach(), pi_o[:, None]))
        return (u.detach().float() - r.float()) / self.temperature.detach()

    def mean_teacher_environment(self) -> torch.Tensor:
        """Mean of pi_T over training cells, (K,): the 'average environment'."""
        cells = torch.arange(self.teacher.theta.shape[0], device=self.device)
        return self.teacher_environment(cells).mean(0)


class CrossAttn(_Backbone):
    """Baseline: same towers and cross-attention, a plain classification head on z_I.

    pair() returns U = logit and z_F = z_I; resistance is 0 and T = 1, so
    probability(U, R) = sigmoid(U) and no cell environment is involved.
    """

    has_environment = False

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.head = MLP(cfg.d_z, cfg.d_z, 1, cfg.dropout)

    def backbone_modules(self) -> list[nn.Module]:
        mods = self.tower_modules() + [self.pair_encoder, self.head]
        return mods + ([self.distance_energy] if self.distance_energy is not None else [])

    def pair(self, enh_tokens, prom_tokens, log_distance) -> dict[str, torch.Tensor]:
        z_i = self.pair_encoder(enh_tokens, prom_tokens, log_distance)
        return self._outputs(z_i, None, None, log_distance)

    def _outputs(self, z_i, enh_mean, prom_mean, log_distance) -> dict[str, torch.Tensor]:
        u = self.head(z_i).squeeze(-1) + self._distance_term(log_distance)
        return {"z_I": z_i, "U": u, "z_F": z_i}

    @property
    def temperature(self) -> torch.Tensor:
        return torch.ones((), device=self.device)

    def resistance(self, z_f: torch.Tensor, pi=None) -> torch.Tensor:
        return torch.zeros(z_f.shape[:-1], device=z_f.device)

    def probability(self, u, r=None) -> torch.Tensor:
        return torch.sigmoid(u.float())

    def logit(self, u, r=None) -> torch.Tensor:
        return u.float()


def build_model(cfg: ModelConfig) -> PRISM | CrossAttn:
    """The model named by ``cfg.arch``."""
    return PRISM(cfg) if cfg.arch == "prism" else CrossAttn(cfg)
