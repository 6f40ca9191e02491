"""One-line user-facing errors: ``file:line: problem``, non-zero exit, no traceback."""

from __future__ import annotations

import click


class InputError(click.ClickException):
    """Bad user input. click prints ``Error: <message>`` and exits with status 1."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


def require_files(*checks: tuple[str | None, str]) -> None:
    """Fail fast, before heavy imports, on a missing input: ``(path, "BED")`` pairs
    (None paths skipped); the messages are those the readers give."""
    import os

    for path, kind in checks:
        if path is not None and str(path) != "-" and not os.path.exists(path):
            raise InputError(f"{kind} file not found" if kind else "no such file", str(path))
