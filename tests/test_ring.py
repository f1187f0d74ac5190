"""Ring attention on 2 and 3 gloo processes equals full SDPA, forward and gradients (float64)."""

from __future__ import annotations

import pytest
import torch

from attnbook.distributed import ring_attention, spawn_ring_attention


@pytest.mark.parametrize(
    ("world_size", "causal", "start_method"),
    [(2, False, "spawn"), (2, True, "fork"), (3, False, "fork"), (3, True, "fork")],
)
def test_ring_equals_full_attention(world_size: int, causal: bool, start_method: str) -> None:
    ranks = spawn_ring_attention(
        world_size, n=60, d=8, heads=2, batch=2, causal=causal, start_method=start_method
    )
    assert [r["rank"] for r in ranks] == list(range(world_size))
    for rank in ranks:
        assert set(rank["max_error"]) == {"out", "grad_q", "grad_k", "grad_v"}
        assert max(rank["max_error"].values()) < 1e-12, rank


def test_per_rank_memory_shrinks_with_more_ranks() -> None:
    peaks = {
        p: max(r["peak_bytes"] for r in spawn_ring_attention(p, n=192, start_method="fork"))
        for p in (1, 3)
    }
    assert peaks[3] < 0.5 * peaks[1]


def test_inline_single_process_ring() -> None:
    (rank,) = spawn_ring_attention(1, n=40, d=8, causal=True, start_method="inline")
    assert max(rank["max_error"].values()) < 1e-12 and rank["peak_bytes"] > 0
    assert not torch.distributed.is_initialized()


def test_needs_a_process_group() -> None:
    x = torch.randn(4, 8)
    with pytest.raises(RuntimeError, match="init_process_group"):
        ring_attention(x, x, x)


BAD = [
    ({"world_size": 0}, ValueError, "world_size must be >= 1"),
    ({"world_size": 3, "n": 64}, ValueError, "n = 64 must be divisible by world_size = 3"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"start_method": "thread"}, ValueError, "start_method"),
    ({"world_size": 2, "start_method": "inline"}, ValueError, "inline"),
]


@pytest.mark.parametrize(("kwargs", "error", "fragment"), BAD)
def test_bad_spawn_arguments(kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        spawn_ring_attention(**kwargs)
