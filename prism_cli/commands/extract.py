"""`prism extract`: FASTA + BEDPE (or BED + BED) -> on-disk dataset."""

from __future__ import annotations

import time

import click

ANCHOR = click.Choice(["center", "start", "end", "five_prime"])


@click.command(name="extract")
@click.option("-g", "--fasta", required=True, type=click.Path(dir_okay=False),
              help="Genome FASTA (plain or bgzip; .fai/.gzi built when missing).")
@click.option("-p", "--pairs", type=click.Path(dir_okay=False), default=None,
              help="Pairs BEDPE (side 1 enhancer, side 2 promoter; optional cell/label columns).")
@click.option("--enhancers", type=click.Path(dir_okay=False), default=None,
              help="Enhancer BED (instead of --pairs; with --promoters and --max-distance).")
@click.option("--promoters", type=click.Path(dir_okay=False), default=None,
              help="Promoter BED (instead of --pairs).")
@click.option("--max-distance", type=click.IntRange(min=1), default=None,
              help="With --enhancers/--promoters: largest centre distance in bp.")
@click.option("--cells", default=None, help="Comma-separated cells to keep (needs a cell column).")
@click.option("--cell", "default_cell", default=".", show_default=True,
              help="Cell name for every pair when the input has no cell column.")
@click.option("--cell-col", default="cell", show_default=True, help="Name of the cell column.")
@click.option("--label-col", default="label", show_default=True, help="Name of the label column.")
@click.option("--enhancer-length", default=3000, show_default=True, type=click.IntRange(min=1),
              help="Enhancer window length in bp.")
@click.option("--promoter-length", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Promoter window length in bp.")
@click.option("--enhancer-anchor", default="center", show_default=True, type=ANCHOR,
              help="Where the enhancer window sits on the element.")
@click.option("--promoter-anchor", default="center", show_default=True, type=ANCHOR,
              help="Where the promoter window sits (five_prime follows the strand).")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Output dataset folder.")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
def command(fasta, pairs, enhancers, promoters, max_distance, cells, default_cell, cell_col,
            label_col, enhancer_length, promoter_length, enhancer_anchor, promoter_anchor, out,
            force):
    """Extract fixed-length windows around each unique enhancer and promoter as uint8 base
    codes (memory-mapped), plus a pair table and a manifest. Bases beyond a chromosome's
    ends are N and counted."""
    import tempfile
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

    from ..errors import InputError
    from ..extract import WindowSpec, extract
    from ..io.atomic import atomic_dir, check_writable
    from ..io.fasta import Genome

    if bool(pairs) == bool(enhancers or promoters):
        raise click.UsageError("give either --pairs, or --enhancers with --promoters and "
                               "--max-distance")
    if not pairs and not (enhancers and promoters and max_distance):
        raise click.UsageError("--enhancers needs --promoters and --max-distance")
    check_writable(out, force)
    console = Console(stderr=True)
    genome = Genome(fasta)
    cell_list = [c.strip() for c in cells.split(",") if c.strip()] if cells else None
    espec = WindowSpec(enhancer_length, enhancer_anchor)
    pspec = WindowSpec(promoter_length, promoter_anchor)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prism-extract-") as tmp, \
            atomic_dir(out, force=force) as root:
        source = None
        if not pairs:
            from ..candidates import write_candidates

            pairs = str(Path(tmp) / "candidates.bedpe")
            with open(pairs, "w") as fh:
                n = write_candidates(enhancers, promoters, max_distance, fh, genome)
            if n == 0:
                raise InputError(f"no enhancer-promoter pairs within {max_distance} bp",
                                 enhancers)
            source = {"enhancers": str(Path(enhancers).resolve()),
                      "promoters": str(Path(promoters).resolve()), "max_distance": max_distance}
        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TimeElapsedColumn(), console=console,
                      transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("extracting", total=None)
            manifest = extract(genome, pairs, root, espec, pspec, cells=cell_list,
                               cell_col=cell_col, label_col=label_col,
                               default_cell=default_cell, source=source,
                               progress=lambda done, total: bar.update(task, completed=done,
                                                                       total=total))
    _summary(console, manifest, out, time.perf_counter() - t0)


def _summary(console, manifest: dict, out: str, seconds: float) -> None:
    from rich.table import Table

    table = Table(title=f"prism extract -> {out}")
    for col in ("cell", "pairs", "labelled", "pos", "prev", "enh", "prom", "N frac"):
        table.add_column(col, justify="left" if col == "cell" else "right")
    for cell, c in manifest["cells"].items():
        prev = f"{c['positives'] / c['labelled']:.3f}" if c["labelled"] else "."
        table.add_row(cell, f"{c['pairs']:,}", f"{c['labelled']:,}", f"{c['positives']:,}",
                      prev, f"{c['enhancers']:,}", f"{c['promoters']:,}",
                      f"{c['n_fraction']:.4f}")
    table.add_row("[b]all[/]", f"{manifest['n_pairs']:,}", "", "", "",
                  f"{manifest['n_enhancers']:,}", f"{manifest['n_promoters']:,}",
                  f"{manifest['n_fraction']:.4f}")
    console.print(table)
    console.print(f"windows {manifest['enhancer_length']} / {manifest['promoter_length']} bp; "
                  f"{manifest['n_outside']:,} bases beyond chromosome ends set to N; "
                  f"{manifest['n_pairs'] / max(seconds, 1e-9):,.0f} pairs/s")
