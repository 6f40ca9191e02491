"""`prism score`: score candidate pairs -> scored BEDPE (+ JSON provenance)."""

from __future__ import annotations

import click

from .common import (device_option, fasta_option, model_option, registry_option,
                     threads_option)


@click.command(name="score")
@click.argument("pairs", type=click.Path(dir_okay=False))
@model_option
@fasta_option
@click.option("-c", "--cell", default=None,
              help="Cell to score in: a training cell, a cell registered by `prism adapt`, or "
                   "omitted (each pair's own cell column; zero-shot U_I where unknown).")
@click.option("--zero-shot", is_flag=True,
              help="Ignore cells: U_I only for every pair (p = sigmoid(U_I / T), R = 0).")
@registry_option
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="Scored BEDPE (a JSON sidecar OUT.json is written beside it).")
@click.option("--format", "fmt", type=click.Choice(["bedpe", "interact"]), default="bedpe",
              show_default=True, help="interact: also write UCSC interact format (OUT.interact).")
@click.option("--chunk-pairs", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Pairs scored per chunk (memory bound).")
@click.option("--label-col", default="label", show_default=True)
@click.option("--cell-col", default="cell", show_default=True)
@device_option
@threads_option
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
def command(pairs, model_path, fasta, cell, zero_shot, registry, out, fmt, chunk_pairs, label_col,
            cell_col, device, threads, force):
    """Score PAIRS (BEDPE) with a trained model. Output: the 10 BEDPE columns with
    score = round(1000 p), then prob, U_I, R, cell and the input's extra columns."""
    import tempfile
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..io.atomic import check_writable
    from ..io.fasta import Genome
    from ..io.scored import write_scored_bedpe
    from ..prepare import pairs_dataset
    from ..registry import registry_dir, training_cells
    from ..score import ZERO_SHOT, cell_keys, resolve_environment, score_pairs
    from .common import load_model, model_checksum

    console = Console(stderr=True)
    interact = str(out) + ".interact" if fmt == "interact" else None
    for p in (out, str(out) + ".json", interact):
        if p:
            check_writable(p, force)
    model, meta = load_model(model_path, device, threads)
    cells = training_cells(meta)
    reg = registry_dir(model_path, registry)
    genome = Genome(fasta)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prism-score-") as tmp:
        ds = pairs_dataset(genome, pairs, meta, Path(tmp) / "pairs", cell_col=cell_col,
                           label_col=label_col)
        if zero_shot and cell:
            raise click.UsageError("--zero-shot and --cell exclude each other")
        keys = cell_keys(ds, "." if zero_shot else cell)
        envs = {k: resolve_environment(model, meta, cells, reg, k)
                for k in dict.fromkeys(keys.tolist())}
        for k, env in envs.items():
            if env.kind == ZERO_SHOT:
                console.print(f"[yellow]cell {k!r}: no environment known -> zero-shot U_I only "
                              "(cell column 'zero-shot'; probabilities not calibrated to any "
                              "cell)[/]" if k not in (".", None) else
                              "[yellow]no cell given -> zero-shot U_I only (cell column "
                              "'zero-shot')[/]")
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("scoring", total=len(ds.pairs))
            chunks = score_pairs(model, ds, envs, keys, chunk_pairs,
                                 progress=lambda n: bar.update(task, completed=n))
            sidecar = {
                "model": str(Path(model_path).resolve()),
                "model_checksum": model_checksum(model_path),
                "arch": meta.get("model_config", {}).get("arch"),
                "pairs": str(Path(pairs).resolve()),
                "fasta": str(Path(fasta).resolve()),
                "environments": {k: e.describe() for k, e in envs.items()},
                "thresholds": {e.cell: e.threshold for e in envs.values()
                               if e.threshold is not None},
            }
            written = write_scored_bedpe(chunks, out, force=force, sidecar=sidecar,
                                         interact_path=interact)
    seconds = time.perf_counter() - t0
    console.print(f"scored {written['rows']:,} pairs in {seconds:.1f} s "
                  f"({written['rows'] / max(seconds, 1e-9):,.0f} pairs/s) -> {out}")

