"""`prism evaluate`: metrics and PR/ROC curves of a scored BEDPE with labels."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from .common import InputPath, OutputPath, command, positional_alias
from .options import (force_option, label_col_option, out_option, pairs_option, seed_option,
                      verbosity_options)


@command("evaluate", conflicts=[("threshold", "threshold_json")])
@positional_alias("pairs", "SCORED", type=InputPath("scored BEDPE"))
@pairs_option("Scored BEDPE from `prism score` with a label column ('-' = standard input; "
              "then no sidecar is read: give --threshold or --threshold-json for "
              "thresholds).")
@label_col_option("Column with the true labels: 1, 0, or '.'/-1 for unknown (excluded).")
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
                   "its cell. Default: the 'thresholds' of the sidecar SCORED.json.")
@click.option("--draws", type=click.IntRange(min=1), default=10, show_default=True,
              help="Class-balanced subsamples averaged for aupr_balanced.")
@seed_option(0, "Seed of the class-balanced subsamples.")
@out_option("Write the metrics table as TSV here ('-': to standard output, instead of the "
            "printed table).", stdout=True, required=False)
@click.option("--plot", type=OutputPath(), default=None,
              help="Write PR and ROC curves (one per group) as a PNG here.")
@force_option("Overwrite existing outputs.")
@verbosity_options
def command(pairs: str, label_col: str, score_col: str, by: str | None,
            threshold: float | None, threshold_json: Path | None, draws: int, seed: int,
            out: str | None, plot: str | None, force: bool, verbose: bool,
            quiet: bool) -> None:
    """Per-group AUPR (with prevalence), AUROC, class-balanced AUPR, Brier score, and
    precision/recall/F1 at the registered threshold and at the F1-optimal threshold, for
    the scored BEDPE -p/--pairs (from `prism score`, with a label column).

    Prints a table; -o writes it as TSV, --plot draws PR and ROC curves.

    \b
    Examples:
      prism evaluate -p scored.bedpe --plot curves.png -o metrics.tsv
      prism score -p cand.bedpe ... -o - | prism evaluate -p - --threshold 0.5
    """
    if threshold is not None and not math.isfinite(threshold):
        raise click.BadParameter("must be a finite number", param_hint="--threshold")
    if out is not None and plot is not None and Path(out).resolve() == Path(plot).resolve():
        raise click.UsageError("-o and --plot name the same file")
    from ..errors import require_files

    require_files((pairs, None), (threshold_json, None))
    from rich.console import Console

    from ..errors import PrismInputError
    from ..evaluate import evaluate_frame, load_thresholds, plot_curves, sidecar_thresholds
    from ..evaluate import table_tsv
    from ..io.atomic import atomic_file, check_writable
    from ..io.scored import read_scored_bedpe, read_sidecar
    from .common import STDIN, consoles, spooled_stdin

    info, err = consoles(quiet)
    outputs = [Path(p) for p in (out, plot) if p is not None and p != "-"]
    for p in outputs:
        if pairs != "-" and p.resolve() == Path(pairs).resolve():
            raise PrismInputError("output would replace the input", str(p))
        check_writable(p, force, inputs=(pairs, threshold_json))

    with spooled_stdin(pairs, "scored BEDPE") as scored_file:
        df = read_scored_bedpe(scored_file)
    if pairs == "-":  # messages cite <stdin>:LINE
        df.attrs["path"] = STDIN
    name = STDIN if pairs == "-" else Path(pairs).name
    thresholds, source = None, None
    if threshold_json is not None:
        thresholds, source = load_thresholds(threshold_json), str(threshold_json)
    elif threshold is None and pairs != "-":  # standard input has no sidecar
        thresholds = sidecar_thresholds(read_sidecar(pairs), f"{pairs}.json")
        source = f"{pairs}.json" if thresholds else None
    if by is None:
        by = "cell" if "cell" in df.columns else "none"
    group_by = None if by.lower() == "none" else by

    result = evaluate_frame(df, label_col=label_col, score_col=score_col, by=group_by,
                            threshold=threshold, thresholds=thresholds, draws=draws,
                            seed=seed)

    if result.excluded:
        info.print(f"[yellow]note:[/] {result.excluded} pair(s) without a label "
                  f"('.' or -1 in {label_col!r}) excluded")
    for name in result.one_class_groups:
        err.print(f"[yellow]warning:[/] {result.group_col} {name!r} has only one class; "
                  "its AUPR, AUROC and F1-optimal threshold are nan")
    if thresholds and group_by is not None:
        missing = [g for g, t in zip(result.table[result.group_col], result.table["threshold"])
                   if t is None]
        if missing:
            info.print(f"[yellow]note:[/] no threshold registered in {source} for "
                      f"{', '.join(map(str, missing))}")

    if out == "-":  # the TSV is the result on standard output; the table goes to stderr
        table = Console(stderr=True, quiet=quiet)
        sys.stdout.write(table_tsv(result.table))
        sys.stdout.flush()
    else:
        table = Console()
        if not table.is_terminal:  # piped: do not squeeze the table into 80 columns
            table = Console(width=200)
    _print_table(result, threshold, source, table)

    if out is not None and out != "-":
        with atomic_file(out, force) as fh:
            fh.write(table_tsv(result.table))
    if plot is not None:
        with atomic_file(plot, force, mode="wb") as fh:
            plot_curves(result.curves, fh, title=f"{name}: {score_col}")


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
