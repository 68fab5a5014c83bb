"""One training step on W gloo processes against the same step on one process with W times the batch."""

from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_step(make_objective: Callable, views: list, index: torch.Tensor, rank: int = 0, world: int = 1) -> dict:
    """Build the objective (seeded), take this rank's slice of the global batch, step, average as DDP does."""
    torch.manual_seed(0)
    objective = make_objective()
    per_rank = len(index) // world
    part = slice(rank * per_rank, (rank + 1) * per_rank)
    torch.manual_seed(1)  # the step's own randomness starts from the same state on every process
    loss, _ = objective.step([v[part] for v in views], index[part])
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in objective.named_parameters() if p.grad is not None}
    if world > 1:
        for g in grads.values():
            dist.all_reduce(g)
            g /= world
        loss = loss.detach().clone()
        dist.all_reduce(loss)
        loss /= world
    buffers = {n: b.detach().clone() for n, b in objective.named_buffers()}
    return {"loss": loss.detach(), "grads": grads, "buffers": buffers}


def _worker(rank: int, world: int, port: int, cases: dict, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # The plugins import lightly (and so torchvision) when an objective is built; a training process has built its
    # model before the process group exists (Lightning's order), so import them before it here too.
    import lightly.models.modules.heads  # noqa: F401
    import lightly.models.utils  # noqa: F401

    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        results = {name: one_step(*case, rank=rank, world=world) for name, case in cases.items()}
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


def distributed_steps(cases: dict, out: str, world: int = 2) -> dict:
    """``{name: (make_objective, views, index)}`` -> rank 0's averaged results per case."""
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))
    mp.spawn(_worker, args=(world, free_port(), cases, out), nprocs=world, join=True)
    return torch.load(out, weights_only=False)
