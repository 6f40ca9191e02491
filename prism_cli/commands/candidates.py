"""`prism candidates`: enhancer BED x promoter BED within a distance -> BEDPE."""

from __future__ import annotations

from .common import command
from .options import (enhancers_option, fasta_option, force_option, max_distance_option,
                      out_option, promoters_option, verbosity_options)


@command("candidates")
@enhancers_option(aliases=("-e",))
@promoters_option(aliases=("-p",))
@max_distance_option(aliases=("-d",))
@fasta_option(required=False,
              help="Genome FASTA; if given, chromosomes and ends are checked against it.")
@out_option("Output BEDPE. '-': standard output, written once the sorted result is "
            "complete.", stdout=True)
@force_option("Overwrite an existing output.")
@verbosity_options
def command(enhancers, promoters, max_distance, fasta, out, force, verbose, quiet):
    """All enhancer-promoter pairs on one chromosome whose centres are at most
    --max-distance bp apart, as sorted BEDPE with a `distance` column.

    \b
    Examples:
      prism candidates --enhancers enh.bed --promoters prom.bed --max-distance 1000000 \\
          -o cand.bedpe
      prism candidates --enhancers enh.bed --promoters prom.bed --max-distance 1000000 \\
          -o - | prism score -p - -m run/ -g genome.fa -c K562 -o scored.bedpe
    """
    from ..errors import require_files

    require_files((enhancers, "BED"), (promoters, "BED"), (fasta, "FASTA"))
    import time

    from ..candidates import write_candidates
    from ..io.atomic import atomic_file, check_writable
    from ..io.fasta import Genome
    from .common import consoles, spooled_stdin, stdout_target

    console, _ = consoles(quiet)
    if out != "-":
        check_writable(out, force, inputs=(enhancers, promoters, fasta))
    t0 = time.perf_counter()
    genome = Genome(fasta) if fasta else None
    with spooled_stdin(enhancers, "BED") as enh, spooled_stdin(promoters, "BED") as prom, \
            stdout_target(out, "candidates.bedpe") as target, \
            atomic_file(target, force=force) as fh:
        n = write_candidates(enh, prom, max_distance, fh, genome)
    console.print(f"[green]{n:,}[/] candidate pairs within {max_distance:,} bp -> "
                  f"{'standard output' if out == '-' else out}")
    if verbose:
        console.print(f"[dim]candidates:[/dim] {time.perf_counter() - t0:.1f} s")
