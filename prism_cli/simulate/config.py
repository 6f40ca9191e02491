"""The knobs of a simulated world (SimConfig) and their checks."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PrismInputError


@dataclass(frozen=True)
class SimConfig:
    """Every knob of the world. The command exposes the first six; the rest are fixed
    defaults recorded in params.json."""

    seed: int = 0
    cells: int = 6
    chroms: int = 4
    genome_size: int = 4_000_000
    pairs: int = 20_000          # labelled rows (pair x cell) wanted in pairs.bedpe
    max_distance: int = 100_000  # bp between element centres
    # motifs
    n_compat_motifs: int = 12
    n_env_motifs: int = 8
    motif_length: tuple[int, int] = (8, 12)
    motif_sharp_fraction: float = 0.7  # positions with one dominant base (others: two)
    core_length: int = 400
    window_length: int = 500
    # elements
    enhancer_length: tuple[int, int] = (200, 1000)
    promoter_length: tuple[int, int] = (300, 1000)
    enhancers_per_promoter: float = 3.0
    min_gap: int = 300            # bp between elements, and between elements and N runs
    min_distance: int = 1_000     # shortest centre-to-centre distance of a pair
    compat_motifs_mean: float = 4.0
    env_motifs_mean: float = 2.5
    cpg_island_fraction: float = 0.7  # promoters whose background is a CpG island
    # genome
    gc: float = 0.43              # before CpG depletion (~0.41 after)
    gc_sd: float = 0.03           # between isochores
    cpg_depletion: float = 0.75   # fraction of CpG turned into TpG/CpA
    repeat_fraction: float = 0.25  # soft-masked (lowercase) share of the genome
    # cells and energies
    n_programs: int = 3
    enhancer_active: tuple[float, float] = (0.4, 0.6)  # per-cell share of active enhancers
    promoter_active: float = 0.8
    temperature: float = 1.0
    compat_sd: float = 2.2        # sd of m_e^T W m_p over candidate pairs
    compat_density: float = 0.5   # non-zero share of W
    distance_slope: float = 1.5   # alpha, per decade of distance
    env_shared_sd: float = 2.8    # sd of the shared part of a_c . f_env
    env_program_sd: float = 2.6   # sd of the program part of a_c . f_env
    env_centre: float = 3.0       # mean pre-activation b_c + a_c . f_env over candidates
    env_bias_sd: float = 0.4      # sd of that mean between cells
    target_prevalence: float = 0.25

    def validate(self) -> None:
        """Raise PrismInputError for a world that cannot be built."""
        if self.cells < 2:
            raise PrismInputError(f"--cells must be >= 2 (got {self.cells}): the reference "
                                  "score averages the other cells")
        if self.chroms < 1:
            raise PrismInputError(f"--chroms must be >= 1 (got {self.chroms})")
        if self.genome_size < 50_000 * self.chroms:
            raise PrismInputError(f"--genome-size must be >= 50000 per chromosome "
                                  f"(got {self.genome_size} for {self.chroms} chromosomes)")
        if self.pairs < 10:
            raise PrismInputError(f"--pairs must be >= 10 (got {self.pairs})")
        if self.max_distance < 2 * self.min_distance:
            raise PrismInputError(f"--max-distance must be >= {2 * self.min_distance} "
                                  f"(got {self.max_distance})")
        if self.seed < 0:
            raise PrismInputError(f"--seed must be >= 0 (got {self.seed})")
