"""Thin wrappers around the `prism` command line for the cross-cell benchmark.

The benchmark calls PRISM the way a user does (`prism train`, `prism adapt`,
`prism score`), so it measures what users run.  Each call's command line, wall time and
stderr tail go to a log file.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prism_cli.io.scored import read_scored_bedpe

BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "name", "score",
                 "strand1", "strand2"]


REPO = Path(__file__).resolve().parents[2]   # the checkout whose prism_cli is measured


class CommandFailed(RuntimeError):
    pass


def prism_env() -> dict:
    """The environment of every `prism` call: PYTHONPATH starts with ``REPO`` (this
    checkout), whatever the installed (editable or not) package points at."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in
                                                        env.get("PYTHONPATH", "").split(
                                                            os.pathsep) if p])
    return env


def run_prism(args: list[str], log_path: Path, _retries: int = 2) -> float:
    """Run ``prism ARGS``; append the command, wall and CPU time and the output tail to
    ``log_path``.

    Returns the wall time in seconds (the CPU time of the child, user + system, is
    logged: on a shared machine it is the comparable number); raises CommandFailed with
    the output tail on a non-zero exit.
    """
    import os

    cmd = ["prism"] + [str(a) for a in args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=prism_env())
    output = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    tail = "\n".join(output.strip().splitlines()[-40:])
    with open(log_path, "a") as fh:
        fh.write(f"$ {shlex.join(cmd)}\n# exit {proc.returncode}, {seconds:.1f} s wall, "
                 f"{cpu:.1f} s CPU\n{tail}\n\n")
    if proc.returncode != 0:
        if _retries and ("ModuleNotFoundError" in output or "ImportError" in output):
            # the package was being reinstalled under us (seen on a shared machine)
            time.sleep(60)
            return run_prism(args, log_path, _retries - 1)
        raise CommandFailed(f"{shlex.join(cmd)} failed (exit {proc.returncode}):\n{tail}")
    return seconds


def write_bedpe(pairs: pd.DataFrame, rows: np.ndarray, path: Path, cell=None,
                extra: dict | None = None) -> Path:
    """Write dataset pairs ``rows`` as a BEDPE with a header (``cell``, ``label``, ``row`` and
    any ``extra`` columns after the 10 standard ones).

    cell : None keeps each pair's cell; a string replaces it for every row.
    """
    sub = pairs.iloc[rows]
    out = sub[BEDPE_COLUMNS].copy()
    out["cell"] = sub["cell"].to_numpy() if cell is None else cell
    out["label"] = sub["label"].to_numpy()
    out["row"] = np.asarray(rows, dtype=np.int64)
    for k, v in (extra or {}).items():
        out[k] = v
    with open(path, "w") as fh:
        fh.write("#" + "\t".join(out.columns) + "\n")
        out.to_csv(fh, sep="\t", header=False, index=False)
    return path


def concat_bedpe(parts: list[Path], path: Path) -> Path:
    """Concatenate BEDPE files written by ``write_bedpe`` (same columns) into one."""
    with open(path, "w") as out:
        for i, p in enumerate(parts):
            with open(p) as fh:
                header = fh.readline()
                if i == 0:
                    out.write(header)
                out.write(fh.read())
    return path


def train(data: Path, cells: list[str], val_chroms: list[str], test_chroms: list[str],
          arch: str, config: dict, seed: int, out: Path, log: Path, threads: int | None,
          device: str = "auto") -> float:
    """`prism train` into ``out`` (replaced if it exists).  Returns wall seconds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = out.parent / f"{out.name}.config.json"
    cfg_path.write_text(json.dumps(config, indent=1))
    args = ["train", "--data", data, "--cells", ",".join(cells), "--val-chroms",
            ",".join(val_chroms), "--test-chroms", ",".join(test_chroms), "--arch", arch,
            "--config", cfg_path, "--seed", seed, "--device", device, "-o", out, "--force",
            "-q"]
    if threads:
        args += ["--threads", threads]
    return run_prism(args, log)


def adapt(run_dir: Path, support: Path, fasta: Path, name: str, registry: Path, seed: int,
          log: Path, threads: int | None, device: str = "auto") -> dict:
    """`prism adapt`; returns the registered record (JSON)."""
    args = ["adapt", "-m", run_dir, "-s", support, "-g", fasta, "-c", name, "--registry",
            registry, "--seed", seed, "--device", device, "--force"]
    if threads:
        args += ["--threads", threads]
    run_prism(args, log)
    return json.loads((registry / f"{name}.json").read_text())


def score(run_dir: Path, pairs: Path, fasta: Path, out: Path, log: Path,
          registry: Path | None, threads: int | None, device: str = "auto",
          zero_shot: bool = False) -> pd.DataFrame:
    """`prism score` (each row in its own cell column's environment); the scored table."""
    args = ["score", pairs, "-m", run_dir, "-g", fasta, "-o", out, "--device", device,
            "--force"]
    if registry is not None:
        args += ["--registry", registry]
    if zero_shot:
        args.append("--zero-shot")
    if threads:
        args += ["--threads", threads]
    run_prism(args, log)
    return read_scored_bedpe(out)
