"""The options every command shares, one spelling each (docs/commands/README.md):

    -g/--fasta  -o/--out  -p/--pairs  -s/--support  -d/--data  -m/--model  -c/--cell
    --device  --threads  --seed  --force  -v/--verbose  -q/--quiet

Factories where the help text depends on the command; the spelling never does.
"""

from __future__ import annotations

import click

from ..errors import PrismInputError
from .common import InputPath, OutputPath, option


def fasta_option(required: bool = True,
                 help: str = "Genome FASTA the pairs' coordinates refer to."):
    return option("-g", "--fasta", "fasta", required=required, default=None,
                  type=InputPath("FASTA", stdin=False), help=help)


def out_option(help: str, folder: bool = False, stdout: bool = False, required: bool = True):
    return option("-o", "--out", "out", required=required, default=None,
                  type=OutputPath(folder=folder, stdout=stdout), help=help)


def pairs_option(help: str, required: bool = True, aliases=()):
    """``-p/--pairs``: the pairs BEDPE a command reads ('-' = standard input)."""
    return option("-p", "--pairs", "pairs", required=required, default=None,
                  type=InputPath("BEDPE"), aliases=aliases, help=help)


def support_option(help: str, required: bool = True):
    """``-s/--support``: labelled pairs of one cell ('-' = standard input)."""
    return option("-s", "--support", "support", required=required, default=None,
                  type=InputPath("BEDPE"), help=help)


def data_option(help: str, required: bool = True):
    return option("-d", "--data", "data", required=required, default=None,
                  type=click.Path(file_okay=False, exists=True), help=help)


def cell_option(help: str, required: bool = False, default=None, show_default=False):
    return option("-c", "--cell", "cell", required=required, default=default,
                  show_default=show_default, help=help)


def cells_option(help: str):
    """``--cells A,B``: a comma-separated list of cell names (see :func:`csv_names`)."""
    return option("--cells", "cells", default=None, metavar="A,B,...", help=help)


def enhancers_option(help: str = "Enhancer BED (>= 3 columns; name and strand used when "
                                 "present; '-' = standard input).",
                     required: bool = True, aliases=()):
    return option("--enhancers", "enhancers", required=required, default=None,
                  type=InputPath("BED"), aliases=aliases, help=help)


def promoters_option(help: str = "Promoter BED ('-' = standard input).",
                     required: bool = True, aliases=()):
    return option("--promoters", "promoters", required=required, default=None,
                  type=InputPath("BED"), aliases=aliases, help=help)


def max_distance_option(help: str = "Largest enhancer-promoter centre distance in bp.",
                        required: bool = True, aliases=(), default: int | None = None):
    return option("--max-distance", "max_distance", required=required, default=default,
                  show_default=default is not None, type=click.IntRange(min=1), metavar="BP",
                  aliases=aliases, help=help)


def label_col_option(help: str = "Name of the label column (0, 1, or '.' for unknown)."):
    return option("--label-col", "label_col", default="label", show_default=True, help=help)


def cell_col_option(help: str = "Name of the cell column."):
    return option("--cell-col", "cell_col", default="cell", show_default=True, help=help)


def seed_option(default: int | None = 0, help: str = "Random seed."):
    return option("--seed", "seed", type=int, default=default,
                  show_default=default is not None, help=help)


def force_option(help: str = "Replace an existing output (only one PRISM wrote, for "
                             "folders)."):
    return option("--force", "force", is_flag=True, help=help)


class ModelPath(click.ParamType):
    """A trained model: an existing path, or the name of a shipped model (shipped.py)."""

    name = "MODEL"

    def convert(self, value, param, ctx):
        from ..shipped import resolve_model

        try:
            return str(resolve_model(str(value)))
        except PrismInputError as err:
            self.fail(err.message, param, ctx)


model_option = option(
    "-m", "--model", "model_path", required=True, type=ModelPath(),
    help="Trained model: a `prism train` run folder, a model folder, a checkpoint file, "
         "or the name of a shipped model (e.g. prism-targetfinder5-hg19).")
registry_option = option(
    "--registry", "registry", type=click.Path(file_okay=False), default=None,
    help="Folder of adapted cells (default: the model folder's cells/).")
device_option = option("--device", "device", type=click.Choice(["auto", "cpu", "cuda"]),
                       default="auto", show_default=True,
                       help="Where to run the model (auto: cuda when available).")
threads_option = option("--threads", "threads", type=click.IntRange(min=1), default=None,
                        help="CPU threads for torch (default: torch's choice).")
feature_table_option = option(
    "--feature-table", "feature_table", type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Per-element feature table for a model trained with table:PATH features, when "
         "the table is no longer where training read it (it must list these pairs' "
         "elements and the model's columns).")
verbose_option = option("-v", "--verbose", "verbose", is_flag=True,
                        help="More progress and detail on stderr.")
quiet_option = option("-q", "--quiet", "quiet", is_flag=True,
                      help="Only warnings and errors on stderr (train: and its final summary "
                           "line).")


def verbosity_options(f):
    """``-v/--verbose`` and ``-q/--quiet`` (which exclude each other)."""
    return verbose_option(quiet_option(f))
