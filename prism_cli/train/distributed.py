"""One process per GPU under ``torchrun`` (DistributedDataParallel): each rank draws its
own episodes, DDP averages the gradients, rank 0 validates and writes.  Every function
here is a no-op (or the plain single-process answer) when WORLD_SIZE is 1."""

from __future__ import annotations

import os

import torch


def _dist_env() -> tuple[int, int, int]:
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this rank's device); joins the process group under torchrun."""
    import torch.distributed as dist

    rank, world, local = _dist_env()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    return rank, world, device


def barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist
        dist.barrier()


def wrap_ddp(module: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """``module`` itself on one process, else its DistributedDataParallel wrapper."""
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=True)


def param_checksums(model, world: int) -> list[float]:
    """Sum of every parameter (float64) on each rank: all equal when DDP keeps the
    replicas in step.  Logged per epoch under torchrun."""
    value = torch.tensor([sum(float(p.detach().double().sum()) for p in model.parameters())],
                         dtype=torch.float64, device=next(model.parameters()).device)
    if world == 1:
        return [float(value)]
    import torch.distributed as dist
    out = [torch.zeros_like(value) for _ in range(world)]
    dist.all_gather(out, value)
    return [float(v) for v in out]
