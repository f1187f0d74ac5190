"""The multi-task trainer under torch.distributed: DistributedDataParallel + DistributedSampler, gloo, CPU.

Run on two processes with ``torchrun --nproc_per_node=2 -m attnbook.distributed --steps 20``.
Each process takes every ``world_size``-th example of each global batch (DistributedSampler
without shuffling), computes its local mean losses, and DDP averages the gradients, so that
``world_size`` processes take exactly the optimisation steps one process would take on the
whole global batch. ``spawn_losses`` runs the same thing from Python (torch.multiprocessing)
and ``single_process_losses`` is the one-process reference the tests compare against.

``ring_attention`` (from :mod:`attnbook.ring`) splits one sequence across the processes instead
of the batch: exact attention, forward and backward, with key/value blocks passed around a ring.

Only the loss-based weightings whose state is part of the model are exact here (``equal``):
uncertainty / GradNorm weights and DWA's loss statistics live outside the DDP model and would
need their own all-reduce.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from attnbook.checks import require_positive_int
from attnbook.data.multidigits import make_multidigits
from attnbook.models.multitask import HardSharingNet
from attnbook.mtl import Task, train_multitask
from attnbook.ring import ring_attention, spawn_ring_attention
from attnbook.seeding import manual_seed

__all__ = [
    "MultiTaskDDP",
    "main",
    "ring_attention",
    "single_process_losses",
    "spawn_losses",
    "spawn_ring_attention",
    "worker_losses",
]

TASKS = [Task("left", "classification"), Task("right", "classification")]


class MultiTaskDDP(DistributedDataParallel):
    """DistributedDataParallel that still exposes the wrapped model's shared_parameters()."""

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """The wrapped model's shared parameters."""
        return self.module.shared_parameters()


def _setup(steps: int, global_batch: int, world_size: int) -> tuple[torch.Tensor, list]:
    require_positive_int("steps", steps)
    require_positive_int("global_batch", global_batch)
    require_positive_int("world_size", world_size)
    if global_batch % world_size:
        raise ValueError(
            f"global_batch ({global_batch}) must be divisible by world_size ({world_size})"
        )
    x, left, right = make_multidigits("train", seed=0, n=steps * global_batch)
    return x, [left, right]


def _model(seed: int) -> HardSharingNet:
    manual_seed(seed)
    return HardSharingNet([("classification", 10), ("classification", 10)])


def single_process_losses(
    steps: int = 5, global_batch: int = 64, seed: int = 0, lr: float = 2e-3
) -> list[float]:
    """Mean total loss per step (steps,) of one process on consecutive global batches."""
    x, targets = _setup(steps, global_batch, 1)
    model = _model(seed)

    def batch(step: int) -> list[torch.Tensor]:
        rows = slice(step * global_batch, (step + 1) * global_batch)
        return [x[rows], *(t[rows] for t in targets)]

    history = train_multitask(
        model, x, targets, TASKS, epochs=steps, lr=lr, seed=seed, progress=False,
        batch_loader=batch, steps_per_epoch=1,
    )  # fmt: skip
    return [sum(r[f"loss/{t.name}"] for t in TASKS) for r in history.records]


def worker_losses(
    rank: int, world_size: int, steps: int = 5, global_batch: int = 64, seed: int = 0,
    lr: float = 2e-3,
) -> list[float]:  # fmt: skip
    """This process's global mean total loss per step (steps,), inside an initialised group."""
    x, targets = _setup(steps, global_batch, world_size)
    model = MultiTaskDDP(_model(seed))
    local = global_batch // world_size
    sampler = DistributedSampler(range(len(x)), num_replicas=world_size, rank=rank, shuffle=False)
    indices = torch.tensor(list(sampler))

    def batch(step: int) -> list[torch.Tensor]:
        rows = indices[step * local : (step + 1) * local]
        return [x[rows], *(t[rows] for t in targets)]

    history = train_multitask(
        model, x, targets, TASKS, epochs=steps, lr=lr, seed=seed, progress=False,
        batch_loader=batch, steps_per_epoch=1,
    )  # fmt: skip
    losses = torch.tensor([sum(r[f"loss/{t.name}"] for t in TASKS) for r in history.records])
    dist.all_reduce(losses)  # equal shard sizes: the mean of local means is the global mean
    return (losses / world_size).tolist()


def _spawned(rank: int, world_size: int, init_file: str, out_dir: str, steps: int, gb: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        losses = worker_losses(rank, world_size, steps, gb)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(losses))
    finally:
        dist.destroy_process_group()


def spawn_losses(world_size: int = 2, steps: int = 5, global_batch: int = 64) -> list[float]:
    """Run world_size processes (gloo, CPU) and return rank 0's global mean loss per step."""
    require_positive_int("world_size", world_size)
    _setup(steps, global_batch, world_size)
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "init")
        torch.multiprocessing.spawn(
            _spawned, args=(world_size, init_file, tmp, steps, global_batch), nprocs=world_size
        )
        per_rank = [json.loads(Path(tmp, f"rank{r}.json").read_text()) for r in range(world_size)]
    if any(losses != per_rank[0] for losses in per_rank):
        raise RuntimeError(f"ranks disagree on the global loss: {per_rank}")
    return per_rank[0]


def main(argv: list[str] | None = None) -> int:
    """Entry point for torchrun: prints the global mean loss per step on rank 0."""
    parser = argparse.ArgumentParser(prog="torchrun --nproc_per_node=2 -m attnbook.distributed")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    losses = worker_losses(rank, world, args.steps, args.global_batch)
    if rank == 0:
        print(f"world size {world}: loss per step " + ", ".join(f"{v:.4f}" for v in losses))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
