"""`prism extract`: FASTA + BEDPE (or BED + BED) -> on-disk dataset."""

from __future__ import annotations

import time

import click

from .common import command, csv_names
from .options import (cell_col_option, cell_option, cells_option, enhancers_option,
                      fasta_option, force_option, label_col_option, max_distance_option,
                      out_option, pairs_option, promoters_option, verbosity_options)

ANCHOR = click.Choice(["center", "start", "end", "five_prime"])


@command("extract", conflicts=[("pairs", "enhancers"), ("pairs", "promoters"),
                               ("pairs", "max_distance")],
         requires=[("enhancers", "promoters"), ("promoters", "enhancers"),
                   ("enhancers", "max_distance"), ("max_distance", "enhancers")])
@fasta_option(help="Genome FASTA (plain or bgzip; .fai/.gzi built when missing).")
@pairs_option("Pairs BEDPE (side 1 enhancer, side 2 promoter; optional cell/label "
              "columns; '-' = standard input).", required=False)
@enhancers_option("Enhancer BED (instead of --pairs; with --promoters and --max-distance; "
                  "'-' = standard input).", required=False)
@promoters_option("Promoter BED (instead of --pairs).", required=False)
@max_distance_option("With --enhancers/--promoters: largest centre distance in bp.",
                     required=False)
@cells_option("Comma-separated cells to keep (needs a cell column).")
@cell_option("Cell name for every pair when the input has no cell column.", default=".",
             show_default=True)
@cell_col_option()
@label_col_option()
@click.option("--enhancer-length", default=3000, show_default=True, type=click.IntRange(min=1),
              help="Enhancer window length in bp.")
@click.option("--promoter-length", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Promoter window length in bp.")
@click.option("--enhancer-anchor", default="center", show_default=True, type=ANCHOR,
              help="Where the enhancer window sits on the element.")
@click.option("--promoter-anchor", default="center", show_default=True, type=ANCHOR,
              help="Where the promoter window sits (five_prime follows the strand).")
@out_option("Output dataset folder.", folder=True)
@force_option("Replace an existing output folder (one PRISM wrote).")
@verbosity_options
def command(fasta, pairs, enhancers, promoters, max_distance, cells, cell, cell_col,
            label_col, enhancer_length, promoter_length, enhancer_anchor, promoter_anchor, out,
            force, verbose, quiet):
    """Extract fixed-length windows around each unique enhancer and promoter as uint8 base
    codes (memory-mapped), plus a pair table and a manifest. Bases beyond a chromosome's
    ends are N and counted."""
    if not (pairs or enhancers):
        raise click.UsageError("give either --pairs, or --enhancers with --promoters and "
                               "--max-distance")
    cell_list = csv_names(cells, "--cells")
    from ..errors import require_files

    require_files((fasta, "FASTA"), (pairs, "BEDPE"), (enhancers, "BED"), (promoters, "BED"))
    import tempfile
    from pathlib import Path

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

    from ..errors import PrismInputError
    from ..extract import WindowSpec, extract
    from ..io.atomic import atomic_dir, check_writable
    from ..io.fasta import Genome
    from .common import consoles, display_name, spooled_stdin

    inputs = (fasta, pairs, enhancers, promoters)
    check_writable(out, force, directory=True, inputs=inputs)
    console, _ = consoles(quiet)
    genome = Genome(fasta)
    espec = WindowSpec(enhancer_length, enhancer_anchor)
    pspec = WindowSpec(promoter_length, promoter_anchor)
    t0 = time.perf_counter()
    with spooled_stdin(pairs) as pairs_file, spooled_stdin(enhancers, "BED") as enh, \
            spooled_stdin(promoters, "BED") as prom, \
            tempfile.TemporaryDirectory(prefix="prism-extract-") as tmp, \
            atomic_dir(out, force=force, inputs=inputs) as root:
        source = {"pairs": display_name(pairs)} if pairs else None
        if not pairs:
            from ..candidates import write_candidates

            pairs_file = str(Path(tmp) / "candidates.bedpe")
            with open(pairs_file, "w") as fh:
                n = write_candidates(enh, prom, max_distance, fh, genome)
            if n == 0:
                raise PrismInputError(f"no enhancer-promoter pairs within {max_distance} bp",
                                      enh)
            source = {"enhancers": display_name(enhancers),
                      "promoters": display_name(promoters), "max_distance": max_distance}
            if verbose:
                console.print(f"[dim]extract:[/dim] {n:,} candidate pairs within "
                              f"{max_distance:,} bp")
        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TimeElapsedColumn(), console=console,
                      transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("extracting", total=None)
            manifest = extract(genome, pairs_file, root, espec, pspec, cells=cell_list,
                               cell_col=cell_col, label_col=label_col,
                               default_cell=cell, source=source,
                               progress=lambda done, total: bar.update(task, completed=done,
                                                                       total=total))
    _summary(console, manifest, out, time.perf_counter() - t0)


def _summary(console, manifest: dict, out: str, seconds: float) -> None:
    from rich.table import Table

    table = Table(title=f"prism extract -> {out}")
    for col in ("cell", "pairs", "labelled", "pos", "prev", "enh", "prom", "N frac"):
        table.add_column(col, justify="left" if col == "cell" else "right")
    for cell, c in manifest["cells"].items():
        prev = f"{c['positives'] / c['labelled']:.3f}" if c["labelled"] else "."
        table.add_row(cell, f"{c['pairs']:,}", f"{c['labelled']:,}", f"{c['positives']:,}",
                      prev, f"{c['enhancers']:,}", f"{c['promoters']:,}",
                      f"{c['n_fraction']:.4f}")
    table.add_row("[b]all[/]", f"{manifest['n_pairs']:,}", "", "", "",
                  f"{manifest['n_enhancers']:,}", f"{manifest['n_promoters']:,}",
                  f"{manifest['n_fraction']:.4f}")
    console.print(table)
    console.print(f"windows {manifest['enhancer_length']} / {manifest['promoter_length']} bp; "
                  f"{manifest['n_outside']:,} bases beyond chromosome ends set to N; "
                  f"{manifest['n_pairs'] / max(seconds, 1e-9):,.0f} pairs/s")
