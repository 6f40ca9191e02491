"""`prism adapt`: register an unseen cell line from a small labelled support BEDPE."""

from __future__ import annotations

import click

from .common import (device_option, fasta_option, model_option, registry_option,
                     threads_option)


@click.command(name="adapt")
@model_option
@click.option("-s", "--support", required=True, type=click.Path(dir_okay=False),
              help="Labelled pairs of the new cell (BEDPE with a label column; '.' labels "
                   "are used transductively).")
@fasta_option
@click.option("-c", "--cell", required=True, help="Name to register the new cell under.")
@registry_option
@click.option("--episodes", type=click.IntRange(min=1), default=64, show_default=True,
              help="Random support episodes the student is run over.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-fitting folds for the threshold.")
@click.option("--label-col", default="label", show_default=True)
@click.option("--cell-col", default="cell", show_default=True,
              help="If the support has this column, only rows of --cell are used.")
@click.option("--seed", type=int, default=0, show_default=True)
@device_option
@threads_option
@click.option("--force", is_flag=True, help="Replace an adapted cell of the same name.")
def command(model_path, support, fasta, cell, registry, episodes, folds, label_col, cell_col,
            seed, device, threads, force):
    """Estimate the environment of a new cell line from SUPPORT and register it as CELL,
    so that `prism score --cell CELL` uses it."""
    import tempfile
    from pathlib import Path

    from rich.console import Console

    from ..adapt import adapt_cell
    from ..errors import InputError
    from ..io.fasta import Genome
    from ..prepare import pairs_dataset
    from ..registry import (adapted_path, check_cell_name, load_adapted, registry_dir,
                            save_adapted, training_cells)
    from .common import load_model, model_checksum, training_support_sizes

    console = Console(stderr=True)
    check_cell_name(cell)
    model, meta = load_model(model_path, device, threads)
    cells = training_cells(meta)
    reg = registry_dir(model_path, registry)
    if cell in cells:
        raise InputError(f"'{cell}' is a training cell of this model (it has a teacher "
                         "environment); register the new cell under another name")
    if load_adapted(reg, cell) is not None and not force:
        raise InputError(f"cell '{cell}' is already registered ({adapted_path(reg, cell)}); "
                         "use --force to replace it")
    genome = Genome(fasta)
    with tempfile.TemporaryDirectory(prefix="prism-adapt-") as tmp:
        ds = pairs_dataset(genome, support, meta, Path(tmp) / "support", cell_col=cell_col,
                           label_col=label_col, default_cell=cell)
        if (ds.pairs["cell"] == cell).any():
            ds.pairs = ds.pairs[ds.pairs["cell"] == cell].reset_index(drop=True)
        elif ds.pairs["cell"].nunique() > 1:
            raise InputError(f"the support has a '{cell_col}' column with several cells but "
                             f"none named '{cell}'", support)
        sizes = training_support_sizes(meta)
        record = adapt_cell(model, ds, sizes, episodes, seed, folds, cells, path=support)
    record.update(cell=cell, support_file=str(Path(support).resolve()),
                  model=str(Path(model_path).resolve()),
                  model_checksum=model_checksum(model_path))
    path = save_adapted(reg, cell, record, force=force)
    _summary(console, record, path)


def _summary(console, r: dict, path) -> None:
    from rich.table import Table

    s = r["support"]
    t = Table(title=f"prism adapt: {r['cell']}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("support", f"{s['pairs']} pairs: {s['positives']} positive, {s['negatives']} "
              f"negative" + (f", {s['unlabelled_transductive']} unlabelled (used "
                             "transductively)" if s["unlabelled_transductive"] else ""))
    mix = sorted(enumerate(r["pi"]), key=lambda kv: -kv[1])[:4]
    t.add_row("environment", ", ".join(f"P{k} {w:.2f}±{r['pi_sd'][k]:.2f}" for k, w in mix))
    if r.get("nearest_cells"):
        t.add_row("nearest known cells", ", ".join(
            f"{n['cell']} (JS {n['distance']:.3f})" for n in r["nearest_cells"]))
    cf = r["cross_fit"]
    t.add_row("threshold", f"{r['threshold']:.3f} (F1-best on {cf['folds']}-fold cross-fit "
              f"predictions: F1 {cf['oof_f1']:.2f}, AUPR {cf['oof_aupr']:.2f} vs prevalence "
              f"{r['in_sample']['prevalence']:.2f})")
    sp = r["spread"]
    t.add_row("spread", f"p moves by ±{sp['p_sd_mean']:.3f} across {sp['episodes']} support "
              f"episodes (pi sd {sp['pi_sd_mean']:.3f}); large = collect more support pairs")
    t.add_row("registered", str(path))
    console.print(t)
