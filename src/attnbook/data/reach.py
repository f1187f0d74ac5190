"""The first-token task: every position must output the sequence's first token.

With causal windowed attention a position t can only do so if its receptive field reaches back
t positions, so per-position accuracy measures how far a stack of layers actually sees.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int
from attnbook.data.induction import IGNORE_INDEX

__all__ = ["make_first_token_batch"]


def make_first_token_batch(
    batch_size: int,
    length: int,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens (B, T) and targets (B, T) with target[t] = token[0] for t >= 1 (-100 at t = 0)."""
    for name, value in (("batch_size", batch_size), ("length", length), ("vocab_size", vocab_size)):
        require_positive_int(name, value)
    if length < 2:
        raise ValueError(f"length must be >= 2 so that some position has a past, got {length}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    tokens = torch.randint(0, vocab_size, (batch_size, length), generator=generator)
    targets = tokens[:, :1].expand(batch_size, length).clone()
    targets[:, 0] = IGNORE_INDEX
    return tokens, targets
