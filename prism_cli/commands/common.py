"""What every command shares: how options are spelt, stdin/stdout, conflicts, set-up.

Spellings (docs/commands/README.md): an option means one thing in every command, and a
short option is given only to those that mean the same thing wherever they appear (the
shared options themselves are in options.py).

Old spellings stay for one release as hidden aliases (:func:`option` ``aliases=``,
:func:`positional_alias`): they still work, and print a one-line deprecation note on
stderr.  ``-`` is standard input for BED/BEDPE inputs (:class:`InputPath`, read through
:func:`spooled_stdin`) and standard output for the BEDPE outputs of ``candidates`` and
``score`` (:class:`OutputPath`, written through :func:`stdout_target`).  Options that
exclude each other are declared on the command (:class:`Command` ``conflicts=``,
``requires=``) and rejected, exit code 2, before the command does any work.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import PrismInputError, as_click_errors

STDIN = "<stdin>"  # how a '-' input is named in messages and provenance
DEPRECATED_NOTE = "note: {old} is deprecated and will be removed in the next release; use {new}"


# --------------------------------------------------------------------------- spellings

def _given(opts, name: str) -> bool:
    """Whether the parser saw parameter ``name`` on the command line."""
    from click._utils import UNSET

    value = opts.get(name, UNSET)
    return value is not UNSET and value is not None and value != ()


def _spelling(param: click.Parameter) -> str:
    """The settled way to write ``param`` in messages: its long option, or its metavar."""
    if isinstance(param, click.Argument):
        return f"the positional {param.human_readable_name}"
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or param.opts)[0]


class SettledOption(click.Option):
    """An option that also answers to deprecated spellings (hidden parameters whose values
    it takes over, with a note on stderr). Giving both spellings is a usage error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.aliases: list[click.Parameter] = []

    def handle_parse_result(self, ctx, opts, args):
        used = [a for a in self.aliases if _given(opts, a.name)]
        if used:
            old = ", ".join(a.old_spelling for a in used)
            if _given(opts, self.name) or len(used) > 1:
                raise click.UsageError(f"{old} and {_spelling(self)} are one option (the "
                                       "first a deprecated spelling): give it once", ctx=ctx)
            click.echo(DEPRECATED_NOTE.format(old=old, new=_spelling(self)), err=True)
            opts = {**opts, self.name: opts[used[0].name]}
        return super().handle_parse_result(ctx, opts, args)


class _AliasOption(click.Option):
    """A hidden, deprecated spelling of a :class:`SettledOption` (which reads its value)."""

    def __init__(self, *args, old_spelling: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.old_spelling = old_spelling


class _AliasArgument(click.Argument):
    """A deprecated positional form of an option: not shown in usage or help."""

    def __init__(self, *args, old_spelling: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.old_spelling = old_spelling

    def get_usage_pieces(self, ctx) -> list[str]:
        return []


def option(*decls: str, aliases: tuple[str, ...] = (), **attrs):
    """``click.option`` with deprecated spellings ``aliases`` (e.g. ``("-p",)``) kept as
    hidden options for one release: they set the same parameter and print a note."""
    name = next(d for d in decls if not d.startswith("-"))

    def decorate(f):
        f = click.option(*decls, cls=SettledOption, **attrs)(f)
        settled = f.__click_params__[-1]
        for i, old in enumerate(aliases):
            alias_attrs = {k: attrs[k] for k in ("type", "is_flag", "flag_value") if k in attrs}
            f = click.option(old, f"{name}__alias{i}", cls=_AliasOption, old_spelling=old,
                             hidden=True, expose_value=False, default=None,
                             **alias_attrs)(f)
            settled.aliases.append(f.__click_params__[-1])
        return f
    return decorate


def positional_alias(target: str, metavar: str, type=None):
    """A deprecated positional argument standing for option ``target`` (which must be a
    :class:`SettledOption` declared with this decorator below it)."""
    def decorate(f):
        f = click.argument(f"{target}__positional", cls=_AliasArgument, required=False,
                           expose_value=False, metavar=metavar, type=type,
                           old_spelling=f"the positional {metavar}")(f)
        alias = f.__click_params__[-1]
        for p in f.__click_params__:
            if isinstance(p, SettledOption) and p.name == target:
                p.aliases.append(alias)
                break
        else:  # pragma: no cover - a programming error
            raise TypeError(f"positional_alias: no SettledOption {target!r} declared yet")
        return f
    return decorate


# --------------------------------------------------------------------------- conflicts

def was_given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave parameter ``name`` (not its default)."""
    source = ctx.get_parameter_source(name)
    value = ctx.params.get(name)
    return (source not in (None, ParameterSource.DEFAULT)
            and value is not None and value is not False and value != ())


class Command(click.Command):
    """A PRISM command: its conflicting options are rejected (exit code 2) before the
    command runs, as is more than one input read from standard input.

    conflicts : groups of parameter names of which at most one may be given.
    requires : (name, needed) pairs: giving ``name`` needs ``needed`` too.
    ``-v/--verbose`` with ``-q/--quiet`` is always a conflict.
    """

    def __init__(self, *args, conflicts=(), requires=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.conflicts = [tuple(g) for g in conflicts] + [("verbose", "quiet")]
        self.requires = [tuple(r) for r in requires]

    def _param(self, name: str) -> click.Parameter:
        return next(p for p in self.params if p.name == name)

    def invoke(self, ctx: click.Context):
        names = {p.name for p in self.params}
        for group in self.conflicts:
            given = [n for n in group if n in names and was_given(ctx, n)]
            if len(given) > 1:
                raise click.UsageError(" and ".join(_spelling(self._param(n)) for n in given)
                                       + " exclude each other", ctx=ctx)
        for name, needed in self.requires:
            if was_given(ctx, name) and not was_given(ctx, needed):
                raise click.UsageError(f"{_spelling(self._param(name))} needs "
                                       f"{_spelling(self._param(needed))}", ctx=ctx)
        dashes = [p for p in self.params if isinstance(p.type, InputPath)
                  and ctx.params.get(p.name) == "-"]
        if len(dashes) > 1:
            raise click.UsageError("only one input can be read from standard input ('-'), "
                                   "not " + " and ".join(_spelling(p) for p in dashes),
                                   ctx=ctx)
        with as_click_errors():
            return super().invoke(ctx)


def command(name: str, conflicts=(), requires=()):
    """``click.command`` of class :class:`Command`."""
    return click.command(name=name, cls=Command, conflicts=conflicts, requires=requires)


# --------------------------------------------------------------------------- paths

class InputPath(click.Path):
    """An input file; ``-`` is standard input when ``stdin`` (BED/BEDPE), else refused."""

    def __init__(self, what: str, stdin: bool = True):
        super().__init__(dir_okay=False, allow_dash=stdin)
        self.what, self.stdin = what, stdin

    def convert(self, value, param, ctx):
        if str(value) == "-" and not self.stdin:
            self.fail(f"the {self.what} cannot be read from standard input ('-'); give a "
                      "file", param, ctx)
        return super().convert(value, param, ctx)


class OutputPath(click.Path):
    """An output file or folder; ``-`` is standard output only when ``stdout``."""

    def __init__(self, folder: bool = False, stdout: bool = False):
        super().__init__(file_okay=not folder, dir_okay=folder, allow_dash=stdout)
        self.folder, self.stdout = folder, stdout

    def convert(self, value, param, ctx):
        if str(value) == "-" and not self.stdout:
            what = "a folder" if self.folder else "a file"
            self.fail("standard output ('-') is only for the BEDPE of `prism candidates` "
                      f"and `prism score`; give {what}", param, ctx)
        return super().convert(value, param, ctx)


@contextlib.contextmanager
def spooled_stdin(path, kind: str = "BEDPE"):
    """Yield ``path``; for ``-``, a temporary copy of standard input (the readers need a
    file they can read twice). Errors that name the copy name ``<stdin>`` instead
    (``<stdin>:17: start2 (5200) > end2 (5100)``); the copy is removed on the way out."""
    if path is None or str(path) != "-":
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="prism-stdin-")).resolve()
    spool = folder / "stdin"
    try:
        source = click.get_binary_stream("stdin")
        if source.isatty():
            click.echo(f"reading the {kind} from standard input (end it with Ctrl-D)",
                       err=True)
        with open(spool, "wb") as fh:
            shutil.copyfileobj(source, fh, 1 << 20)
        try:
            yield str(spool)
        except (click.ClickException, PrismInputError) as err:
            err.message = err.message.replace(str(spool), STDIN)
            raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def display_name(path) -> str | None:
    """How an input is recorded in provenance: ``<stdin>`` for ``-``, else its full path."""
    if path is None:
        return None
    return STDIN if str(path) == "-" else str(Path(path).resolve())


@contextlib.contextmanager
def stdout_target(out, name: str):
    """Yield the path to write ``out`` to: ``out`` itself, or, for ``-``, a file in a
    temporary folder whose finished content is copied to standard output on success
    (nothing reaches the pipe when the command fails). Companions written beside the
    temporary file (a sidecar) are discarded."""
    if str(out) != "-":
        yield out
        return
    folder = Path(tempfile.mkdtemp(prefix="prism-stdout-"))
    try:
        yield folder / name
        copy_to_stdout(folder / name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_to_stdout(path) -> None:
    """Copy a finished file to standard output; a closed pipe (``| head``) ends quietly."""
    import os

    stream = click.get_binary_stream("stdout")
    try:
        with open(path, "rb") as fh:
            shutil.copyfileobj(fh, stream, 1 << 20)
        stream.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141) from None  # 128 + SIGPIPE, as a shell reports it


def csv_names(text: str | None, option_name: str) -> list[str] | None:
    """Names of a comma-separated option (``--cells``, ``--chroms``); given but empty
    ("", ",") or with a name twice is an error, never "all" or a silent de-duplication."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise click.BadParameter(f"{text!r} names nothing (omit the option for the default)",
                                 param_hint=option_name)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(f"{','.join(twice)} listed twice", param_hint=option_name)
    return names


def consoles(quiet: bool):
    """(info, warn) rich consoles on stderr; ``info`` says nothing under ``-q/--quiet``."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet), Console(stderr=True)


# --------------------------------------------------------------------------- set-up

def load_model(model_path, device: str, threads: int | None):
    """The Checkpoint (checkpoint.py) for inference on the requested device, with torch's
    CPU threads set to ``threads`` when given."""
    import torch

    from ..checkpoint import Checkpoint

    if threads:
        torch.set_num_threads(threads)
    return Checkpoint.load(model_path, device)
