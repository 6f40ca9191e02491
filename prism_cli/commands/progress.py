"""The progress bar of ``prism score`` (pairs scored, with ETA, on stderr)."""

from __future__ import annotations


class ScoreProgress:
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

    def __enter__(self) -> "ScoreProgress":
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def stage(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def advance_to(self, completed: int) -> None:
        self.completed = completed
        self._bar.update(self._task, completed=completed)
