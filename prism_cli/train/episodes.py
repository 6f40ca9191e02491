"""Per-cell episodes and the batches that carry them.

An episode is ONE cell line: a labelled support set S (size drawn log-uniformly from the
range users give ``adapt``, both classes present) and a disjoint query set Q.  A training
step holds several episodes; every loss is computed per episode, then averaged.

A batch gathers the unique elements of all its episodes once (augmented: random shift,
random strand when the towers are not strand-invariant); pairs point at them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..encode import reverse_complement
from ..features.inputs import ElementInputs
from ..predict.support import draw_support, pad_rows, sample_support_sizes


@dataclass
class Episode:
    """cell: index in the cell registry; support/query: rows of the pairs table;
    hidden: bool per support row, True = label withheld from the student."""

    cell: int
    support: np.ndarray
    query: np.ndarray
    hidden: np.ndarray


class EpisodeSampler:
    """Draws episodes from each cell's labelled training pairs.

    rows_by_cell : {cell index: np.ndarray of pair rows} (training split, labelled only)
    labels       : np.ndarray int, shape=(n_pairs,), labels of the whole pairs table
    """

    def __init__(self, rows_by_cell: dict[int, np.ndarray], labels: np.ndarray,
                 support_sizes=(8, 256), query_size: int = 128, weighting: str = "sqrt",
                 unlabelled_fraction: float = 0.0, seed: int = 0):
        self.rows_by_cell = {c: np.asarray(r, dtype=np.int64) for c, r in rows_by_cell.items()
                             if len(r)}
        if not self.rows_by_cell:
            raise ValueError("no cell has training pairs")
        self.labels = np.asarray(labels)
        self.support_sizes = support_sizes
        self.query_size = int(query_size)
        self.unlabelled_fraction = float(unlabelled_fraction)
        self.cells = np.array(sorted(self.rows_by_cell), dtype=np.int64)
        sizes = np.array([len(self.rows_by_cell[c]) for c in self.cells], dtype=np.float64)
        w = {"uniform": np.ones_like(sizes), "size": sizes, "sqrt": np.sqrt(sizes)}[weighting]
        self.cell_prob = w / w.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self, n_episodes: int) -> list[Episode]:
        out = []
        for c in self.rng.choice(self.cells, size=n_episodes, p=self.cell_prob):
            out.append(self.episode(int(c)))
        return out

    def episode(self, cell: int) -> Episode:
        rows = self.rows_by_cell[cell]
        n = len(rows)
        q_min = min(self.query_size, max(n // 2, 1))
        lo, hi = self.support_sizes
        size = int(sample_support_sizes(max(n - q_min, 2), (lo, hi), 1, self.rng)[0])
        y = self.labels[rows]
        pick = draw_support(y, size, self.rng)
        support = rows[pick]
        rest = np.delete(rows, pick)
        query = self.rng.choice(rest, size=min(self.query_size, len(rest)), replace=False)
        hidden = np.zeros(len(support), dtype=bool)
        if self.unlabelled_fraction > 0:
            hidden = self.rng.random(len(support)) < self.unlabelled_fraction
            both = [np.flatnonzero((self.labels[support] == k) & ~hidden) for k in (0, 1)]
            if not len(both[0]) or not len(both[1]):  # keep both classes labelled
                hidden[:] = False
        return Episode(cell, support, query, hidden)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def shift_codes(codes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each row right by ``shifts[i]`` bases (left when negative), N-filled.

    codes : uint8 (n, L); shifts : int (n,) -> uint8 (n, L).
    """
    n, length = codes.shape
    src = np.arange(length)[None, :] - shifts[:, None]
    valid = (src >= 0) & (src < length)
    out = np.take_along_axis(codes, np.clip(src, 0, length - 1), axis=1)
    out[~valid] = 4
    return out


def mutate_codes(codes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a ``rate`` share of the A/C/G/T bases by random bases (N stays N).

    Elements recur in many pairs, so towers can fit labels by recognising elements;
    random substitutions change every element's fingerprint at each visit while a motif
    instance mostly survives.  codes : uint8 (n, L) -> uint8 (n, L), a new array.
    """
    out = codes.copy()
    hit = (rng.random(codes.shape) < rate) & (codes < 4)
    out[hit] = rng.integers(0, 4, int(hit.sum()), dtype=np.uint8)
    return out


def augment_codes(codes: np.ndarray, max_shift: int, mutation_rate: float,
                  rng: np.random.Generator) -> np.ndarray:
    """The training augmentation: a random shift of each row (at most ``max_shift`` bp and
    10 % of the window), then random base substitution.  uint8 (n, L) -> uint8 (n, L)."""
    shift = min(max_shift, codes.shape[1] // 10)
    if shift > 0:
        codes = shift_codes(codes, rng.integers(-shift, shift + 1, size=len(codes)))
    if mutation_rate > 0:
        codes = mutate_codes(codes, mutation_rate, rng)
    return codes


def _locate(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in ``ids`` (unique, any order).  -> int64 (len(values),)."""
    order = np.argsort(ids, kind="stable")
    return order[np.searchsorted(ids, values, sorter=order)].astype(np.int64)


@dataclass
class Side:
    """One side (support or query) of a batch: each pair's row in the batch's unique
    enhancers ``enh`` (N,) and promoters ``prom`` (N,), log_distance (N,), y (N,) int64
    (-1 = hidden); index (E, M) long: pair positions of each episode; mask (E, M) bool."""

    enh: torch.Tensor
    prom: torch.Tensor
    log_distance: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> "Side":
        return Side(*(getattr(self, f).to(device, non_blocking=True)
                      for f in self.__dataclass_fields__))

    @property
    def n_pairs(self) -> int:
        return int(self.enh.shape[0])


@dataclass
class Batch:
    """cells (E,) long; the unique elements of all episodes, enh_codes (n_e, ...) and
    prom_codes (n_p, ...): their element inputs (codes uint8 and/or features, see
    features/inputs.py; each encoded once per step); query and support Sides
    (support None for arch crossattn).  The first ``n_enh_query`` enhancers (and
    ``n_prom_query`` promoters) are those of query pairs; the rest occur only in support
    pairs, whose backbone pass needs no gradient."""

    cells: torch.Tensor
    enh_codes: torch.Tensor
    prom_codes: torch.Tensor
    query: Side
    support: Side | None
    n_enh_query: int = -1
    n_prom_query: int = -1

    def to(self, device) -> "Batch":
        return Batch(self.cells.to(device), self.enh_codes.to(device, non_blocking=True),
                     self.prom_codes.to(device, non_blocking=True), self.query.to(device),
                     None if self.support is None else self.support.to(device),
                     self.n_enh_query, self.n_prom_query)

    @property
    def n_pairs(self) -> int:
        return self.query.n_pairs + (0 if self.support is None else self.support.n_pairs)


class BatchBuilder:
    """Turns episodes into tensors.  Arrays are the dataset's: enhancer/promoter element
    inputs (``ElementInputs``, or plain code memmaps), and per pair enh_idx, prom_idx,
    log_distance, label.  Augmentation (shift, substitution, strand flip) touches the
    codes only; precomputed features are strand-invariant already."""

    def __init__(self, enhancers, promoters, enh_idx, prom_idx, log_distance, labels,
                 max_shift: int = 0, rc_augment: bool = False, seed: int = 0,
                 mutation_rate: float = 0.0):
        self.enhancers, self.promoters = enhancers, promoters
        self.enh_idx = np.asarray(enh_idx, dtype=np.int64)
        self.prom_idx = np.asarray(prom_idx, dtype=np.int64)
        self.log_distance = np.asarray(log_distance, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.max_shift = int(max_shift)
        self.rc_augment = bool(rc_augment)
        self.mutation_rate = float(mutation_rate)
        self.rng = np.random.default_rng(seed)

    def _augment(self, codes: np.ndarray) -> np.ndarray:
        codes = augment_codes(codes, self.max_shift, self.mutation_rate, self.rng)
        if self.rc_augment:
            flip = self.rng.random(len(codes)) < 0.5
            if flip.any():
                codes[flip] = reverse_complement(codes[flip])
        return codes

    def _codes(self, store, idx: np.ndarray) -> torch.Tensor:
        if not isinstance(store, ElementInputs):
            store = ElementInputs(store, None)
        return torch.from_numpy(store.take(idx, transform_codes=self._augment))

    def _side(self, rows_per_episode: list[np.ndarray], e_uniq: np.ndarray,
              p_uniq: np.ndarray, hidden_per_episode: list[np.ndarray] | None = None) -> Side:
        rows = np.concatenate(rows_per_episode)
        y = self.labels[rows].copy()
        if hidden_per_episode is not None:
            y[np.concatenate(hidden_per_episode)] = -1
        ends = np.cumsum([len(r) for r in rows_per_episode])
        index, mask = pad_rows([np.arange(e - len(r), e)
                                for e, r in zip(ends, rows_per_episode)])
        return Side(torch.from_numpy(_locate(e_uniq, self.enh_idx[rows])),
                    torch.from_numpy(_locate(p_uniq, self.prom_idx[rows])),
                    torch.from_numpy(self.log_distance[rows]), torch.from_numpy(y),
                    torch.from_numpy(index), torch.from_numpy(mask))

    def build(self, episodes: list[Episode], with_support: bool = True) -> Batch:
        cells = torch.tensor([ep.cell for ep in episodes], dtype=torch.long)
        q_rows = np.concatenate([ep.query for ep in episodes])
        e_uniq, p_uniq = np.unique(self.enh_idx[q_rows]), np.unique(self.prom_idx[q_rows])
        n_e, n_p = len(e_uniq), len(p_uniq)
        if with_support:  # support-only elements after the query ones
            s_rows = np.concatenate([ep.support for ep in episodes])
            e_uniq = np.concatenate([e_uniq, np.setdiff1d(self.enh_idx[s_rows], e_uniq)])
            p_uniq = np.concatenate([p_uniq, np.setdiff1d(self.prom_idx[s_rows], p_uniq)])
        query = self._side([ep.query for ep in episodes], e_uniq, p_uniq)
        support = None
        if with_support:
            support = self._side([ep.support for ep in episodes], e_uniq, p_uniq,
                                 [ep.hidden for ep in episodes])
        return Batch(cells, self._codes(self.enhancers, e_uniq),
                     self._codes(self.promoters, p_uniq), query, support, n_e, n_p)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
