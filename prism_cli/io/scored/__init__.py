"""Scored BEDPE: the output of `prism score`, read back by `prism evaluate`.

Layout (see docs/scored_bedpe.md): one ``#`` header line naming the columns, then one
tab-separated row per pair:

    chrom1 start1 end1 chrom2 start2 end2 name score strand1 strand2   (bedtools BEDPE)
    prob U_I R cell                                                    (PRISM)
    <passthrough columns, in their input order>                        (e.g. label)

``score = round(1000 * prob)`` (round half to even, an int in 0..1000); floats are written
with the shortest representation that reads back to the same float64; missing values are
``.``. Rows are sorted by (chrom1, start1, end1, chrom2, start2, end2) with chromosomes in
natural order (chr1, chr2, ..., chr10, ..., chr22, chrX, chrY, chrM, then other contigs
by name; the order of ``prism_cli.io.bed.chrom_sort_key``),
stably (tied rows keep their input order).

Large outputs: ``write_scored_bedpe`` takes either one DataFrame (sorted in memory with
integer keys and written in slices, so only one slice of text exists at a time; fine for
a few million rows) or an iterable of DataFrame chunks in any order (each chunk is
sorted and spilled to a temporary run file next to the output, :class:`ScoredParts`;
the runs are then written chromosome by chromosome: copied where a chromosome lies in one
run, merged by integer keys, stably, where it spans several), or the runs that the ranks
of a torchrun job spilled (``ScoredParts.combine``).

Modules: ``layout`` (columns, row order, text of values), ``text`` (that text built with
numpy, as byte planes), ``interact`` (UCSC interact records), ``parts`` (sorted run
files, merged), ``writer`` and ``reader``.
"""

from .interact import (INTERACT_COLOR, INTERACT_COLUMNS, interact_frame, interact_order,
                       interact_track_line)
from .layout import (BEDPE_COLUMNS, COORD_COLUMNS, FORMAT_NAME, FORMAT_VERSION, MISSING,
                     PRISM_COLUMNS, SCORED_COLUMNS, SLICE_ROWS, TEXT_COLUMNS, bedpe_order,
                     chrom_sort_key)
from .parts import ScoredParts
from .reader import read_header, read_scored_bedpe, read_sidecar
from .writer import write_scored_bedpe

__all__ = ["BEDPE_COLUMNS", "COORD_COLUMNS", "FORMAT_NAME", "FORMAT_VERSION",
           "INTERACT_COLOR", "INTERACT_COLUMNS", "MISSING", "PRISM_COLUMNS", "SCORED_COLUMNS",
           "SLICE_ROWS", "TEXT_COLUMNS", "ScoredParts", "bedpe_order", "chrom_sort_key",
           "interact_frame", "interact_order", "interact_track_line", "read_header",
           "read_scored_bedpe", "read_sidecar", "write_scored_bedpe"]
