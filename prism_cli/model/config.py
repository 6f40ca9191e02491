"""Model hyper-parameters and ablation switches, one JSON-serialisable dataclass.

Everything needed to rebuild a model from a checkpoint lives here (the checkpoint's
``meta.json`` stores ``ModelConfig.to_dict()``); training-only settings live in
``prism_cli.train.config.TrainConfig``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ARCHES = ("prism", "crossattn")
RC_MODES = ("max", "mean", "none")
MOTIF_NORMS = ("none", "batch")
# removed fields that did nothing: ignored when a saved config (checkpoint) still has them
REMOVED_FIELDS = ("extra",)


# value of each field added after the first checkpoints, for configs saved without it
SAVED_BEFORE_FIELD_EXISTED = {"kmer_k": 0, "n_features": 0, "sequence_tower": True,
                              "env_map_steps": 0, "env_space": "simplex",
                              "z_f_elements": False, "feature_dropout": None}
ENV_SPACES = ("simplex", "vector")


@dataclass
class ModelConfig:
    """Architecture of a PRISM (or crossattn baseline) model.

    Sequence towers
        channels: motif detectors in the first convolution; motif_width: their width (bp);
        pool: max-pool factor after the motif layer; dilations: one residual dilated
        conv block per entry; n_tokens: tokens per element (adaptive pooling bins);
        d_model: token width; rc: reverse-complement handling ("max"/"mean" over both
        strands = exactly strand-invariant, "none" = forward strand only);
        dropout: dropout on motif maps and tokens; kmer_k: k of the k-mer content token
        appended to each element's tokens (0 = none; see model/kmer.py).
    Element features
        n_features: width F of the per-element feature vector read by the feature tower
        (motif occupancies or table columns, prism_cli/features/; 0 = no feature tower);
        sequence_tower: whether the convolutional sequence towers run as well.  The two
        towers' tokens are concatenated per element.  feature_dropout: dropout on the
        standardised features (None = ``dropout``; ``prism train`` sets 0 for a feature
        table alone, FeatureSpec.feature_dropout).
    Pair encoder
        n_heads, n_anchors: cross-attention heads and anchor queries; d_z: width of z_I.
    Energy head
        kan_hidden, kan_frequencies: FourierEnergyKAN width and number of Fourier terms.
    Environment (arch "prism" only)
        d_f: width of z_F; z_f_elements: z_F = MLP(z_I) + a linear map of the two
        elements' mean tokens (a direct path from element content to R; without it z_F
        sees only what z_I kept, and z_I is shaped mostly by U); n_prototypes (K) and
        d_env: prototype map P (K x d_env); student_hidden: width of the set encoders;
        n_cells: rows of the teacher table.
    Environment estimate from a support set (model/posterior.py)
        env_map_steps: Gauss-Newton steps refining the student's guess to the MAP of the
        support likelihood (0 = the student alone); env_init: "student" (amortised
        guess) or "prior" (start from the prior mean: MAP alone); env_prior_strength:
        precision multiplier of the prior built from the teacher environments;
        env_unlabelled_weight: weight of unlabelled support pairs (EM).
        env_space: "simplex" -- an environment is pi = softmax(theta) over the K
        prototypes (e = pi^T P inside their convex hull); "vector" -- theta itself
        (e = theta^T P, unconstrained: the prior, the MAP and distillation work on theta).
    Switches (ablations)
        adversary, distill, opportunist, stop_gradient, prototype_map.
    """

    arch: str = "prism"
    enhancer_length: int = 0
    promoter_length: int = 0
    # towers
    channels: int = 32
    motif_width: int = 15
    pool: int = 4
    dilations: tuple[int, ...] = ()
    n_tokens: int = 4
    d_model: int = 32
    rc: str = "max"
    motif_norm: str = "none"
    bin_norm: bool = True               # BatchNorm on pooled tower features (see benchmarks.md)
    dropout: float = 0.3
    kmer_k: int = 5                     # k-mer content token (0 = none; benchmarks.md)
    # element features (prism_cli/features/, model/features.py)
    n_features: int = 0
    sequence_tower: bool = True
    feature_dropout: float | None = None
    # pair encoder
    n_heads: int = 4
    n_anchors: int = 4
    d_z: int = 64
    # energy head
    distance_path: bool = True          # U = KAN(z_I) + MLP(log10 distance)
    kan_hidden: int = 16
    kan_frequencies: int = 4
    # environment
    d_f: int = 32
    z_f_elements: bool = True
    n_prototypes: int = 8
    d_env: int = 32
    student_hidden: int = 64
    n_cells: int = 1
    # environment estimate (posterior.py)
    env_map_steps: int = 5
    env_init: str = "student"
    env_prior_strength: float = 1.0
    env_unlabelled_weight: float = 0.5
    env_space: str = "simplex"
    # switches
    adversary: bool = True
    distill: bool = True
    opportunist: bool = True
    stop_gradient: bool = True
    prototype_map: bool = True
    # log10-distance standardisation (set from the training pairs)
    distance_mean: float = 4.5
    distance_sd: float = 0.5

    def __post_init__(self):
        self.dilations = tuple(int(d) for d in self.dilations)
        if self.arch not in ARCHES:
            raise ValueError(f"arch must be one of {ARCHES}, got {self.arch!r}")
        if self.rc not in RC_MODES:
            raise ValueError(f"rc must be one of {RC_MODES}, got {self.rc!r}")
        if self.motif_norm not in MOTIF_NORMS:
            raise ValueError(f"motif_norm must be one of {MOTIF_NORMS}, got {self.motif_norm!r}")
        if self.env_init not in ("student", "prior"):
            raise ValueError(f"env_init must be student or prior, got {self.env_init!r}")
        if self.env_space not in ENV_SPACES:
            raise ValueError(f"env_space must be one of {ENV_SPACES}, got {self.env_space!r}")
        if self.env_map_steps < 0 or self.env_prior_strength <= 0:
            raise ValueError("env_map_steps must be >= 0 and env_prior_strength > 0")
        if not 0 <= self.kmer_k <= 8:
            raise ValueError(f"kmer_k must be 0 (off) or 1-8, got {self.kmer_k}")
        if self.n_features < 0 or (not self.n_features and not self.sequence_tower):
            raise ValueError("a model needs element features (n_features > 0), the "
                             "sequence tower, or both")
        if self.feature_dropout is not None and not 0 <= self.feature_dropout < 1:
            raise ValueError(f"feature_dropout must be in [0, 1), got {self.feature_dropout}")
        if self.d_model % self.n_heads:
            raise ValueError("d_model must be divisible by n_heads")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = {k: v for k, v in d.items() if k not in REMOVED_FIELDS}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_saved(cls, d: dict) -> "ModelConfig":
        """A config stored by an earlier version (checkpoint meta, run config.json): fields
        added since then take the value that reproduces the old model, not today's
        default (a checkpoint without ``kmer_k`` has no k-mer token)."""
        return cls.from_dict({**SAVED_BEFORE_FIELD_EXISTED, **d})

    @property
    def tokens_per_element(self) -> int:
        """Tokens per element: the sequence tower's n_tokens bins (+ 1 k-mer token), then
        the feature tower's n_tokens."""
        seq = self.n_tokens + (1 if self.kmer_k else 0) if self.sequence_tower else 0
        return seq + (self.n_tokens if self.n_features else 0)

    @property
    def env_dim(self) -> int:
        """Width of an environment vector pi: K prototypes, or 1 without the map."""
        return self.n_prototypes if self.prototype_map else 1

    @property
    def env_softmax(self) -> bool:
        """Whether environment logits theta map to pi by a softmax (the simplex over
        prototypes); otherwise pi = theta (the vector space and the scalar ablation)."""
        return self.prototype_map and self.env_space == "simplex"
