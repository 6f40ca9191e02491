"""Errors about the user's input, raised by library code as plain exceptions.

Library code raises :class:`PrismInputError` (a ``ValueError`` carrying the file and line);
the command layer turns it into one line, ``file:line: problem``, a non-zero exit and no
traceback (:func:`as_click_errors`).
"""

from __future__ import annotations

import contextlib


class PrismInputError(ValueError):
    """Bad user input: ``problem``, in ``path`` (optional) at ``line`` (optional, 1-based).

    ``message`` is the text the user sees, ``path:line: problem``.
    """

    def __init__(self, problem: str, path: str | None = None, line: int | None = None):
        self.problem, self.path, self.line = problem, path, line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        self.message = where + problem
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@contextlib.contextmanager
def as_click_errors():
    """Inside the block, a PrismInputError becomes a ``click.ClickException`` (click prints
    ``Error: <message>`` and exits with status 1)."""
    import click

    try:
        yield
    except PrismInputError as err:
        raise click.ClickException(err.message) from None


def require_files(*checks: tuple[str | None, str]) -> None:
    """Fail fast, before heavy imports, on a missing input: ``(path, "BED")`` pairs
    (None paths skipped); the messages are those the readers give."""
    import os

    for path, kind in checks:
        if path is not None and str(path) != "-" and not os.path.exists(path):
            raise PrismInputError(f"{kind} file not found" if kind else "no such file", str(path))
