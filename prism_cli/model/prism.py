"""The models: PRISM (decoupled energy model) and CrossAttn (plain baseline).

Both expose the same split interface, so training, validation, ``adapt`` and ``score``
share one data flow and every unique element is encoded once:

    encode_enhancers(codes (B, Le) uint8) -> tokens (B, n_tok, d_model)
    encode_promoters(codes (B, Lp) uint8) -> tokens (B, n_tok, d_model)
    (n_tok = cfg.tokens_per_element: n_tokens bins + the k-mer token)
    pair(enh_tokens (B, n, d), prom_tokens (B, n, d), log_distance (B,))
        -> {"z_I": (B, d_z), "U": (B,), "z_F": (B, d_f)}
    resistance(z_F (…, d_f), pi (…, K)) -> R (…) >= 0
    probability(U (…), R (…)) -> p (…) = sigmoid((U - R) / T)

PRISM adds the environment machinery (teacher table, student, opportunist, adversary).
CrossAttn has no environment: U is a plain classification logit, R = 0, T = 1.
"""

from __future__ import annotations

import torch
from torch import nn

from .adversary import DomainAdversary
from .attention import PairEncoder
from .config import ModelConfig
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
    """Towers + pair encoder shared by both architectures."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.enhancer_tower = SequenceTower(cfg)
        self.promoter_tower = SequenceTower(cfg)
        self.pair_encoder = PairEncoder(cfg)
        self.distance_energy = DistanceEnergy(cfg) if cfg.distance_path else None

    def _distance_term(self, log_distance: torch.Tensor) -> torch.Tensor | float:
        return 0.0 if self.distance_energy is None else self.distance_energy(log_distance)

    def encode_enhancers(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, Le) uint8 -> tokens (B, n_tok, d_model)."""
        return self.enhancer_tower(codes)

    def encode_promoters(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, Lp) uint8 -> tokens (B, n_tok, d_model)."""
        return self.promoter_tower(codes)

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
        self.resistance_head = ResistanceHead(cfg)
        self.teacher = TeacherTable(cfg.n_cells, cfg.env_dim)
        self.student = Student(cfg)
        self.opportunist = Opportunist(cfg) if cfg.opportunist else None
        self.adversary = DomainAdversary(cfg.d_z, cfg.n_cells) if cfg.adversary else None
        self.log_temperature = nn.Parameter(torch.zeros(()))

    # ---- backbone -------------------------------------------------------------------
    def backbone_modules(self) -> list[nn.Module]:
        """Modules producing z_I, U_I and z_F (what distill/competition must not move)."""
        mods = [self.enhancer_tower, self.promoter_tower, self.pair_encoder, self.energy,
                self.decoupler]
        return mods + ([self.distance_energy] if self.distance_energy is not None else [])

    def pair(self, enh_tokens: torch.Tensor, prom_tokens: torch.Tensor,
             log_distance: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pair outputs from cached element tokens (see module docstring)."""
        z_i = self.pair_encoder(enh_tokens, prom_tokens, log_distance)
        u = self.energy(z_i) + self._distance_term(log_distance)
        return {"z_I": z_i, "U": u, "z_F": self.decoupler(z_i)}

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
        return env_from_logits(self.teacher(cell), self.cfg.prototype_map)

    def student_environment(self, z_f, u, y, mask) -> torch.Tensor:
        """pi_S from a support set: z_F (E, N, d_f), U (E, N), y (E, N), mask (E, N) -> (E, K)."""
        return env_from_logits(self.student(z_f, u, y, mask), self.cfg.prototype_map)

    def opportunist_environment(self, z_i, y, mask) -> torch.Tensor:
        """pi_O: z_I (E, N, d_z), y (E, N), mask (E, N) -> (E, K)."""
        return env_from_logits(self.opportunist(z_i, y, mask), self.cfg.prototype_map)

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
        mods = [self.enhancer_tower, self.promoter_tower, self.pair_encoder, self.head]
        return mods + ([self.distance_energy] if self.distance_energy is not None else [])

    def pair(self, enh_tokens, prom_tokens, log_distance) -> dict[str, torch.Tensor]:
        z_i = self.pair_encoder(enh_tokens, prom_tokens, log_distance)
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
