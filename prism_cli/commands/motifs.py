"""`prism motifs`: the motifs a model reads (or motifs discovered on a dataset)."""

from __future__ import annotations

import click

from .common import command, csv_names, option
from .options import (ModelPath, data_option, device_option, force_option, out_option,
                      seed_option, threads_option, verbosity_options)


@command("motifs", conflicts=[("model_path", "chroms"), ("model_path", "n_motifs"),
                              ("model_path", "steps")],
         requires=[("n_pairs", "model_path")])
@option("-m", "--model", "model_path", type=ModelPath(), default=None,
        help="Trained model (run folder, checkpoint or shipped model's name): list the "
             "motifs it reads.")
@data_option("Dataset from `prism extract`.  Without --model: discover motifs on its "
             "elements (label-free).  With --model: the pairs used to measure each "
             "motif's effect on U_I and R (default: the model's training dataset).",
             required=False)
@click.option("--chroms", default=None,
              help="Without --model: only elements on these comma-separated chromosomes "
                   "(e.g. the training chromosomes).  [default: all]")
@click.option("--n-motifs", type=click.IntRange(min=1), default=32, show_default=True,
              help="Without --model: motifs to discover at most.")
@click.option("--steps", type=click.IntRange(min=1), default=100, show_default=True,
              help="Without --model: classifier steps per discovery round.")
@option("--n-pairs", "n_pairs", type=click.IntRange(min=1), default=2000, show_default=True,
        aliases=("--pairs",), help="With --model: pairs sampled to measure motif effects.")
@click.option("--no-jaspar", is_flag=True, help="Skip matching against JASPAR (TOMTOM).")
@seed_option(0, "Random seed (pair sample, discovery).")
@device_option
@threads_option
@out_option("Output folder: motifs.meme, motifs.tsv, logos.png.", folder=True)
@force_option("Replace an output folder written by prism motifs.")
@verbosity_options
def command(model_path, data, chroms, n_motifs, steps, n_pairs, no_jaspar, seed, device,
            threads, out, force, verbose, quiet):
    """Write the motifs as MEME (DIR/motifs.meme, readable by the MEME suite and memelite),
    a table (DIR/motifs.tsv) with each motif's best JASPAR match (TOMTOM q-value) and, for a
    model, its contribution to U_I and to R (mean change when the motif's occupancy is set
    to 0 in both elements of a pair), and logos (DIR/logos.png).

    \b
    Examples:
      prism motifs -m run/ -o run_motifs/
      prism motifs -d data/ --chroms chr1,chr2 -o data_motifs/
    """
    from ..errors import PrismInputError
    from ..motif_report import dataset_motifs, model_motifs, write_report

    if model_path is None and data is None:
        raise click.UsageError("give --model (a trained model) or --data (a dataset)")
    chrom_list = csv_names(chroms, "--chroms")
    from ..io.atomic import check_writable

    check_writable(out, force, directory=True, inputs=(model_path, data))  # before any work
    if threads:
        import torch
        torch.set_num_threads(threads)
    if model_path is not None:
        table, motifs = model_motifs(model_path, data, n_pairs, seed, device)
    else:
        table, motifs = dataset_motifs(data, chrom_list, n_motifs, steps, seed, device)
    if not motifs and model_path is not None:
        raise PrismInputError("the model reads no motifs (its features are a table or conv "
                              "towers only)", model_path)
    if not motifs:
        raise PrismInputError("no motif enriched over dinucleotide-shuffled sequence was found "
                              "in the dataset's elements (try more --steps or more elements)",
                              data)
    if quiet:  # the table printed at the end is also motifs.tsv
        import contextlib
        import io

        with contextlib.redirect_stderr(io.StringIO()):
            write_report(out, table, motifs, jaspar=not no_jaspar, force=force)
    else:
        write_report(out, table, motifs, jaspar=not no_jaspar, force=force)
