"""Multi-query associative recall (MQAR, Arora et al. 2023): key-value pairs, then queries."""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int
from attnbook.data.induction import IGNORE_INDEX

__all__ = ["make_mqar_batch", "mqar_length"]


def mqar_length(num_pairs: int, num_queries: int) -> int:
    """Sequence length of an MQAR example: 2 tokens per pair plus one per query."""
    require_positive_int("num_pairs", num_pairs)
    require_positive_int("num_queries", num_queries)
    return 2 * num_pairs + num_queries


def make_mqar_batch(
    batch_size: int,
    num_pairs: int,
    num_queries: int,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, 2P+Q) = k1 v1 … kP vP q1 … qQ and targets (B, 2P+Q): the value at each query.

    Keys come from the lower half of the vocabulary (distinct within a sequence), values from
    the upper half (drawn with replacement); each query is one of the sequence's keys and its
    target is that key's value. Non-query positions have target -100.
    """
    for name, value in (
        ("batch_size", batch_size),
        ("num_pairs", num_pairs),
        ("num_queries", num_queries),
        ("vocab_size", vocab_size),
    ):
        require_positive_int(name, value)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    half = vocab_size // 2
    if num_pairs > half:
        raise ValueError(
            f"num_pairs={num_pairs} distinct keys need vocab_size >= {2 * num_pairs}, "
            f"got vocab_size={vocab_size}"
        )
    keys = torch.rand(batch_size, half, generator=generator).argsort(dim=1)[:, :num_pairs]
    values = torch.randint(half, 2 * half, (batch_size, num_pairs), generator=generator)
    which = torch.randint(0, num_pairs, (batch_size, num_queries), generator=generator)
    queries = keys.gather(1, which)
    length = mqar_length(num_pairs, num_queries)
    tokens = torch.empty(batch_size, length, dtype=torch.long)
    tokens[:, 0 : 2 * num_pairs : 2] = keys
    tokens[:, 1 : 2 * num_pairs : 2] = values
    tokens[:, 2 * num_pairs :] = queries
    targets = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)
    targets[:, 2 * num_pairs :] = values.gather(1, which)
    return tokens, targets
