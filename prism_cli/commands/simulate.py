"""`prism simulate`: a synthetic genome, cell lines and labelled pairs with known truth."""

from __future__ import annotations

import sys
import time

import click

from ..io.atomic import atomic_dir
from .common import command, option
from .options import (force_option, max_distance_option, out_option, seed_option,
                      verbosity_options)

_DEFAULTS = dict(seed=0, cells=6, chroms=4, genome_size=4_000_000, pairs=20_000,
                 max_distance=100_000)


@command("simulate")
@out_option("Output folder (refused if it exists, unless --force).", folder=True)
@seed_option(_DEFAULTS["seed"], "Random seed; the same seed gives byte-identical files.")
@option("--n-cells", "n_cells", default=_DEFAULTS["cells"], show_default=True, type=int,
        aliases=("--cells",), help="Number of cell lines (CELL0, CELL1, ...), at least 2.")
@option("--n-chroms", "n_chroms", default=_DEFAULTS["chroms"], show_default=True, type=int,
        aliases=("--chroms",), help="Number of chromosomes (chr1, chr2, ...).")
@click.option("--genome-size", default=_DEFAULTS["genome_size"], show_default=True, type=int,
              help="Total genome length in bp, shared among the chromosomes.")
@option("--n-pairs", "n_pairs", default=_DEFAULTS["pairs"], show_default=True, type=int,
        aliases=("--pairs",), help="Labelled rows (pair x cell) to write to pairs.bedpe.")
@max_distance_option("Largest enhancer-promoter distance (bp between element centres).",
                     required=False, default=_DEFAULTS["max_distance"])
@force_option("Replace an existing output folder (one PRISM wrote).")
@verbosity_options
def command(out, seed, n_cells, n_chroms, genome_size, n_pairs, max_distance, force, verbose,
            quiet):
    """Write a synthetic world with known truth into OUT: genome.fa (+.fai),
    enhancers.bed, promoters.bed, pairs.bedpe (cell, label), truth.tsv (U, R, p per row),
    motif_sites.bed, element_features.tsv (true motif counts per element) and params.json,
    then print per-cell reference scores (oracle p, U - mean R of the other cells, U
    alone) and, on the last chromosome, the cross-cell references (logistic regression on
    true motif counts and on true-PWM scans, fitted on the other cells and chromosomes).
    """
    from rich.console import Console

    from ..errors import PrismInputError
    from ..io.atomic import check_writable
    from ..simulate import SimConfig, cross_cell_note, reference_scores, simulate, write_world

    check_writable(out, force, directory=True)  # fail before any work
    cfg = SimConfig(seed=seed, cells=n_cells, chroms=n_chroms, genome_size=genome_size,
                    pairs=n_pairs, max_distance=max_distance)
    try:
        cfg.validate()
    except PrismInputError as err:  # the library names the options' old spellings
        for old, new in (("--cells ", "--n-cells "), ("--chroms ", "--n-chroms "),
                         ("--pairs ", "--n-pairs ")):
            err.message = err.message.replace(old, new)
        raise
    err = Console(stderr=True)
    log = (lambda msg: err.print(f"[dim]simulate:[/dim] {msg}")) if verbose else None
    t0 = time.perf_counter()
    world = simulate(cfg, log=log)
    if len(world.rows) < cfg.pairs:
        err.print(f"warning: only {len(world.rows)} labelled rows could be made "
                  f"(--n-pairs {cfg.pairs}); raise --genome-size or --max-distance for more")
    if log:
        log("reference scores (count_lr, pwm_lr: scan and 2 x 6 logistic regressions)")
    refs = reference_scores(world)
    with atomic_dir(out, force) as tmp:
        write_world(world, tmp, refs)
    if verbose:
        err.print(f"[dim]simulate:[/dim] done in {time.perf_counter() - t0:.1f} s")
    if quiet:  # the reference scores are also in the world's params.json
        return
    console = Console(file=sys.stdout)
    console.print(reference_table(refs, out))
    note = cross_cell_note(world)
    if note:
        console.print(f"note: {note}")
    else:
        console.print(cross_cell_table(refs))


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


def cross_cell_table(refs: list[dict]):
    """A rich table of the cross-cell references on the held-out (last) chromosome."""
    from rich import box
    from rich.table import Table

    chrom = refs[0]["test_chrom"]
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False,
                  title=f"held-out {chrom}, fitted on the other cells off {chrom}",
                  caption="count / pwm = logistic regression on true motif counts / "
                          "true-PWM hits")
    for head in ("cell", "pairs", "prev"):
        table.add_column(head, justify="left" if head == "cell" else "right")
    names = (("oracle_test", "oracle"), ("count_lr", "count"), ("pwm_lr", "pwm"),
             ("distance_test", "dist"))
    for _, head in names:
        table.add_column(f"{head}\nAUPR", justify="right", min_width=len(head))
        table.add_column("\nAUROC", justify="right")
    for r in refs:
        if r["cell"] == "mean":
            table.add_section()
        table.add_row(r["cell"], str(r["test_pairs"]), f"{r['test_prevalence']:.3f}",
                      *(f"{r[f'{key}_{metric}']:.3f}" for key, _ in names
                        for metric in ("aupr", "auroc")))
    return table
