"""Outputs that are complete or absent, and the one rule for ``--force``.

* :func:`check_writable` is the rule every command's ``--force`` follows: a missing output
  (or an empty folder) is written; an existing one is refused unless ``--force``; and
  ``--force`` replaces a folder only when PRISM wrote it (a dataset, a run directory, a
  model folder or a simulated world, recognised by the manifest PRISM writes into it:
  :func:`prism_output_kind`), never the working directory, one of its parents or the home
  directory, and never a folder holding one of the command's inputs.
* :func:`atomic_file` / :func:`atomic_dir` write one output to a temporary name beside it
  and rename it into place only when complete; :class:`OutputGroup` commits several files
  together (the scored BEDPE and its JSON sidecar).
* Every output is written under an exclusive lock file ``.NAME.lock`` beside it
  (``fcntl.flock``, released by the kernel when a process dies): a second process writing
  the same output is refused at once, the existence check is repeated under the lock
  just before the rename, and the lock holder removes the temporaries a killed run left
  (``.NAME.XXXXXXXX.tmp``, ``.NAME.runs.XXXXXXXX``).
* :func:`install_signal_cleanup` turns SIGTERM/SIGHUP into ``SystemExit``, so the
  temporaries are removed on the way out (SIGINT already raises KeyboardInterrupt).
* Output names ending in ``.gz``/``.bgz`` are written as BGZF (``bgzip``), which ``zcat``,
  ``tabix`` and pysam read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..errors import PrismInputError

BGZF_SUFFIXES = (".gz", ".bgz")
_HELD: dict[str, int] = {}  # locks this process holds (re-entrant), by output path


# --------------------------------------------------------------------------- --force rule

def _json_object(path: Path) -> dict | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(64 << 20))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prism_output_kind(path: str | Path) -> str | None:
    """What PRISM output the folder ``path`` is ("dataset", "run directory", "model
    folder", "simulated world"), or None when PRISM did not write it."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return None
    manifest = _json_object(path / "manifest.json")
    if manifest and manifest.get("format") == "prism-dataset":
        return "dataset"
    params = _json_object(path / "params.json")
    if params and params.get("format") == "prism-simulate":
        return "simulated world"
    config = _json_object(path / "config.json")
    if config and {"model", "train", "splits"} <= set(config):
        return "run directory"
    report = _json_object(path / "report.json")
    if report and report.get("format") == "prism-motifs":
        return "motif report"
    for name in ("best.json", "last.json", "model.json"):
        meta = _json_object(path / name)
        if meta and meta.get("format") == "prism-checkpoint":
            return "model folder"
    return None


def _protected(path: Path) -> str | None:
    """Why ``path`` may never be replaced (cwd, a parent of it, home, root), or None."""
    try:
        target = path.resolve()
    except OSError:
        return None
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        return "it is the working directory or one of its parents"
    if target == Path.home().resolve() or target == Path(target.anchor):
        return "it is the home or root directory"
    return None


def check_writable(path: str | Path, force: bool, directory: bool = False,
                   inputs=(), advice: str = "use --force to overwrite it") -> Path:
    """Refuse an output that may not be written; returns ``path`` as a Path.

    directory : the output is a folder (a dataset, a run, a world) rather than a file.
    inputs : the command's input paths; an output may not be one of them, and a folder
        output may not hold one.
    """
    path = Path(path)
    for inp in inputs:
        if inp is None or str(inp) == "-":
            continue
        inp = Path(inp)
        with contextlib.suppress(OSError):
            if path.exists() and inp.exists() and path.samefile(inp):
                raise PrismInputError("output would replace the input", str(path))
            if directory and path.is_dir() and path.resolve() in inp.resolve().parents:
                raise PrismInputError(f"the output folder holds the input {inp}; choose another "
                                      "output", str(path))
    if not (path.exists() or path.is_symlink()):
        return path
    if directory:
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            return path  # an empty folder holds nothing to lose
        if not force:
            raise PrismInputError(f"output exists; {advice}", str(path))
        why = _protected(path)
        if why is None and prism_output_kind(path) is None:
            why = ("it is not a folder PRISM wrote (no PRISM manifest, params.json or "
                   "config.json in it)")
        if why:
            raise PrismInputError(f"--force will not replace this: {why}; remove it yourself or "
                                  "choose another output", str(path))
        return path
    if path.is_dir():
        raise PrismInputError("output is a folder; give a file name", str(path))
    if not force:
        raise PrismInputError("output exists; use --force to overwrite it", str(path))
    return path


def remove_output_dir(path: str | Path, force: bool, inputs=(),
                      advice: str = "use --force to overwrite it") -> None:
    """Delete the folder output ``path`` after :func:`check_writable` allows it."""
    path = check_writable(path, force, directory=True, inputs=inputs, advice=advice)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)


# --------------------------------------------------------------------------- locking

def _stale_pattern(name: str) -> re.Pattern:
    # tempfile's random part: 8 characters of [a-z0-9_]
    return re.compile(rf"^\.{re.escape(name)}\.(?:[a-z0-9_]{{8}}\.tmp|runs\.[a-z0-9_]{{8}})$")


def remove_stale_temporaries(path: str | Path) -> int:
    """Remove the temporaries of ``path`` a killed run left; call only under its lock."""
    path = Path(path)
    pattern, n = _stale_pattern(path.name), 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            n += 1
    return n


def _key(path: Path) -> str:
    return str(path.parent.resolve() / path.name)


@contextlib.contextmanager
def output_lock(path: str | Path, also=()):
    """Hold the exclusive lock of output ``path`` (re-entrant within a process).

    Refuses at once when another process holds it. On acquiring, removes stale
    temporaries of ``path`` and of the paths in ``also`` (its companions, e.g. a sidecar).
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _key(path)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    lock = path.parent / f".{path.name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise PrismInputError(f"cannot write in the output's folder ({err.strerror})",
                                  str(path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PrismInputError("another prism process is writing this output now (lock "
                                  f"{lock.name}); wait for it to finish or choose another output",
                                  str(path)) from None
        except OSError:  # a file system without locks: go on unlocked
            break
        try:  # the previous holder may have unlinked the file between our open and flock
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    _HELD[key] = 1
    try:
        removed = sum(remove_stale_temporaries(p) for p in [path, *also] if p is not None)
        if removed:
            print(f"note: removed {removed} temporary file(s) left by an interrupted run "
                  f"writing {path}", file=sys.stderr)
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def install_signal_cleanup() -> None:
    """Make SIGTERM and SIGHUP raise SystemExit(128 + signal), so ``finally`` blocks remove
    temporaries; a second signal during the clean-up is ignored."""
    def handler(signum, frame):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, handler)


# --------------------------------------------------------------------------- writing

def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def is_bgzf_name(path: str | Path) -> bool:
    return str(path).endswith(BGZF_SUFFIXES)


def _bgzip(plain: str, path: Path) -> str:
    """BGZF-compress the temporary ``plain`` into another temporary; returns its name."""
    import pysam

    fd, gz = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pysam.tabix_compress(plain, gz, force=True)
        os.chmod(gz, 0o666 & ~_umask())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(gz)
        raise
    return gz


class OutputGroup:
    """Files written to temporaries and renamed into place together, under one lock.

    >>> with OutputGroup([bedpe, sidecar], force) as out:
    ...     out.open(bedpe).write(...); out.open(sidecar).write(...)
    ...     out.commit()          # re-checks, then renames the sidecar, then the BEDPE

    Without ``commit()`` (an error, a signal) every temporary is removed and nothing
    replaces the outputs. The first path is the primary one: its lock guards the group.
    """

    def __init__(self, paths, force: bool = False):
        self.paths = [Path(p) for p in paths if p is not None]
        self.force = force
        self._tmp: dict[Path, tuple[str, object]] = {}
        self._dirs: list[str] = []
        self._lock = None

    def __enter__(self) -> "OutputGroup":
        for p in self.paths:
            check_writable(p, self.force)
            p.parent.mkdir(parents=True, exist_ok=True)
        self._lock = output_lock(self.paths[0], also=self.paths[1:])
        self._lock.__enter__()
        return self

    def open(self, path: str | Path, mode: str = "w"):
        """A handle on the temporary of ``path`` (one of the group's paths)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())
        fh = os.fdopen(fd, mode)
        self._tmp[path] = (tmp, fh)
        return fh

    def scratch_dir(self) -> Path:
        """A scratch folder beside the primary output, removed when the group closes."""
        p = self.paths[0]
        d = tempfile.mkdtemp(prefix=f".{p.name}.runs.", dir=p.parent)
        self._dirs.append(d)
        return Path(d)

    def commit(self) -> None:
        for path, (tmp, fh) in list(self._tmp.items()):
            fh.close()
            if is_bgzf_name(path):
                gz = _bgzip(tmp, path)
                os.unlink(tmp)
                self._tmp[path] = (gz, fh)
        if not self.force:  # the existence check, repeated under the lock
            for path in self._tmp:
                if path.exists():
                    raise PrismInputError("output appeared while this command ran; use --force "
                                          "to overwrite it", str(path))
        order = [p for p in self._tmp if p != self.paths[0]]
        order += [p for p in self._tmp if p == self.paths[0]]
        for path in order:
            os.replace(self._tmp.pop(path)[0], path)

    def __exit__(self, *exc) -> None:
        try:
            for tmp, fh in self._tmp.values():
                with contextlib.suppress(OSError):
                    fh.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            for d in self._dirs:
                shutil.rmtree(d, ignore_errors=True)
        finally:
            self._tmp, self._dirs = {}, []
            self._lock.__exit__(*exc)


@contextlib.contextmanager
def atomic_file(path: str | Path, force: bool = False, mode: str = "w"):
    """Yield a temporary file handle in the target's folder; rename over ``path`` on success
    (BGZF-compressed first when ``path`` ends in .gz)."""
    with OutputGroup([path], force) as group:
        fh = group.open(path, mode)
        yield fh
        group.commit()


@contextlib.contextmanager
def atomic_dir(path: str | Path, force: bool = False, inputs=()):
    """Yield a temporary folder beside ``path``; it replaces ``path`` only on success."""
    path = check_writable(path, force, directory=True, inputs=inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        try:
            yield tmp
            check_writable(path, force, directory=True, inputs=inputs)  # under the lock
            if path.exists():
                # move the old output aside under a temporary name (removed as stale if
                # this process dies now), put the new one in place, then delete the old
                old = tempfile.mktemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                os.replace(path, old)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not path.exists():
                os.replace(old, path)
                old = None
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
