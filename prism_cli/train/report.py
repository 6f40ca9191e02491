"""What a training run tells the user and writes as text: the console (live progress on a
terminal, one line per epoch otherwise), RUN/log.jsonl records and RUN/val.tsv rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

VAL_COLUMNS = ["n", "n_pos", "prevalence", "aupr", "auroc", "spread", "bce", "aupr_teacher",
               "auroc_teacher", "aupr_zero_shot", "auroc_zero_shot", "aupr_u", "auroc_u", "pi_sd"]


class Reporter:
    """Live progress on a terminal (rich), one line per epoch otherwise."""

    def __init__(self, enabled: bool, verbose: bool):
        from rich.console import Console

        self.enabled = enabled
        self.verbose = verbose
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.progress = None

    def start(self, total_steps: int, done: int):
        if not self.live:
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}"), console=self.console,
                                 transient=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=total_steps, completed=done, info="")

    def step(self, info: str):
        if self.progress is not None:
            self.progress.update(self.task, advance=1, info=info)

    def line(self, text: str, style: str | None = None):
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.console.print(text, style=style, highlight=False)
        else:
            self.console.print(text, style=style, highlight=False, soft_wrap=True)

    def warn(self, text: str):
        # warnings are shown even when quiet
        if self.progress is not None:
            self.progress.console.print(f"WARNING: {text}", style="bold red", highlight=False)
        else:
            self.console.print(f"WARNING: {text}", style="bold red", highlight=False,
                               soft_wrap=True)

    def stop(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def table(self, val: dict, title: str):
        if not self.enabled or not val.get("cells"):
            return
        from rich.table import Table

        t = Table(title=title)
        for col in ("cell", "n", "prevalence", "AUPR", "AUROC", "spread", "AUPR teacher",
                    "AUPR zero-shot"):
            t.add_column(col, justify="right" if col != "cell" else "left")

        def f(x):
            return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) \
                else f"{x:.3f}"
        for name, m in val["cells"].items():
            t.add_row(name, str(m["n"]), f(m["prevalence"]), f(m["aupr"]), f(m["auroc"]),
                      f(m["spread"]), f(m.get("aupr_teacher")), f(m.get("aupr_zero_shot")))
        self.console.print(t)


def append_jsonl(path: Path, rec: dict) -> None:
    """One record as a line of RUN/log.jsonl."""
    with open(path, "a") as fh:
        fh.write(json.dumps(rec, default=float) + "\n")


def append_val_tsv(path: Path, epoch: int, val: dict, rho: dict) -> None:
    """One row per validated cell of an epoch (header first when the file is new)."""
    new = not path.exists()
    with open(path, "a") as fh:
        if new:
            fh.write("\t".join(["epoch", "cell"] + VAL_COLUMNS + ["rho", "collapse"]) + "\n")
        for name, m in val["cells"].items():
            row = [str(epoch), name] + [_fmt(m.get(k)) for k in VAL_COLUMNS]
            row += [_fmt(rho.get(name)), "yes" if name in val["collapse"] else "no"]
            fh.write("\t".join(row) + "\n")


def _fmt(x) -> str:
    if x is None:
        return "."
    if isinstance(x, float):
        return "nan" if not math.isfinite(x) else f"{x:.5g}"
    return str(x)


def fmt_step(rec: dict) -> str:
    """The console line of a logged step (``-v``)."""
    keys = ("loss", "main", "teacher", "distill", "adversary", "opportunist", "rho", "push",
            "pull", "T")
    parts = [f"{k} {rec[k]:.3f}" for k in keys if k in rec]
    return f"step {rec['step']}: " + " ".join(parts) + f" ({rec['pairs_per_s']:.0f} pairs/s)"


def fmt_epoch(epoch, epochs, train, val, improved) -> str:
    """The console line of an epoch: training loss means and validation means."""
    parts = [f"epoch {epoch}/{epochs}", f"loss {train.get('loss', math.nan):.4f}"]
    for k in ("main", "teacher", "rho", "push", "pull"):
        if k in train:
            parts.append(f"{k} {train[k]:.3f}")
    parts.append(f"val AUPR {val['mean_aupr']:.3f} (prev {val['mean_prevalence']:.3f}) "
                 f"AUROC {val['mean_auroc']:.3f}")
    if improved:
        parts.append("*best*")
    return "  ".join(parts)
