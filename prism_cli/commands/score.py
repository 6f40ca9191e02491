"""`prism score`: score candidate pairs -> scored BEDPE (+ JSON provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    from ..shard import rank_world

    rank, world = rank_world()
    if world > 1 and "-" in (str(pairs), str(support)):
        raise click.UsageError("under torchrun every rank reads the pairs (and the support) "
                               "itself: give files, not '-'")
    require_files((pairs, "BEDPE"), (support, "BEDPE"), (fasta, "FASTA"))
    import time

    from ..checkpoint import read_meta
    from ..io.atomic import check_writable
    from ..io.fasta import Genome
    from ..registry import registry_dir, training_cells
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
        meta0 = read_meta(model_path)
        summary = _check_cells(pairs_file, genome, meta0, model_path, reg, cell,
                               zero_shot, cell_col, label_col, support=support_file)
        if support_file:
            _check_support(support_file, genome, cell, cell_col, label_col)
            if cell not in training_cells(meta0) and (reg / f"{cell}.json").exists():
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
class _Input:
    """What the validation pass learnt about PAIRS."""
    overridden: bool = False   # it names cells that --cell/--zero-shot override
    cells: list = field(default_factory=list)    # its cell names, in order of first line
    counts: dict = field(default_factory=dict)   # pairs per chromosome (chrom1)
    labelled: bool = False     # some pair has a 0/1 label


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
    summary: _Input
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
    from ..io.atomic import output_lock
    from ..io.scored import ScoredParts, write_scored_bedpe
    from .common import display_name, load_model, model_checksum, stdout_target

    rank, world = shard.rank_world()
    if world > 1:
        _pick_local_gpu(job.device)
    _keep_freed_memory()
    model, meta = load_model(job.model_path, job.device, job.threads)
    envs, described = _environments(job, model, meta)
    counts = job.summary.counts
    mine = shard.assign(counts, world)[rank]
    pieces = shard.slices(mine, counts, shard.SLICE_PAIRS)
    sidecar = {
        "model": str(Path(job.model_path).resolve()),
        "model_checksum": model_checksum(job.model_path),
        "arch": meta.get("model_config", {}).get("arch"),
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
        bar = stack.enter_context(_progress(job.console, sum(counts[c] for c in mine)))
        if world == 1 and len(pieces) == 1:
            paths = [job.pairs_file]  # all of it at once: no copy
        elif not pieces:
            paths = []  # more ranks than chromosomes: nothing for this one
        else:
            bar.stage(f"slicing {_shown(job.pairs)}")
            paths = shard.write_slices(job.pairs_file, pieces, tmp)
        chunks = _scored_chunks(job, model, meta, envs, list(zip(pieces, paths)), tmp, bar)
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


def _environments(job: _Job, model, meta: dict):
    """The environment of each cell key, and how the sidecar describes them."""
    from pathlib import Path
    import tempfile

    from ..features import model_inputs
    from ..registry import training_cells
    from ..score import ZERO_SHOT, resolve_environment, support_environment
    from .common import display_name, support_dataset

    cells = training_cells(meta)
    described = {}
    if job.support_file:
        with tempfile.TemporaryDirectory(prefix="prism-support-") as tmp:
            sds = support_dataset(job.genome, job.support_file, meta, Path(tmp) / "support",
                                  job.cell, job.cell_col, job.label_col, job.support_file)
            env = support_environment(model, cells, job.cell, sds,
                                      model_inputs(sds, meta, job.feature_table),
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
        envs = {k: resolve_environment(model, meta, cells, job.reg, k) for k in names}
    for k, e in envs.items():
        described.setdefault(k, e.describe())
        if job.verbose:
            job.console.print(f"[dim]score:[/dim] cell {e.cell}: {e.kind} environment, "
                              f"threshold {e.threshold if e.threshold is not None else '.'}")
    if job.zero_shot and model.has_environment:
        job.warn.print("[yellow]--zero-shot: U_I only (cell column 'zero-shot'; "
                       "probabilities not calibrated to any cell)[/]")
    return envs, described


def _scored_chunks(job: _Job, model, meta: dict, envs, pieces, tmp, bar):
    """Scored chunks of each piece (its chromosomes, its pairs file) in turn: extracted
    into ``tmp``, element features computed once per element, scored, then removed."""
    import shutil
    from pathlib import Path

    from ..features import model_inputs
    from ..prepare import pairs_dataset
    from ..score import ZERO_SHOT, cell_keys, score_pairs

    for i, (names, path) in enumerate(pieces):
        what = names[0] if len(names) == 1 else f"{names[0]}..{names[-1]} ({len(names)})"
        root = tmp / f"piece.{i}"
        bar.stage(f"extracting {what}")
        ds = pairs_dataset(job.genome, path, meta, root, cell_col=job.cell_col,
                           label_col=job.label_col,
                           progress=lambda done, total: bar.stage(
                               f"extracting {what} {100 * done / max(total, 1):.0f} %"))
        keys = cell_keys(ds, ZERO_SHOT if job.zero_shot else job.cell)
        bar.stage(f"element features {what}")
        inputs = model_inputs(ds, meta, job.feature_table)  # once per element
        bar.stage(f"scoring {what}")
        base = bar.completed
        chunks = score_pairs(model, ds, envs, keys, job.chunk_pairs, inputs=inputs,
                             labelled=job.summary.labelled,
                             progress=lambda n: bar.advance_to(base + n))
        if job.summary.overridden:  # the input's own cell column, when --cell/--zero-shot
            chunks = _with_input_cell(chunks, ds)  # override it
        yield from chunks
        del ds, inputs, chunks
        shutil.rmtree(root, ignore_errors=True)
        if path != job.pairs_file:
            Path(path).unlink(missing_ok=True)


class _progress:
    """A rich progress bar of pairs scored, with ETA, on stderr: shown only on a
    terminal and without -q.  ``stage(text)`` says what is being done."""

    def __init__(self, console, total: int):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.completed = 0
        self._bar = Progress("[progress.description]{task.description}", BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), "eta",
                             TimeRemainingColumn(), console=console, transient=True,
                             disable=console.quiet or not console.is_terminal)
        self._task = self._bar.add_task("scoring", total=total)

    def __enter__(self) -> "_progress":
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def stage(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def advance_to(self, completed: int) -> None:
        self.completed = completed
        self._bar.update(self._task, completed=completed)


def _shown(path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _check_support(path, genome, cell: str, cell_col: str, label_col: str) -> None:
    """Validate the --support BEDPE (every line) and that the rows of ``cell`` (all rows
    when it has no cell column) hold labelled pairs of both classes, before torch loads.
    The support-size limits are checked with the model (as `prism adapt` checks them)."""
    import numpy as np

    from ..errors import PrismInputError
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
        raise PrismInputError(f"the support has a '{cell_col}' column with several cells but "
                         f"none named '{cell}'", str(path))
    else:
        neg, pos = next(iter(counts.values()))
    if pos == 0 or neg == 0:
        have = "no labelled pairs" if pos + neg == 0 else (
            "only positives" if pos else "only negatives")
        raise PrismInputError(f"the support set has {have} ({pos} positive, {neg} negative); "
                         "--support needs labelled pairs of both classes", str(path))


def _check_cells(pairs, genome, meta: dict, model_path, reg, cell, zero_shot: bool,
                 cell_col: str, label_col: str, support=None) -> _Input:
    """Validate PAIRS (every line) and the cells it will be scored in, before any work.

    Every cell must be a training cell or one registered by `prism adapt` (for this
    model); without --cell each line's own cell column is used, and an unknown or
    missing cell there is an error at that line. Only --zero-shot scores without a cell.
    With ``support`` (``--support``) the --cell name may be new: the support sets its
    environment.
    Returns what the pass learnt (:class:`_Input`): whether the input names cells that
    --cell/--zero-shot override (they are then kept in the output as ``input_cell``), its
    cells, its pairs per chromosome (how ``shard`` slices it) and whether it is labelled.
    """
    import math

    import numpy as np
    import pandas as pd

    from ..errors import PrismInputError
    from ..io.bed import BEDPE, TableReader
    from ..registry import is_known_cell, load_adapted, training_cells, unknown_cell
    from .common import model_checksum

    training = training_cells(meta)
    arch = (meta.get("model_config") or {}).get("arch", "prism")
    reader = TableReader(pairs, BEDPE, genome=genome, label_col=label_col)
    first_line: dict[str, int] = {}
    has_cells = False
    summary = _Input()
    counts = summary.counts
    for chunk in reader:
        for name, n in chunk["chrom1"].value_counts(sort=False).items():
            counts[name] = counts.get(name, 0) + int(n)
        if label_col in chunk and not summary.labelled:
            summary.labelled = bool((chunk[label_col].to_numpy() >= 0).any())
        if cell_col not in chunk:
            continue
        has_cells = True
        col = chunk[cell_col].to_numpy(dtype=str)
        for name in pd.unique(col):
            if name not in first_line:
                first_line[name] = int(chunk["_line"].iat[int(np.argmax(col == name))])
    summary.cells = list(first_line) if has_cells else ["."]
    if support and arch == "crossattn":
        raise PrismInputError("--support needs a PRISM model (a crossattn model has no cell "
                         "environment)", str(model_path))
    if zero_shot or arch == "crossattn":  # no environment: cells do not enter the scores
        summary.overridden = zero_shot and bool(set(first_line) - {"."})
        return summary
    if support:  # the support gives --cell's environment, whatever the name
        summary.overridden = bool(set(first_line) - {".", cell})
        return summary
    if cell:
        names = {cell: None}
    elif not has_cells:
        raise PrismInputError(f"no '{cell_col}' column and no --cell: give -c CELL (training cells "
                         f"{', '.join(training) or 'none'}) or --zero-shot", str(pairs))
    else:
        names = first_line
    checksum = None
    for name, line in names.items():
        if name == ".":
            raise PrismInputError(f"no cell for this pair ('.' in column '{cell_col}'): give -c "
                             "CELL or --zero-shot", str(pairs), line)
        if not is_known_cell(name, training, reg):
            raise unknown_cell(name, training, reg, str(pairs) if line else None, line)
        if name in training:
            continue
        record = load_adapted(reg, name)
        pi = record.get("pi")
        if not isinstance(pi, list) or not pi or not all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in pi):
            raise PrismInputError(f"adapted cell '{name}' has no finite environment 'pi'; re-run "
                             "`prism adapt`", str(reg / f"{name}.json"))
        checksum = checksum or model_checksum(model_path)
        if record.get("model_checksum") not in (None, checksum):
            raise PrismInputError(f"adapted cell '{name}' was registered with another model "
                             f"(checksum {str(record['model_checksum'])[:12]}, this model "
                             f"{checksum[:12]}); re-run `prism adapt` with this model",
                             str(reg / f"{name}.json"))
    summary.overridden = bool(cell) and bool(set(first_line) - {".", cell})
    return summary


def _with_input_cell(chunks, ds):
    """Chunks with the input's cell column kept as ``input_cell`` (after ``cell``)."""
    for frame in chunks:
        frame.insert(frame.columns.get_loc("cell") + 1, "input_cell",
                     ds.pairs["cell"].to_numpy(dtype=object)[frame.index.to_numpy()])
        yield frame
