"""Slices of a pairs file by chromosome: which process scores which chromosomes, in
pieces of bounded size, and how the processes of a ``torchrun`` job meet.

    rank, world = rank_world()                   # RANK / WORLD_SIZE (torchrun), else 0, 1
    mine = assign(counts, world)[rank]           # this rank's chromosomes, balanced by pairs
    pieces = slices(mine, counts, max_pairs)     # whole chromosomes, <= max_pairs pairs each
    paths = write_slices(pairs, pieces, folder)  # each piece's lines of the pairs file
    with ProcessGroup() as group:                # torch.distributed, gloo backend
        folder = group.broadcast(folder)         # rank 0's value on every rank
        states = group.gather(state)             # every rank's value, on rank 0

Pairs never cross chromosomes (``prism extract`` refuses them), so a chromosome's scores
depend only on its own pairs and any split by chromosome gives the same output.  torchrun
starts the processes, restarts nothing and stops the others when one fails; this module
only decides the split.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
from pathlib import Path

from .io.bed import chrom_sort_key

SLICE_PAIRS = 2_000_000   # pairs held in memory at once, in whole chromosomes
TIMEOUT_HOURS = 24        # how long a rank waits for the others (gloo collectives)
_HEADER_PREFIXES = (b"#", b"track", b"browser")


def _natural(name: str) -> tuple:
    return (chrom_sort_key(name), name)


def rank_world() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) from the environment torchrun sets; (0, 1) outside it."""
    try:
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ValueError("RANK and WORLD_SIZE must be integers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK {rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE {world})")
    return rank, world


def assign(counts: dict[str, int], world: int) -> list[list[str]]:
    """Chromosomes of each rank: largest first to the rank with the fewest pairs so far
    (ties: the lower rank), each rank's list in natural order.  Deterministic: every
    rank computes the same split from the same counts (pairs per chromosome)."""
    loads = [0] * world
    ranks: list[list[str]] = [[] for _ in range(world)]
    for name in sorted(counts, key=lambda c: (-counts[c], _natural(c))):
        r = min(range(world), key=lambda i: (loads[i], i))
        ranks[r].append(name)
        loads[r] += counts[name]
    return [sorted(names, key=_natural) for names in ranks]


def slices(chroms: list[str], counts: dict[str, int], max_pairs: int = SLICE_PAIRS
           ) -> list[list[str]]:
    """``chroms`` cut, in order, into pieces of whole chromosomes with at most
    ``max_pairs`` pairs each (a larger chromosome is a piece of its own)."""
    pieces: list[list[str]] = []
    total = 0
    for name in chroms:
        if pieces and total + counts[name] <= max_pairs:
            pieces[-1].append(name)
            total += counts[name]
        else:
            pieces.append([name])
            total = counts[name]
    return pieces


def _open_binary(path):
    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb")
    fh.seek(0)
    return fh


def write_slices(path, pieces: list[list[str]], folder) -> list[Path]:
    """Copy the lines of each piece's chromosomes (column 1) into ``folder/slice.N.bedpe``.

    The header lines before the first data line go to every piece; later comment and
    blank lines, and lines of chromosomes in no piece, are dropped.  Lines keep their
    bytes and their order.  Returns the paths, one per piece.
    """
    folder = Path(folder)
    paths = [folder / f"slice.{i}.bedpe" for i in range(len(pieces))]
    target = {name.encode(): i for i, names in enumerate(pieces) for name in names}
    outs = [open(p, "wb", buffering=1 << 20) for p in paths]
    try:
        with _open_binary(path) as fh:
            header = True
            for line in fh:
                if not line.strip() or line.startswith(_HEADER_PREFIXES):
                    if header:
                        for out in outs:
                            out.write(line)
                    continue
                header = False
                tab = line.find(b"\t")
                i = target.get(line[:tab] if tab >= 0 else line.rstrip(b"\r\n"))
                if i is not None:
                    outs[i].write(line if line.endswith(b"\n") else line + b"\n")
    finally:
        for out in outs:
            out.close()
    return paths


class ProcessGroup:
    """The processes of a torchrun job, met through ``torch.distributed`` (gloo: it moves
    only small Python objects, whatever device the model runs on); a group of one
    outside torchrun.  Initialises the process group unless one exists, and closes
    only one it opened."""

    def __init__(self):
        self.rank, self.world = rank_world()
        self._opened = False

    def __enter__(self) -> "ProcessGroup":
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=_dt.timedelta(hours=TIMEOUT_HOURS))
                self._opened = True
        return self

    def __exit__(self, *exc) -> None:
        if self._opened:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._opened = False

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if self.world == 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list | None:
        """Every rank's ``obj`` in rank order, on rank 0 (None on the others)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0)
        return out
