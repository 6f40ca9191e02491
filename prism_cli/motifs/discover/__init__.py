"""Label-free motif discovery: what tells real elements from their dinucleotide shuffles.

Rounds, each finding the motifs that the previous rounds left:

    real elements (N, L), optionally (``repeat_k``) their repeat copies masked
    (positions in 20-mers that recur in >= 3 elements, overwritten with shuffled
    sequence); dinucleotide shuffles of them in three pools (train/test/valid)
      seeds: the distinct k-mers, exact (or, ``gapped_seeds``, with one free interior
         position too) most over-represented in real over train shuffles
      -> conv1d(4, F, width) initialised at the seeds, each filter read on both strands,
         max over positions and strands (B, F) -> Linear(F, 1): a real-vs-shuffled
         classifier trained ``steps`` steps (Adam, binary cross-entropy) on random crops
      -> per filter, a PWM from its best window in the real elements where it fires most
         (strand-aligned)
      -> refined by re-scanning (hard EM): the score threshold that best separates real
         elements from test shuffles (one-sided binomial test on elements with a hit),
         then the PWM re-estimated from the real sites over it, widened by 2 on each
         side and its uninformative flanks trimmed
      -> kept when the elements with a hit are enriched over the validation shuffles
         (ratio >= min_ratio and binomial log10 p <= min_log10_p) and its sites are not
         mostly those of a motif kept earlier in the round
      -> its sites, in real and shuffled elements, overwritten with shuffled sequence,
         so that the next rounds find other motifs
    -> merge_redundant (TOMTOM) -> Motifs "D01".. (most significant first), source
       "discover"

Why rounds: real elements hold several motifs each, so one classifier with a global max
is satisfied by the few strongest and leaves the weaker motifs untrained; masking what
has been found is what reaches the weaker ones (as STREME does), and starting the
filters at over-represented k-mers is what makes a short training enough.

Why one may mask repeats first: every k-mer of a repeat family's copies is enriched, so
each family takes a round and crowds weak motifs out of the seeds; gapped seeds reach
motifs with a degenerate position, whose sites no single exact k-mer holds.  They are
the train settings `discover_repeat_mask` and `discover_gapped_seeds`, off by default:
the repeat mask, alone or with the gapped seeds, wins on the simulated world, and each
loses on the real data (docs/benchmarks.md, 2026-12-03).

A motif still informative past ``max_width`` positions is taken for copies of a longer
repeat: its sites are masked like any motif's but it is not reported.

Modules: ``pools`` (element pools on a device and their PWM scans), ``repeats`` (the
repeat mask), ``seeds`` (k-mer seeds), ``classifier`` (the real-vs-shuffled convolution
and its filters' PWMs), ``refine`` (thresholds, significance, hard-EM refinement) and
``rounds`` (the driver, acceptance and masking).
"""

from .rounds import discover_motifs

__all__ = ["discover_motifs"]
