"""`prism evaluate`: metrics and PR/ROC curves of a scored BEDPE with labels."""

from __future__ import annotations

import math
from pathlib import Path

import click


@click.command(name="evaluate")
@click.argument("scored", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--label-col", default="label", show_default=True,
              help="Column with the true labels: 1, 0, or '.'/-1 for unknown (excluded).")
@click.option("--score-col", default="prob", show_default=True,
              help="Column ranked by the metrics (e.g. U_I to rank by intrinsic potential). "
                   "Brier score needs probabilities in [0, 1].")
@click.option("--by", "by", default=None, metavar="COLUMN|none",
              help="Group rows by this column (one metrics row per value); 'none' pools all "
                   "rows.  [default: cell when the file has it, else none]")
@click.option("--threshold", type=float, default=None,
              help="Call pairs with score >= T positive, for every pair.")
@click.option("--threshold-json", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="JSON {cell: threshold} (or {\"thresholds\": {...}}), applied per pair by "
                   "its cell. Default: the 'thresholds' of SCORED's sidecar SCORED.json.")
@click.option("--draws", type=click.IntRange(min=1), default=10, show_default=True,
              help="Class-balanced subsamples averaged for aupr_balanced.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the class-balanced subsamples.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metrics table as TSV here.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write PR and ROC curves (one per group) as a PNG here.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def command(scored: Path, label_col: str, score_col: str, by: str | None,
            threshold: float | None, threshold_json: Path | None, draws: int, seed: int,
            out: Path | None, plot: Path | None, force: bool) -> None:
    """Per-group AUPR (with prevalence), AUROC, class-balanced AUPR, Brier score, and
    precision/recall/F1 at the registered threshold and at the F1-optimal threshold, for
    SCORED, a scored BEDPE from `prism score` with a label column.

    Prints a table; -o writes it as TSV, --plot draws PR and ROC curves.
    """
    from rich.console import Console

    from ..errors import InputError
    from ..evaluate import evaluate_frame, load_thresholds, plot_curves, sidecar_thresholds
    from ..evaluate import table_tsv
    from ..io.atomic import atomic_file, check_writable
    from ..io.scored import read_scored_bedpe, read_sidecar

    err = Console(stderr=True)
    if threshold is not None and threshold_json is not None:
        raise click.UsageError("give --threshold or --threshold-json, not both")
    if threshold is not None and not math.isfinite(threshold):
        raise click.BadParameter("must be a finite number", param_hint="--threshold")
    outputs = [p for p in (out, plot) if p is not None]
    if len(outputs) == 2 and out.resolve() == plot.resolve():
        raise click.UsageError("-o and --plot name the same file")
    for p in outputs:
        if p.resolve() == scored.resolve():
            raise InputError("output would replace the input", str(p))
        check_writable(p, force)

    df = read_scored_bedpe(scored)
    thresholds, source = None, None
    if threshold_json is not None:
        thresholds, source = load_thresholds(threshold_json), str(threshold_json)
    elif threshold is None:
        thresholds = sidecar_thresholds(read_sidecar(scored), f"{scored}.json")
        source = f"{scored}.json" if thresholds else None
    if by is None:
        by = "cell" if "cell" in df.columns else "none"
    group_by = None if by.lower() == "none" else by

    result = evaluate_frame(df, label_col=label_col, score_col=score_col, by=group_by,
                            threshold=threshold, thresholds=thresholds, draws=draws,
                            seed=seed)

    if result.excluded:
        err.print(f"[yellow]note:[/] {result.excluded} pair(s) without a label "
                  f"('.' or -1 in {label_col!r}) excluded")
    for name in result.one_class_groups:
        err.print(f"[yellow]warning:[/] {result.group_col} {name!r} has only one class; "
                  "its AUPR, AUROC and F1-optimal threshold are nan")
    if thresholds and group_by is not None:
        missing = [g for g, t in zip(result.table[result.group_col], result.table["threshold"])
                   if t is None]
        if missing:
            err.print(f"[yellow]note:[/] no threshold registered in {source} for "
                      f"{', '.join(map(str, missing))}")

    stdout = Console()
    if not stdout.is_terminal:  # piped: do not squeeze the table into 80 columns
        stdout = Console(width=200)
    _print_table(result, threshold, source, stdout)

    if out is not None:
        with atomic_file(out, force) as fh:
            fh.write(table_tsv(result.table))
    if plot is not None:
        with atomic_file(plot, force, mode="wb") as fh:
            plot_curves(result.curves, fh, title=f"{scored.name}: {score_col}")


def _print_table(result, threshold, source, console) -> None:
    from rich.table import Table

    def cell(v, digits=3):
        if v is None:
            return "."
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    where = f"--threshold {threshold}" if threshold is not None else (source or "none")
    table = Table(title=f"threshold: {where}", title_justify="left")
    columns = [(result.group_col, result.group_col), ("n", "n"), ("positives", "pos"),
               ("prevalence", "prev"), ("aupr", "AUPR"), ("auroc", "AUROC"),
               ("aupr_balanced", "AUPR bal"), ("brier", "Brier"), ("threshold", "t"),
               ("f1_at_t", "F1@t"), ("precision_at_t", "P@t"), ("recall_at_t", "R@t"),
               ("best_f1_threshold", "t*"), ("best_f1", "F1@t*")]
    for _, header in columns:
        table.add_column(header, justify="left" if header == result.group_col else "right")
    for record in result.table.to_dict("records"):
        table.add_row(*(cell(record[key]) for key, _ in columns))
    console.print(table)
