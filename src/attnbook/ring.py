"""Ring attention: exact attention over a sequence split across the processes of a group.

Each of the P ranks holds one contiguous block of the sequence: q, k, v of shape
(..., n_local, d), rank r holding positions r·n_local .. (r+1)·n_local - 1. The key/value blocks
travel around the ring (rank r sends to r+1 and receives from r-1, point-to-point), and every rank
merges the partial softmax of its queries against each block it sees with the online-softmax rule
of chapter 9c (:func:`attnbook.efficient.online_softmax_merge`). After P - 1 hops each rank holds
its block of the exact output, and no rank ever held more than two key/value blocks or one
(n_local × n_local) score tile per head. The backward pass goes around the ring once more: the
key/value blocks travel with the gradient accumulators of their keys and values, each rank adds
its queries' contribution, and after P hops the accumulators are home (Liu et al. 2023,
"Ring Attention with Blockwise Transformers"). With ``causal=True`` rank r skips the blocks of
ranks after it and masks the diagonal block.

Exchanges are posted before the block is computed (``batch_isend_irecv``), so communication can
overlap computation. Gloo on CPU; the buffers are made on the inputs' device, so a backend for the
tensors' device (NCCL for CUDA) works the same way.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from attnbook.attention import check_qkv
from attnbook.checks import require_positive_int
from attnbook.efficient import online_softmax_merge
from attnbook.seeding import torch_generator

__all__ = ["free_port", "ring_attention", "ring_worker", "spawn_ring_attention"]


def _peer(group: dist.ProcessGroup | None, group_rank: int) -> int:
    """The global rank of group_rank in group (the default group: itself)."""
    return group_rank if group is None else dist.get_global_rank(group, group_rank)


def _pass_on(buffer: torch.Tensor, group: dist.ProcessGroup | None) -> tuple[torch.Tensor, list]:
    """Post send of buffer to rank + 1 and receive from rank - 1: -> (received buffer, requests)."""
    rank, size = dist.get_rank(group), dist.get_world_size(group)
    received = torch.empty_like(buffer)
    ops = [
        dist.P2POp(dist.isend, buffer, _peer(group, (rank + 1) % size), group),
        dist.P2POp(dist.irecv, received, _peer(group, (rank - 1) % size), group),
    ]
    return received, dist.batch_isend_irecv(ops)


def _block_scores(
    q: torch.Tensor, k: torch.Tensor, scale: float, causal: bool, source: int, rank: int
) -> torch.Tensor | None:
    """Scores (..., n_q, n_k) of q against the key block of rank `source`; None if all masked."""
    if causal and source > rank:
        return None
    scores = (q @ k.transpose(-2, -1)) * scale
    if causal and source == rank:
        n = q.shape[-2]
        allowed = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, -math.inf)
    return scores


class _RingAttention(torch.autograd.Function):
    """Forward and backward of ring attention; both pass key/value blocks around the ring."""

    @staticmethod
    def forward(ctx, q, k, v, causal, scale, group):  # type: ignore[override]
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        d_k = k.shape[-1]
        row_max = row_sum = acc = None
        kv = torch.cat([k, v], dim=-1).contiguous()
        for step in range(size):
            requests = []
            if step < size - 1:
                incoming, requests = _pass_on(kv, group)
            source = (rank - step) % size
            scores = _block_scores(q, kv[..., :d_k], scale, causal, source, rank)
            if scores is not None:
                block_max = scores.amax(dim=-1)
                probs = torch.exp(scores - block_max.unsqueeze(-1))
                block_acc = probs @ kv[..., d_k:]
                block_sum = probs.sum(dim=-1)
                if row_max is None:
                    row_max, row_sum, acc = block_max, block_sum, block_acc
                else:
                    new_max, row_sum = online_softmax_merge(row_max, row_sum, block_max, block_sum)
                    acc = acc * torch.exp(row_max - new_max).unsqueeze(-1) + block_acc * torch.exp(
                        block_max - new_max
                    ).unsqueeze(-1)
                    row_max = new_max
            for request in requests:
                request.wait()
            if step < size - 1:
                kv = incoming
        out = acc / row_sum.unsqueeze(-1)
        lse = row_max + row_sum.log()
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (causal, scale, group)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        q, k, v, out, lse = ctx.saved_tensors
        causal, scale, group = ctx.config
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        d_k, d_v = k.shape[-1], v.shape[-1]
        grad_out = grad_out.contiguous()
        delta = (grad_out * out).sum(dim=-1, keepdim=True)  # rowsum(dO ∘ O)
        grad_q = torch.zeros_like(q)
        # one travelling buffer: [k | v | dk | dv] of the block, the gradients accumulating
        travel = torch.cat([k, v, torch.zeros_like(k), torch.zeros_like(v)], dim=-1).contiguous()
        for step in range(size):
            source = (rank - step) % size
            block_k, block_v = travel[..., :d_k], travel[..., d_k : d_k + d_v]
            scores = _block_scores(q, block_k, scale, causal, source, rank)
            if scores is not None:
                probs = torch.exp(scores - lse.unsqueeze(-1))
                grad_scores = probs * (grad_out @ block_v.transpose(-2, -1) - delta)
                grad_q += (grad_scores @ block_k) * scale
                travel[..., 2 * d_k + d_v :] += probs.transpose(-2, -1) @ grad_out
                travel[..., d_k + d_v : 2 * d_k + d_v] += (
                    grad_scores.transpose(-2, -1) @ q
                ) * scale
            if size > 1:  # after P hops the gradients are home
                incoming, requests = _pass_on(travel, group)
                for request in requests:
                    request.wait()
                travel = incoming
        grad_k = travel[..., d_k + d_v : 2 * d_k + d_v].clone()
        grad_v = travel[..., 2 * d_k + d_v :].clone()
        return grad_q, grad_k, grad_v, None, None, None


def ring_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    group: dist.ProcessGroup | None = None,
) -> torch.Tensor:
    """This rank's block of exact softmax(q kᵀ/√d) v over the whole ring: q, k (..., n_local, d_k),
    v (..., n_local, d_v) -> (..., n_local, d_v).

    Rank r of `group` (default: the whole world) holds positions r·n_local .. (r+1)·n_local - 1
    of the sequence; every rank must pass blocks of one shape. Differentiable: gradients reach
    each rank's q, k and v as if full attention had run on one machine.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "ring_attention needs an initialised torch.distributed process group "
            "(dist.init_process_group); see attnbook.distributed.spawn_ring_attention"
        )
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    check_qkv(q, k, v)
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            "ring_attention needs q, k and v with one batch shape, got q "
            f"{tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"causal ring attention needs n_local queries == keys, got q {tuple(q.shape)} "
            f"and k {tuple(k.shape)}"
        )
    shape = torch.tensor([*q.shape, *k.shape, v.shape[-1]], dtype=torch.int64, device=q.device)
    shapes = [torch.empty_like(shape) for _ in range(dist.get_world_size(group))]
    dist.all_gather(shapes, shape, group=group)
    if any(not torch.equal(s, shape) for s in shapes):
        raise ValueError(
            "every rank must hold blocks of one shape (q shape, k shape, d_v), got "
            f"{[s.tolist() for s in shapes]}"
        )
    scale = 1.0 / math.sqrt(q.shape[-1])
    return _RingAttention.apply(q, k, v, causal, scale, group)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _full_inputs(config: dict[str, Any]) -> list[torch.Tensor]:
    """q, k, v and grad_out (batch, heads, n, d), identical on every rank (seeded)."""
    generator = torch_generator(config["seed"])
    shape = (config["batch"], config["heads"], config["n"], config["d"])
    dtype = getattr(torch, config["dtype"])
    return [torch.randn(shape, generator=generator, dtype=dtype) for _ in range(4)]


def ring_worker(
    rank: int, world_size: int, port: int, out_dir: str, config: dict, set_threads: bool = True
) -> None:
    """One process of `spawn_ring_attention`: ring attention on its block, checked, measured."""
    from attnbook.bench import peak_memory_bytes

    if set_threads:
        torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        q, k, v, grad_out = _full_inputs(config)
        block = config["n"] // world_size
        rows = slice(rank * block, (rank + 1) * block)
        local = [x[..., rows, :].clone().requires_grad_(True) for x in (q, k, v)]
        local_grad = grad_out[..., rows, :].clone()
        del grad_out

        def step() -> torch.Tensor:
            out = ring_attention(*local, causal=config["causal"])
            out.backward(local_grad)
            return out

        dist.barrier()
        peak = peak_memory_bytes(step)  # forward + backward of this rank, inputs not counted
        for x in local:
            x.grad = None
        out = step()
        full = [x.detach().clone().requires_grad_(True) for x in (q, k, v)]
        expected = F.scaled_dot_product_attention(*full, is_causal=config["causal"])
        expected.backward(_full_inputs(config)[3])
        errors = {"out": float((out.detach() - expected.detach()[..., rows, :]).abs().max())}
        for name, mine, ref in zip("qkv", local, full, strict=True):
            errors[f"grad_{name}"] = float((mine.grad - ref.grad[..., rows, :]).abs().max())
        result = {"rank": rank, "peak_bytes": peak, "max_error": errors}
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def spawn_ring_attention(
    world_size: int = 2,
    *,
    n: int = 256,
    d: int = 16,
    heads: int = 2,
    batch: int = 1,
    causal: bool = False,
    dtype: str = "float64",
    seed: int = 0,
    start_method: str = "spawn",
) -> list[dict[str, Any]]:
    """Run ring attention on world_size gloo processes (127.0.0.1): per rank its peak bytes of
    forward + backward and its max errors against full SDPA on the whole sequence.

    ``start_method="fork"`` (POSIX only) skips re-importing torch in every child: seconds faster;
    ``"inline"`` (world_size 1 only) runs the one-process ring in this process.
    """
    world_size = require_positive_int("world_size", world_size)
    for name, value in (("n", n), ("d", d), ("heads", heads), ("batch", batch)):
        require_positive_int(name, value)
    if n % world_size:
        raise ValueError(f"n = {n} must be divisible by world_size = {world_size}")
    if start_method not in ("spawn", "fork", "forkserver", "inline"):
        raise ValueError(
            f"start_method must be spawn, fork, forkserver or inline, got {start_method!r}"
        )
    if start_method == "inline" and world_size != 1:
        raise ValueError(f"start_method='inline' runs one process, got world_size = {world_size}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    config = {
        "n": n, "d": d, "heads": heads, "batch": batch, "causal": causal, "dtype": dtype,
        "seed": seed,
    }  # fmt: skip
    if start_method == "inline":  # this process is the whole ring: no child to start
        with tempfile.TemporaryDirectory() as tmp:
            ring_worker(0, 1, free_port(), tmp, config, set_threads=False)
            return [json.loads(Path(tmp, "rank0.json").read_text())]
    with tempfile.TemporaryDirectory() as tmp:
        env_threads = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            torch.multiprocessing.start_processes(
                ring_worker,
                args=(world_size, free_port(), tmp, config),
                nprocs=world_size,
                start_method=start_method,
            )
        finally:
            if env_threads is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = env_threads
        return [json.loads(Path(tmp, f"rank{r}.json").read_text()) for r in range(world_size)]
