"""Two retrieval tasks for the breadth of focus: look up one exact item, or vote over many noisy ones.

Each example is a context of N items, each a key vector (d,) with a class label, and a query
vector (d,). A model answers with a class.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int

__all__ = ["make_exact_lookup", "make_noisy_vote"]


def _check(batch_size: int, num_items: int, dim: int, num_classes: int, noise: float) -> None:
    """Validate the shared arguments of the two generators."""
    for name, value in (
        ("batch_size", batch_size),
        ("num_items", num_items),
        ("dim", dim),
        ("num_classes", num_classes),
    ):
        require_positive_int(name, value)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")


def _unit(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Random unit vectors along the last axis."""
    x = torch.randn(shape, generator=generator)
    return x / x.norm(dim=-1, keepdim=True)


def make_exact_lookup(
    batch_size: int,
    num_items: int,
    dim: int,
    num_classes: int,
    *,
    noise: float = 0.3,
    similarity: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keys (B, N, d), labels (B, N), queries (B, d), targets (B,): the query is one item's key.

    Keys are unit vectors whose pairwise cosine is about `similarity` (0: independent random
    directions), each with its own random label; the query is one item's key plus Gaussian
    noise of total norm ≈ `noise`, and the answer is that one item's label.
    """
    _check(batch_size, num_items, dim, num_classes, noise)
    if isinstance(similarity, bool) or not isinstance(similarity, (int, float)):
        raise TypeError(f"similarity must be a number, got {type(similarity).__name__}")
    if not 0 <= similarity < 1:
        raise ValueError(f"similarity must lie in [0, 1), got {similarity}")
    centre = _unit((batch_size, 1, dim), generator)
    spread = _unit((batch_size, num_items, dim), generator)
    keys = similarity**0.5 * centre + (1 - similarity) ** 0.5 * spread
    keys = keys / keys.norm(dim=-1, keepdim=True)
    labels = torch.randint(0, num_classes, (batch_size, num_items), generator=generator)
    pick = torch.randint(0, num_items, (batch_size,), generator=generator)
    rows = torch.arange(batch_size)
    jitter = torch.randn(batch_size, dim, generator=generator) * (noise / dim**0.5)
    return keys, labels, keys[rows, pick] + jitter, labels[rows, pick]


def make_noisy_vote(
    batch_size: int,
    num_items: int,
    dim: int,
    num_classes: int,
    *,
    noise: float = 0.8,
    flip: float = 0.3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keys (B, N, d), labels (B, N), queries (B, d), targets (B,): the answer is a majority.

    Each class has a random unit prototype; an item's key is its class prototype plus noise of
    norm ≈ `noise`, and its label is its class, replaced by a random other class with
    probability `flip`. The query is a noisy point of a random class, which is the target: no
    single item is reliable, a vote over the query's neighbours is.
    """
    _check(batch_size, num_items, dim, num_classes, noise)
    if isinstance(flip, bool) or not isinstance(flip, (int, float)) or not 0 <= flip < 1:
        raise ValueError(f"flip must be a probability in [0, 1), got {flip!r}")
    prototypes = _unit((batch_size, num_classes, dim), generator)
    classes = torch.randint(0, num_classes, (batch_size, num_items), generator=generator)
    scale = noise / dim**0.5
    keys = prototypes.gather(1, classes[..., None].expand(-1, -1, dim))
    keys = keys + torch.randn(batch_size, num_items, dim, generator=generator) * scale
    shift = torch.randint(1, num_classes, (batch_size, num_items), generator=generator)
    flipped = torch.rand(batch_size, num_items, generator=generator) < flip
    labels = torch.where(flipped, (classes + shift) % num_classes, classes)
    targets = torch.randint(0, num_classes, (batch_size,), generator=generator)
    queries = prototypes[torch.arange(batch_size), targets]
    queries = queries + torch.randn(batch_size, dim, generator=generator) * scale
    return keys, labels, queries, targets
