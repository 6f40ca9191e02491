"""`prism adapt`: register an unseen cell line from a small labelled support BEDPE."""

from __future__ import annotations

import click

from .common import OutputPath, command
from .options import (cell_col_option, cell_option, device_option, fasta_option,
                      feature_table_option, force_option, label_col_option, model_option,
                      registry_option, seed_option, support_option, threads_option,
                      verbosity_options)


@command("adapt")
@model_option
@support_option("Labelled pairs of the new cell (BEDPE with a label column; '.' labels "
                "are used transductively; '-' = standard input).")
@fasta_option()
@cell_option("Name to register the new cell under.", required=True)
@registry_option
@click.option("--episodes", type=click.IntRange(min=1), default=64, show_default=True,
              help="Random support episodes the student is run over.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-fitting folds for the threshold.")
@label_col_option()
@cell_col_option("Name of the cell column; if the support has it, only rows of --cell are "
                 "used.")
@seed_option(0, "Random seed of the support episodes and folds.")
@click.option("--support-curve", is_flag=True,
              help="Also measure AUPR on held-out support pairs for support sizes 0, 8, 16, "
                   "32, 64, 128, 256 (cross-fitted): are more labels worth collecting?")
@click.option("--curve-tsv", type=OutputPath(), default=None,
              help="With --support-curve: write the curve as TSV here.")
@feature_table_option
@device_option
@threads_option
@force_option("Replace an adapted cell of the same name.")
@verbosity_options
def command(model_path, support, fasta, cell, registry, episodes, folds, label_col, cell_col,
            seed, support_curve, curve_tsv, feature_table, device, threads, force, verbose,
            quiet):
    """Estimate the environment of a new cell line from SUPPORT and register it as CELL,
    so that `prism score --cell CELL` uses it."""
    from ..errors import require_files

    require_files((support, "BEDPE"), (fasta, "FASTA"))
    from pathlib import Path

    from ..registry import check_cell_name, registry_dir, save_adapted
    from ..checkpoint import weights_checksum
    from .common import consoles, display_name, spooled_stdin

    console, _ = consoles(quiet)
    check_cell_name(cell)
    if curve_tsv:
        from ..io.atomic import check_writable
        check_writable(curve_tsv, force, inputs=(support, fasta))
    with spooled_stdin(support) as support_file:
        record = _adapt(model_path, support_file, fasta, cell, registry, episodes, folds,
                        label_col, cell_col, seed, support_curve or bool(curve_tsv),
                        feature_table, device, threads, force, verbose, console)
        record.update(cell=cell, support_file=display_name(support),
                      model=str(Path(model_path).resolve()),
                      model_checksum=weights_checksum(model_path))
        path = save_adapted(registry_dir(model_path, registry), cell, record, force=force)
    _summary(console, record, path)
    if record.get("support_curve"):
        _curve(console, record["support_curve"], curve_tsv, force)


def _adapt(model_path, support, fasta, cell, registry, episodes, folds, label_col, cell_col,
           seed, curve, feature_table, device, threads, force, verbose, console) -> dict:
    """Load the model, extract the support and run the student: the adapt record."""
    import tempfile
    from pathlib import Path

    from ..errors import PrismInputError
    from ..io.fasta import Genome
    from ..prepare import support_dataset
    from ..registry import adapted_path, load_adapted, registry_dir
    from .common import load_model

    ck = load_model(model_path, device, threads)
    reg = registry_dir(model_path, registry)
    if cell in ck.cells:
        raise PrismInputError(f"'{cell}' is a training cell of this model (it has a teacher "
                              "environment); register the new cell under another name")
    if load_adapted(reg, cell) is not None and not force:
        raise PrismInputError(f"cell '{cell}' is already registered ({adapted_path(reg, cell)}); "
                              "use --force to replace it")
    genome = Genome(fasta)
    with tempfile.TemporaryDirectory(prefix="prism-adapt-") as tmp:
        ds = support_dataset(genome, support, ck.windows, Path(tmp) / "support", cell,
                             cell_col, label_col, support)
        sizes = ck.support_sizes
        if verbose:
            console.print(f"[dim]adapt:[/dim] {len(ds.pairs)} support pairs of {cell}; "
                          f"episodes of {sizes[0]}-{sizes[1]} pairs")
        return ck.adapt(ds, sizes, episodes, seed, folds, feature_table=feature_table,
                        path=support, curve=curve)


def _curve(console, rows: list[dict], tsv, force: bool) -> None:
    from rich.table import Table

    t = Table(title="support-size curve (AUPR on held-out support pairs, cross-fitted; "
                    "size 0 = prior mean environment)")
    for col in ("support", "AUPR", "± sd", "AUROC", "prevalence", "draws"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(str(r["size"]), f"{r['aupr']:.3f}", f"{r['aupr_sd']:.3f}",
                  f"{r['auroc']:.3f}", f"{r['prevalence']:.3f}", str(r["draws"]))
    console.print(t)
    if tsv:
        import pandas as pd

        from ..io.atomic import atomic_file

        with atomic_file(tsv, force=force) as fh:
            pd.DataFrame(rows).to_csv(fh, sep="\t", index=False, float_format="%.5g")


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
