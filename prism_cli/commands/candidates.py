"""`prism candidates`: enhancer BED x promoter BED within a distance -> BEDPE."""

from __future__ import annotations

import click


@click.command(name="candidates")
@click.option("-e", "--enhancers", required=True, type=click.Path(dir_okay=False),
              help="Enhancer BED (>= 3 columns; name and strand used when present).")
@click.option("-p", "--promoters", required=True, type=click.Path(dir_okay=False),
              help="Promoter BED.")
@click.option("-d", "--max-distance", required=True, type=click.IntRange(min=1),
              help="Largest enhancer-promoter centre distance in bp.")
@click.option("-g", "--fasta", type=click.Path(dir_okay=False), default=None,
              help="Genome FASTA; if given, chromosomes and ends are checked against it.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="Output BEDPE.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def command(enhancers, promoters, max_distance, fasta, out, force):
    """All enhancer-promoter pairs on one chromosome whose centres are at most
    --max-distance bp apart, as sorted BEDPE with a `distance` column."""
    from rich.console import Console

    from ..candidates import write_candidates
    from ..io.atomic import atomic_file, check_writable
    from ..io.fasta import Genome

    check_writable(out, force)
    genome = Genome(fasta) if fasta else None
    with atomic_file(out, force=force) as fh:
        n = write_candidates(enhancers, promoters, max_distance, fh, genome)
    Console(stderr=True).print(f"[green]{n:,}[/] candidate pairs within {max_distance:,} bp "
                               f"-> {out}")
