"""The `prism` command: a click group whose subcommands are imported only when run.

Each subcommand lives in ``prism_cli/commands/<name>.py`` as a click command called
``command``; importing them lazily keeps ``prism --help`` instant (no torch import).
"""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__

# name -> (module under prism_cli.commands, one-line help shown by `prism --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("simulate", "Synthetic genome, cell lines and labelled pairs with known truth."),
    "candidates": ("candidates", "Enhancer BED x promoter BED within a distance -> BEDPE."),
    "extract": ("extract", "FASTA + BEDPE (or BED + BED) -> on-disk dataset of base codes."),
    "train": ("train", "Train PRISM (or the crossattn baseline) on per-cell episodes."),
    "adapt": ("adapt", "Register an unseen cell line from a small labelled support BEDPE."),
    "score": ("score", "Score candidate pairs -> scored BEDPE (+ JSON provenance)."),
    "evaluate": ("evaluate", "Metrics and PR/ROC curves of a scored BEDPE with labels."),
    "motifs": ("motifs", "Motifs a model reads (MEME, JASPAR matches, effects on U_I and R)."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[name]
        cmd = importlib.import_module(f"prism_cli.commands.{module_name}").command
        cmd.short_help = short_help
        return cmd

    def invoke(self, ctx: click.Context):
        from .errors import as_click_errors

        with as_click_errors():  # also covers the parsing of a subcommand's options
            return super().invoke(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static help strings so `prism --help` never imports a command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="prism")
def main() -> None:
    """PRISM predicts enhancer-promoter interactions from DNA sequence and adapts to
    unseen cell lines from a few labelled pairs.

    Typical flow: simulate/candidates -> extract -> train -> adapt -> score -> evaluate.

    An option is spelled the same in every command (-g/--fasta, -p/--pairs, -o/--out,
    --device, --threads, --seed, --force, -v/--verbose, -q/--quiet), and '-' is standard
    input or output for BED/BEDPE, e.g.
    `prism candidates ... -o - | prism score -p - ... -o scored.bedpe`.
    """
    from .io.atomic import install_signal_cleanup

    install_signal_cleanup()  # SIGTERM/SIGHUP: remove temporaries on the way out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
