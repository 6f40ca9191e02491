"""`prism simulate`: a synthetic genome, cell lines and labelled pairs with known truth."""

from __future__ import annotations

import sys
import time

import click

from ..io.atomic import atomic_dir

_DEFAULTS = dict(seed=0, cells=6, chroms=4, genome_size=4_000_000, pairs=20_000,
                 max_distance=100_000)


@click.command(name="simulate")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=True),
              help="Output folder (refused if it exists, unless --force).")
@click.option("--seed", default=_DEFAULTS["seed"], show_default=True, type=int,
              help="Random seed; the same seed gives byte-identical files.")
@click.option("--cells", default=_DEFAULTS["cells"], show_default=True, type=int,
              help="Number of cell lines (CELL0, CELL1, ...), at least 2.")
@click.option("--chroms", default=_DEFAULTS["chroms"], show_default=True, type=int,
              help="Number of chromosomes (chr1, chr2, ...).")
@click.option("--genome-size", default=_DEFAULTS["genome_size"], show_default=True, type=int,
              help="Total genome length in bp, shared among the chromosomes.")
@click.option("--pairs", default=_DEFAULTS["pairs"], show_default=True, type=int,
              help="Labelled rows (pair x cell) to write to pairs.bedpe.")
@click.option("--max-distance", default=_DEFAULTS["max_distance"], show_default=True, type=int,
              help="Largest enhancer-promoter distance (bp between element centres).")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("-v", "--verbose", is_flag=True, help="Report progress on stderr.")
def command(out, seed, cells, chroms, genome_size, pairs, max_distance, force, verbose):
    """Write a synthetic world with known truth into OUT: genome.fa (+.fai),
    enhancers.bed, promoters.bed, pairs.bedpe (cell, label), truth.tsv (U, R, p per row),
    motif_sites.bed and params.json, then print per-cell reference scores (oracle p,
    U - mean R of the other cells, U alone).
    """
    from rich.console import Console

    from ..io.atomic import check_writable
    from ..simulate import SimConfig, reference_scores, simulate, write_world

    check_writable(out, force)  # fail before any work
    cfg = SimConfig(seed=seed, cells=cells, chroms=chroms, genome_size=genome_size,
                    pairs=pairs, max_distance=max_distance)
    cfg.validate()
    err = Console(stderr=True)
    log = (lambda msg: err.print(f"[dim]simulate:[/dim] {msg}")) if verbose else None
    t0 = time.perf_counter()
    world = simulate(cfg, log=log)
    if len(world.rows) < cfg.pairs:
        err.print(f"warning: only {len(world.rows)} labelled rows could be made "
                  f"(--pairs {cfg.pairs}); raise --genome-size or --max-distance for more")
    refs = reference_scores(world)
    with atomic_dir(out, force) as tmp:
        write_world(world, tmp, refs)
    if verbose:
        err.print(f"[dim]simulate:[/dim] done in {time.perf_counter() - t0:.1f} s")
    Console(file=sys.stdout).print(reference_table(refs, out))


def reference_table(refs: list[dict], out: str):
    """A rich table of the per-cell reference scores."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False,
                  title=f"prism simulate -> {out}",
                  caption="oracle = true p, mean-env = U - mean R(other cells), U = U alone")
    for head in ("cell", "pairs", "pos", "prev"):
        table.add_column(head, justify="left" if head == "cell" else "right")
    for ref in ("oracle", "mean-env", "U"):
        table.add_column(f"{ref}\nAUPR", justify="right", min_width=len(ref))
        table.add_column("\nAUROC", justify="right")
    for r in refs:
        if r["cell"] == "mean":
            table.add_section()
        table.add_row(r["cell"], str(r["pairs"]), str(r["positives"]), f"{r['prevalence']:.3f}",
                      *(f"{r[f'{ref}_{metric}']:.3f}" for ref in ("oracle", "mean_env", "U")
                        for metric in ("aupr", "auroc")))
    return table
