"""`prism score`: score candidate pairs -> scored BEDPE (+ JSON provenance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .common import InputPath, command, positional_alias
from .options import (cell_col_option, cell_option, device_option, fasta_option,
                      feature_table_option, force_option, label_col_option, model_option,
                      out_option, pairs_option, registry_option, support_option,
                      threads_option, verbosity_options)

if TYPE_CHECKING:
    from ..predict.score_inputs import PairsSummary


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
              help="Ignore cells: score every pair in the average training environment "
                   "(a cell nothing is known of; cell column 'zero-shot', the input's "
                   "cells kept as input_cell).")
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
    from ..shard import SLICE_PAIRS, rank_world

    rank, world = rank_world()
    if world > 1 and "-" in (str(pairs), str(support)):
        raise click.UsageError("under torchrun every rank reads the pairs (and the support) "
                               "itself: give files, not '-'")
    require_files((pairs, "BEDPE"), (support, "BEDPE"), (fasta, "FASTA"))
    import time

    from ..checkpoint import Checkpoint
    from ..io.atomic import check_writable
    from ..io.fasta import Genome
    from ..predict.score_inputs import check_pairs, check_support_file
    from ..registry import registry_dir
    from .common import consoles, spooled_stdin

    console, warn = consoles(quiet or rank > 0)  # one voice: rank 0 speaks for the job
    if rank > 0:
        warn.quiet = True
    interact = str(out) + ".interact" if fmt == "interact" else None
    if out != "-":
        for p in (out, str(out) + ".json", interact):
            if p:
                check_writable(p, force, inputs=(pairs, support, fasta, model_path))
    reg = registry_dir(model_path, registry)
    genome = Genome(fasta)
    t0 = time.perf_counter()
    with spooled_stdin(pairs) as pairs_file, spooled_stdin(support) as support_file:
        # the whole input (and support) is validated, and every cell it names resolved,
        # before torch loads
        metadata = Checkpoint.read(model_path)
        # one process keeps what this pass parsed (up to a slice's pairs) for extraction
        summary = check_pairs(pairs_file, genome, metadata, model_path, reg, cell,
                              zero_shot, cell_col, label_col, support=support_file,
                              keep_rows=SLICE_PAIRS if world == 1 else 0)
        if support_file:
            check_support_file(support_file, genome, cell, cell_col, label_col)
            if cell not in metadata.cells and (reg / f"{cell}.json").exists():
                warn.print(f"[yellow]note:[/] --support: the environment registered for "
                           f"'{cell}' in {reg} is not used; the support alone sets it")
        job = _Job(pairs=pairs, pairs_file=pairs_file, support=support,
                   support_file=support_file, model_path=model_path, genome=genome,
                   fasta=fasta, cell=cell, zero_shot=zero_shot, reg=reg, out=out,
                   interact=interact, chunk_pairs=chunk_pairs, cell_col=cell_col,
                   label_col=label_col, feature_table=feature_table, device=device,
                   threads=threads, force=force, verbose=verbose, summary=summary,
                   console=console, warn=warn)
        written = _run(job)
    if written is None:  # a rank > 0: its part went to rank 0
        return
    seconds = time.perf_counter() - t0
    console.print(f"scored {written['rows']:,} pairs in {seconds:.1f} s "
                  f"({written['rows'] / max(seconds, 1e-9):,.0f} pairs/s"
                  f"{f', {world} ranks' if world > 1 else ''}) -> "
                  f"{'standard output' if out == '-' else out}")


@dataclass
class _Job:
    pairs: object
    pairs_file: object
    support: object
    support_file: object
    model_path: object
    genome: object
    fasta: object
    cell: object
    zero_shot: bool
    reg: object
    out: object
    interact: object
    chunk_pairs: int
    cell_col: str
    label_col: str
    feature_table: object
    device: object
    threads: object
    force: bool
    verbose: bool
    summary: PairsSummary
    console: object
    warn: object


def _run(job: _Job) -> dict | None:
    """Score the job's pairs; rank 0 writes the output and returns its sidecar.

    One process: the pairs are cut into slices of whole chromosomes (at most
    ``shard.SLICE_PAIRS`` pairs each, unless one chromosome has more), each extracted,
    featurised and scored in turn into sorted runs beside the output, which are then
    written in order.  Under torchrun each rank does this for its own chromosomes
    (``shard.assign``) into a folder rank 0 made beside the output, and rank 0 writes
    the output from every rank's runs.
    """
    import contextlib
    import shutil
    import tempfile
    from pathlib import Path

    from .. import shard
    from ..checkpoint import weights_checksum
    from ..io.atomic import output_lock
    from ..io.scored import ScoredParts, write_scored_bedpe
    from .common import display_name, load_model, stdout_target
    from .progress import ScoreProgress

    rank, world = shard.rank_world()
    if world > 1:
        _pick_local_gpu(job.device)
    _keep_freed_memory()
    ck = load_model(job.model_path, job.device, job.threads)
    envs, described = _environments(job, ck)
    counts = job.summary.counts
    mine = shard.assign(counts, world)[rank]
    pieces = shard.slices(mine, counts, shard.SLICE_PAIRS)
    sidecar = {
        "model": str(Path(job.model_path).resolve()),
        "model_checksum": weights_checksum(job.model_path),
        "arch": ck.arch,
        "pairs": display_name(job.pairs),
        "fasta": str(Path(job.fasta).resolve()),
        "environments": described,
        "thresholds": {e.cell: e.threshold for e in envs.values() if e.threshold is not None},
    }
    if job.support:
        sidecar["support"] = display_name(job.support)
    if world > 1:
        sidecar["ranks"] = world

    with contextlib.ExitStack() as stack:
        group = stack.enter_context(shard.ProcessGroup())
        if rank == 0:  # the output is locked before any work, as by one process
            target = stack.enter_context(stdout_target(job.out, "scored.bedpe"))
            stack.enter_context(output_lock(target, also=(str(target) + ".json",
                                                          job.interact)))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prism-score-")))
        bar = stack.enter_context(ScoreProgress(job.console, sum(counts[c] for c in mine)))
        if world == 1 and len(pieces) == 1:
            paths = [job.pairs_file]  # all of it at once: no copy
        elif not pieces:
            paths = []  # more ranks than chromosomes: nothing for this one
        else:
            bar.stage(f"slicing {_shown(job.pairs)}")
            paths = shard.write_slices(job.pairs_file, pieces, tmp)
        chunks = _scored_chunks(job, ck, envs, list(zip(pieces, paths)), tmp, bar)
        with_interact = job.interact is not None
        if world == 1:
            return write_scored_bedpe(chunks, target, force=job.force, sidecar=sidecar,
                                      interact_path=job.interact)
        if rank > 0:
            folder = Path(group.broadcast(None)) / f"rank{rank}"
            folder.mkdir()
            group.gather(ScoredParts.spill(chunks, folder, with_interact).state())
            return None
        # rank 0: a folder for every rank's runs beside the output (a killed job's is
        # removed by the next run, as any temporary of the output)
        parts_dir = Path(tempfile.mkdtemp(prefix=f".{Path(target).name}.runs.",
                                          dir=Path(target).parent)).resolve()
        stack.callback(shutil.rmtree, parts_dir, ignore_errors=True)
        group.broadcast(str(parts_dir))
        (parts_dir / "rank0").mkdir()
        own = ScoredParts.spill(chunks, parts_dir / "rank0", with_interact)
        bar.stage("waiting for the other ranks")
        states = group.gather(own.state())
        bar.stage(f"writing {_shown(job.out)}")
        return write_scored_bedpe(ScoredParts.combine(states), target, force=job.force,
                                  sidecar=sidecar, interact_path=job.interact)


def _keep_freed_memory() -> None:
    """Let glibc's malloc keep freed large blocks for reuse instead of returning them to
    the kernel (M_MMAP_THRESHOLD 1 GiB, M_TRIM_THRESHOLD 2 GiB).  The motif scan and the
    pair head allocate and free blocks of up to a few hundred MB per batch; given back,
    every page of the next one is faulted in again, which cost as much system time as the
    scan's arithmetic (docs/benchmarks.md, score throughput).  Only the main thread's
    arena can keep blocks that large, so the scan stays on the main thread.  No-op
    without glibc."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, ctypes.c_int(1 << 30))
    mallopt(m_trim_threshold, ctypes.c_int(2 ** 31 - 1))


def _pick_local_gpu(device) -> None:
    """Under torchrun, each rank of a machine takes its own GPU (LOCAL_RANK)."""
    import os

    import torch

    if device in (None, "auto", "cuda") and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())


def _environments(job: _Job, ck):
    """The environment of each cell key, and how the sidecar describes them."""
    from pathlib import Path
    import tempfile

    from ..predict.score import ZERO_SHOT, resolve_environment, support_environment
    from ..prepare import support_dataset
    from .common import display_name

    model = ck.model
    described = {}
    if job.support_file:
        with tempfile.TemporaryDirectory(prefix="prism-support-") as tmp:
            sds = support_dataset(job.genome, job.support_file, ck.windows,
                                  Path(tmp) / "support", job.cell, job.cell_col,
                                  job.label_col, job.support_file)
            env = support_environment(model, ck.cells, job.cell, sds,
                                      ck.element_inputs(sds, job.feature_table),
                                      job.support_file)
            n_support = int((sds.pairs["label"] >= 0).sum())
        envs = {job.cell: env}
        described[job.cell] = {**env.describe(), "support": display_name(job.support),
                               "support_pairs": n_support}
        how = ("its teacher environment updated by" if env.kind == "fused"
               else "estimated from")
        job.console.print(f"environment of {job.cell}: {env.kind} ({how} {n_support} "
                          f"labelled support pairs in {_shown(job.support)})")
    else:
        names = ([ZERO_SHOT] if job.zero_shot else [job.cell] if job.cell
                 else job.summary.cells)
        envs = {k: resolve_environment(model, ck.cells, job.reg, k) for k in names}
    for k, e in envs.items():
        described.setdefault(k, e.describe())
        if job.verbose:
            job.console.print(f"[dim]score:[/dim] cell {e.cell}: {e.kind} environment, "
                              f"threshold {e.threshold if e.threshold is not None else '.'}")
    if job.zero_shot and model.has_environment:
        job.warn.print("[yellow]--zero-shot: the average training environment (cell "
                       "column 'zero-shot'; probabilities not calibrated to any one cell)[/]")
    return envs, described


def _scored_chunks(job: _Job, ck, envs, pieces, tmp, bar):
    """Scored chunks of each piece (its chromosomes, its pairs file) in turn: extracted
    into ``tmp`` (the pair table kept in memory; the whole input from the validation
    pass's chunks when it kept them), element features computed once per element, scored,
    then removed."""
    import shutil
    from pathlib import Path

    from ..predict.score import ZERO_SHOT, cell_keys, score_pairs
    from ..prepare import pairs_dataset

    for i, (names, path) in enumerate(pieces):
        what = names[0] if len(names) == 1 else f"{names[0]}..{names[-1]} ({len(names)})"
        root = tmp / f"piece.{i}"
        bar.stage(f"extracting {what}")
        parsed = job.summary.parsed if path == job.pairs_file else None
        job.summary.parsed = None  # let go of the kept chunks as extraction reads them
        ds = pairs_dataset(job.genome, path, ck.windows, root, cell_col=job.cell_col,
                           label_col=job.label_col, parsed=parsed, in_memory=True,
                           progress=lambda done, total: bar.stage(
                               f"extracting {what} {100 * done / max(total, 1):.0f} %"))
        del parsed
        keys = cell_keys(ds, ZERO_SHOT if job.zero_shot else job.cell)
        bar.stage(f"element features {what}")
        inputs = ck.element_inputs(ds, job.feature_table)  # once per element
        bar.stage(f"scoring {what}")
        base = bar.completed
        chunks = score_pairs(ck.model, ds, envs, keys, job.chunk_pairs, inputs=inputs,
                             labelled=job.summary.labelled,
                             progress=lambda n: bar.advance_to(base + n))
        if job.summary.overridden:  # the input's own cell column, when --cell/--zero-shot
            chunks = _with_input_cell(chunks, ds)  # override it
        yield from chunks
        del ds, inputs, chunks
        shutil.rmtree(root, ignore_errors=True)
        if path != job.pairs_file:
            Path(path).unlink(missing_ok=True)


def _shown(path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _with_input_cell(chunks, ds):
    """Chunks with the input's cell column kept as ``input_cell`` (after ``cell``)."""
    for frame in chunks:
        frame.insert(frame.columns.get_loc("cell") + 1, "input_cell",
                     ds.pairs["cell"].to_numpy(dtype=object)[frame.index.to_numpy()])
        yield frame
