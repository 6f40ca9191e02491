"""`prism score`: score candidate pairs -> scored BEDPE (+ JSON provenance)."""

from __future__ import annotations

import click

from .common import (InputPath, cell_col_option, cell_option, command, device_option,
                     fasta_option, feature_table_option, force_option, label_col_option,
                     model_option, out_option, pairs_option, positional_alias,
                     registry_option, support_option, threads_option, verbosity_options)


@command("score", conflicts=[("zero_shot", "cell"), ("zero_shot", "support")],
         requires=[("support", "cell")])
@positional_alias("pairs", "PAIRS", type=InputPath("BEDPE"))
@pairs_option("Pairs to score: BEDPE (e.g. from `prism candidates`; '-' = standard "
              "input); labels and extra columns pass through.")
@model_option
@fasta_option()
@cell_option("Cell to score in: a training cell, a cell registered by `prism adapt`, or "
             "omitted (each pair's own cell column). An unknown cell is an error, unless "
             "--support gives its environment.")
@support_option("Labelled pairs of --cell (BEDPE with a label column; '-' = standard "
                "input): score in the environment they imply. A training cell: its "
                "teacher environment updated by them ('fused'); any other name: estimated "
                "from them alone ('support', as `prism adapt` would, not registered).",
                required=False)
@click.option("--zero-shot", is_flag=True,
              help="Ignore cells: U_I only for every pair (p = sigmoid(U_I / T), R = 0; "
                   "cell column 'zero-shot', the input's cells kept as input_cell).")
@registry_option
@out_option("Scored BEDPE (a JSON sidecar OUT.json is written beside it). '-': the sorted "
            "BEDPE goes to standard output once it is complete, and no sidecar is written.",
            stdout=True)
@click.option("--format", "fmt", type=click.Choice(["bedpe", "interact"]), default="bedpe",
              show_default=True, help="interact: also write UCSC interact format (OUT.interact).")
@click.option("--chunk-pairs", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Pairs scored per chunk (memory bound).")
@label_col_option()
@cell_col_option()
@feature_table_option
@device_option
@threads_option
@force_option("Overwrite existing outputs.")
@verbosity_options
def command(pairs, model_path, fasta, cell, support, zero_shot, registry, out, fmt,
            chunk_pairs, label_col, cell_col, feature_table, device, threads, force, verbose,
            quiet):
    """Score PAIRS (BEDPE) with a trained model. Output: the 10 BEDPE columns with
    score = round(1000 p), then prob, U_I, R, cell and the input's extra columns.

    \b
    Examples:
      prism score -p cand.bedpe -m run/ -g genome.fa -c GM12878 -o scored.bedpe
      prism candidates ... -o - | prism score -p - -m run/ -g genome.fa -c K562 -o -
      prism score -p cand.bedpe -m run/ -g genome.fa -c MYCELL -s labelled.bedpe -o s.bedpe
    """
    if out == "-" and fmt == "interact":
        raise click.UsageError("--format interact writes OUT.interact beside OUT: give -o a "
                               "file name, not '-'")
    from ..errors import require_files

    require_files((pairs, "BEDPE"), (support, "BEDPE"), (fasta, "FASTA"))
    import tempfile
    import time
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..checkpoint import read_meta
    from ..io.atomic import check_writable, output_lock
    from ..io.fasta import Genome
    from ..io.scored import write_scored_bedpe
    from ..prepare import pairs_dataset
    from ..registry import registry_dir, training_cells
    from .common import (consoles, display_name, load_model, model_checksum, spooled_stdin,
                         stdout_target, support_dataset)

    console, warn = consoles(quiet)
    to_stdout = out == "-"
    interact = str(out) + ".interact" if fmt == "interact" else None
    if not to_stdout:
        for p in (out, str(out) + ".json", interact):
            if p:
                check_writable(p, force, inputs=(pairs, support, fasta, model_path))
    reg = registry_dir(model_path, registry)
    genome = Genome(fasta)
    with spooled_stdin(pairs) as pairs_file, spooled_stdin(support) as support_file:
        # the whole input (and support) is validated, and every cell it names resolved,
        # before torch loads
        meta0 = read_meta(model_path)
        input_cells = _check_cells(pairs_file, genome, meta0, model_path, reg, cell,
                                   zero_shot, cell_col, label_col, support=support_file)
        if support_file:
            _check_support(support_file, genome, cell, cell_col, label_col)
            if cell not in training_cells(meta0) and (reg / f"{cell}.json").exists():
                warn.print(f"[yellow]note:[/] --support: the environment registered for "
                           f"'{cell}' in {reg} is not used; the support alone sets it")
        from ..features import model_inputs  # torch: only once the input is known good
        from ..score import (ZERO_SHOT, cell_keys, resolve_environment, score_pairs,
                             support_environment)

        model, meta = load_model(model_path, device, threads)
        cells = training_cells(meta)
        t0 = time.perf_counter()
        with stdout_target(out, "scored.bedpe") as target, \
                output_lock(target, also=(str(target) + ".json", interact)), \
                tempfile.TemporaryDirectory(prefix="prism-score-") as tmp:
            ds = pairs_dataset(genome, pairs_file, meta, Path(tmp) / "pairs",
                               cell_col=cell_col, label_col=label_col)
            keys = cell_keys(ds, ZERO_SHOT if zero_shot else cell)
            described = {}
            if support_file:
                sds = support_dataset(genome, support_file, meta, Path(tmp) / "support",
                                      cell, cell_col, label_col, support_file)
                env = support_environment(model, cells, cell, sds,
                                          model_inputs(sds, meta, feature_table),
                                          support_file)
                envs = {cell: env}
                n_support = int((sds.pairs["label"] >= 0).sum())
                described[cell] = {**env.describe(), "support": display_name(support),
                                   "support_pairs": n_support}
                how = ("its teacher environment updated by" if env.kind == "fused"
                       else "estimated from")
                console.print(f"environment of {cell}: {env.kind} ({how} {n_support} "
                              f"labelled support pairs in {_shown(support)})")
            else:
                envs = {k: resolve_environment(model, meta, cells, reg, k)
                        for k in dict.fromkeys(keys.tolist())}
            for k, e in envs.items():
                described.setdefault(k, e.describe())
                if verbose:
                    console.print(f"[dim]score:[/dim] cell {e.cell}: {e.kind} environment, "
                                  f"threshold {e.threshold if e.threshold is not None else '.'}")
            if zero_shot and model.has_environment:
                warn.print("[yellow]--zero-shot: U_I only (cell column 'zero-shot'; "
                           "probabilities not calibrated to any cell)[/]")
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                          transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("scoring", total=len(ds.pairs))
                inputs = model_inputs(ds, meta, feature_table)
                chunks = score_pairs(model, ds, envs, keys, chunk_pairs, inputs=inputs,
                                     progress=lambda n: bar.update(task, completed=n))
                if input_cells:  # the input's own cell column, when --cell/--zero-shot
                    chunks = _with_input_cell(chunks, ds)  # override it
                sidecar = {
                    "model": str(Path(model_path).resolve()),
                    "model_checksum": model_checksum(model_path),
                    "arch": meta.get("model_config", {}).get("arch"),
                    "pairs": display_name(pairs),
                    "fasta": str(Path(fasta).resolve()),
                    "environments": described,
                    "thresholds": {e.cell: e.threshold for e in envs.values()
                                   if e.threshold is not None},
                }
                if support:
                    sidecar["support"] = display_name(support)
                written = write_scored_bedpe(chunks, target, force=force, sidecar=sidecar,
                                             interact_path=interact)
    seconds = time.perf_counter() - t0
    console.print(f"scored {written['rows']:,} pairs in {seconds:.1f} s "
                  f"({written['rows'] / max(seconds, 1e-9):,.0f} pairs/s) -> "
                  f"{'standard output' if to_stdout else out}")


def _shown(path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _check_support(path, genome, cell: str, cell_col: str, label_col: str) -> None:
    """Validate the --support BEDPE (every line) and that the rows of ``cell`` (all rows
    when it has no cell column) hold labelled pairs of both classes, before torch loads.
    The support-size limits are checked with the model (as `prism adapt` checks them)."""
    import numpy as np

    from ..errors import InputError
    from ..io.bed import BEDPE, TableReader

    counts: dict[str, np.ndarray] = {}  # cell -> [negatives, positives]
    for chunk in TableReader(path, BEDPE, genome=genome, required=[label_col],
                             label_col=label_col):
        names = (chunk[cell_col].to_numpy(dtype=str) if cell_col in chunk
                 else np.full(len(chunk), cell))
        y = chunk[label_col].to_numpy()
        for name in np.unique(names):
            c = counts.setdefault(str(name), np.zeros(2, dtype=np.int64))
            m = names == name
            c += [(y[m] == 0).sum(), (y[m] == 1).sum()]
    if cell in counts:
        neg, pos = counts[cell]
    elif len(counts) > 1:
        raise InputError(f"the support has a '{cell_col}' column with several cells but "
                         f"none named '{cell}'", str(path))
    else:
        neg, pos = next(iter(counts.values()))
    if pos == 0 or neg == 0:
        have = "no labelled pairs" if pos + neg == 0 else (
            "only positives" if pos else "only negatives")
        raise InputError(f"the support set has {have} ({pos} positive, {neg} negative); "
                         "--support needs labelled pairs of both classes", str(path))


def _check_cells(pairs, genome, meta: dict, model_path, reg, cell, zero_shot: bool,
                 cell_col: str, label_col: str, support=None) -> bool:
    """Validate PAIRS (every line) and the cells it will be scored in, before any work.

    Every cell must be a training cell or one registered by `prism adapt` (for this
    model); without --cell each line's own cell column is used, and an unknown or
    missing cell there is an error at that line. Only --zero-shot scores without a cell.
    With ``support`` (``--support``) the --cell name may be new: the support sets its
    environment.
    Returns whether the input names cells that --cell/--zero-shot override (they are then
    kept in the output as ``input_cell``).
    """
    import math

    import numpy as np
    import pandas as pd

    from ..errors import InputError
    from ..io.bed import BEDPE, TableReader
    from ..registry import is_known_cell, load_adapted, training_cells, unknown_cell
    from .common import model_checksum

    training = training_cells(meta)
    arch = (meta.get("model_config") or {}).get("arch", "prism")
    reader = TableReader(pairs, BEDPE, genome=genome, label_col=label_col)
    first_line: dict[str, int] = {}
    has_cells = False
    for chunk in reader:
        if cell_col not in chunk:
            continue
        has_cells = True
        col = chunk[cell_col].to_numpy(dtype=str)
        for name in pd.unique(col):
            if name not in first_line:
                first_line[name] = int(chunk["_line"].iat[int(np.argmax(col == name))])
    if support and arch == "crossattn":
        raise InputError("--support needs a PRISM model (a crossattn model has no cell "
                         "environment)", str(model_path))
    if zero_shot or arch == "crossattn":  # no environment: cells do not enter the scores
        return zero_shot and bool(set(first_line) - {"."})
    if support:  # the support gives --cell's environment, whatever the name
        return bool(set(first_line) - {".", cell})
    if cell:
        names = {cell: None}
    elif not has_cells:
        raise InputError(f"no '{cell_col}' column and no --cell: give -c CELL (training cells "
                         f"{', '.join(training) or 'none'}) or --zero-shot", str(pairs))
    else:
        names = first_line
    checksum = None
    for name, line in names.items():
        if name == ".":
            raise InputError(f"no cell for this pair ('.' in column '{cell_col}'): give -c "
                             "CELL or --zero-shot", str(pairs), line)
        if not is_known_cell(name, training, reg):
            raise unknown_cell(name, training, reg, str(pairs) if line else None, line)
        if name in training:
            continue
        record = load_adapted(reg, name)
        pi = record.get("pi")
        if not isinstance(pi, list) or not pi or not all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in pi):
            raise InputError(f"adapted cell '{name}' has no finite environment 'pi'; re-run "
                             "`prism adapt`", str(reg / f"{name}.json"))
        checksum = checksum or model_checksum(model_path)
        if record.get("model_checksum") not in (None, checksum):
            raise InputError(f"adapted cell '{name}' was registered with another model "
                             f"(checksum {str(record['model_checksum'])[:12]}, this model "
                             f"{checksum[:12]}); re-run `prism adapt` with this model",
                             str(reg / f"{name}.json"))
    return bool(cell) and bool(set(first_line) - {".", cell})


def _with_input_cell(chunks, ds):
    """Chunks with the input's cell column kept as ``input_cell`` (after ``cell``)."""
    for frame in chunks:
        frame.insert(frame.columns.get_loc("cell") + 1, "input_cell",
                     ds.pairs["cell"].to_numpy(dtype=object)[frame.index.to_numpy()])
        yield frame
