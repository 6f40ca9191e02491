"""A synthetic genome, cell lines and labelled enhancer-promoter pairs with known truth.

The world follows the energy model of docs/model.md:

    P(y = 1 | x, c) = sigmoid((U(x) - R(x, c)) / T)

* motifs: a vocabulary of PWMs (8-12 bp, partly degenerate). "Compatibility" motifs drive
  U; a separate set of "environment" motifs drives R. Instances are implanted, in both
  orientations, only in the central ``core_length`` bp of each element, so any window of
  ``window_length`` bp centred on the element (centre = (start + end) // 2) holds them all.
* U(x) = bias + m_e^T W m_p - alpha * log10(distance): cell-invariant, from the compatibility
  motif content (log(1 + count)) of the enhancer (m_e) and the promoter (m_p) and the
  distance between the element centres. W is sparse.
* R(x, c) = softplus(b_c + a_c . f_env(x)) >= 0 with f_env(x) = [environment motif content
  of the enhancer, of the promoter]; a_c = a shared vector + a cell deviation drawn from a
  mixture of a few programs, so R re-ranks pairs within a cell and differs between cells.
* Pairs are all enhancer-promoter combinations within ``max_distance`` on one chromosome;
  cell c labels those whose enhancer and promoter are both active in c (random subsets),
  so an element recurs in many pairs and a pair in several cells. Chromosomes hold
  disjoint elements, so memorising elements cannot transfer to a held-out chromosome.

``simulate(config)`` builds the world in memory (``world``), ``write_world(world, folder)``
writes it (``writers``), ``reference_scores(world)`` scores the oracle and the references
per cell (``references``). One module per part of the world: ``config``, ``motifs``,
``genome``, ``elements`` (placement, implanting, candidate pairs) and ``truth`` (U, R,
p). No click here; the command lives in ``prism_cli/commands/simulate.py``.
"""

from .config import SimConfig
from .motifs import Motif
from .references import cross_cell_note, reference_scores
from .truth import motif_content, row_scores, sigmoid
from .world import World, simulate
from .writers import element_feature_table, write_world

__all__ = ["Motif", "SimConfig", "World", "cross_cell_note", "element_feature_table",
           "motif_content", "reference_scores", "row_scores", "sigmoid", "simulate",
           "write_world"]
