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
