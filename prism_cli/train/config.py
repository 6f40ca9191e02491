"""Training settings (JSON-serialisable).  ``prism train --config FILE`` reads a JSON
object ``{"model": {...ModelConfig fields}, "train": {...TrainConfig fields}}``; command
line options override it; the resolved result is written to RUN/config.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# keys of removed settings -> (the value under which they did nothing, what to do instead):
# configs saved before the removal (RUN/config.json, checkpoint metadata) still load; any
# other value is an error
REMOVED = {
    "freeze_motifs": (False, "freezing the motif layer after tower pretraining is gone; "
                      "drop the key"),
    "discover_degenerate": (False, "set discover_repeat_mask and discover_gapped_seeds "
                            "to true instead"),
}


@dataclass
class TrainConfig:
    """Episodes, optimisation, loss weights, competition and validation settings.

    Episodes: each step draws ``batch_episodes`` episodes; each episode is one cell with
    a support set (size log-uniform in [support_min, support_max], both classes) and a
    disjoint query set of ``query_size`` pairs.  ``steps_per_epoch`` = 0 means "enough
    steps for the query sets to cover the training pairs once, and at least
    ``min_steps_per_epoch``" (small datasets, e.g. the 18,832 real TargetFinder pairs,
    would otherwise get 6 steps per epoch; bench/results/element_features/ shows the
    validation AUPR still rising at 60 steps and higher at 300).
    """

    epochs: int = 10
    steps_per_epoch: int = 0
    min_steps_per_epoch: int = 30             # floor of the steps_per_epoch = 0 rule
    batch_episodes: int = 16
    support_min: int = 8
    support_max: int = 256
    query_size: int = 128
    unlabelled_support_fraction: float = 0.0  # labels hidden from the student (transductive)
    cell_weighting: str = "sqrt"               # "sqrt" | "uniform" | "size"
    # optimisation
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 30
    grad_clip: float = 1.0
    encode_chunk: int = 512                   # elements per checkpointed tower chunk
    # label-free tower pretraining (element vs shuffled element), before epoch 1
    pretrain_steps: int = 0                   # 0: off (docs/model.md: no motif gain)
    pretrain_batch: int = 64
    pretrain_lr: float = 3e-3
    # element features (prism_cli/features/): label-free motif discovery and scanning
    discover_motifs: int = 32                 # motifs kept at most (after TOMTOM merging)
    discover_steps: int = 100                 # element-vs-shuffle steps per discovery round
    discover_max_elements: int = 4000         # elements pooled (discovery uses <= 3000)
    discover_repeat_mask: bool = False        # mask repeat copies before discovery
    discover_gapped_seeds: bool = False       # seeds from k-mers with one free position
    motif_p_value: float = 1e-4               # hit threshold: rate on shuffled elements
    motif_softness: float = 1.0               # soft occupancy, bits (0: hit counts)
    motif_finetune_steps: int = 0             # discover: thresholds/softnesses fitted on
    motif_finetune_lr: float = 0.005          # pair labels (features/finetune.py); 0: off
    # augmentation
    max_shift: int = 50                       # random shift per window (bp, <= 10 % of it)
    rc_augment: bool = True                   # random strand flip (only matters for rc="none")
    mutation_rate: float = 0.2                # share of bases replaced at random per visit
    # loss weights
    w_main: float = 1.0
    w_teacher: float = 1.0
    w_distill: float = 0.5
    w_adversary: float = 0.1
    grl_scale: float = 1.0
    w_opportunist: float = 1.0
    # competition
    rho_momentum: float = 0.9
    w_pull: float = 1.0
    pull_max: float = 5.0
    w_push: float = 0.5
    push_margin: float = 0.2
    # validation
    val_episodes: int = 32
    val_support_pool: int = 1024
    val_max_pairs: int = 20000                # per cell query cap (random, fixed seed)
    log_every: int = 20
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        for key, (inert, why) in REMOVED.items():
            if key in d and d[key] != inert:
                raise ValueError(f"train config key {key!r} was removed: {why}")
        d = {k: v for k, v in d.items() if k not in REMOVED}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown train config keys: {sorted(unknown)}")
        return cls(**d)

    def discover_settings(self):
        from ..features.stage import DiscoverSettings

        return DiscoverSettings(self.discover_motifs, self.discover_steps,
                                self.discover_max_elements, self.motif_p_value, self.seed,
                                self.motif_softness, self.discover_repeat_mask,
                                self.discover_gapped_seeds)

    def finetune_settings(self):
        from ..features.finetune import FinetuneSettings

        return FinetuneSettings(steps=self.motif_finetune_steps, lr=self.motif_finetune_lr,
                                seed=self.seed)

    @property
    def support_sizes(self) -> tuple[int, int]:
        return (self.support_min, self.support_max)
