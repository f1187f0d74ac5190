"""Induction and lag-copy sequences: next-token tasks whose answer sits earlier in the context.

Targets use -100 (PyTorch's ``ignore_index``) at positions that are not scored.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int
from attnbook.train import IGNORE_INDEX

__all__ = ["IGNORE_INDEX", "make_induction_batch", "make_lag_copy_batch"]


def _check_generator(generator: object) -> None:
    """Raise TypeError unless generator is a torch.Generator or None."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )


def make_induction_batch(
    batch_size: int,
    length: int,
    vocab_size: int,
    *,
    min_segment: int = 3,
    max_segment: int = 8,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens with one segment repeated later: tokens (B, T) and next-token targets (B, T).

    Tokens are drawn uniformly *with* replacement, the segment length is uniform in
    [min_segment, max_segment] and both copies sit at random places. Only positions inside
    the second copy are scored (target = the token that followed the same token in the first
    copy); every other target is -100.
    """
    for name, value in (
        ("batch_size", batch_size),
        ("length", length),
        ("vocab_size", vocab_size),
        ("min_segment", min_segment),
        ("max_segment", max_segment),
    ):
        require_positive_int(name, value)
    _check_generator(generator)
    if min_segment < 2 or min_segment > max_segment:
        raise ValueError(
            f"need 2 <= min_segment <= max_segment, got min_segment={min_segment}, "
            f"max_segment={max_segment}"
        )
    if 2 * max_segment > length:
        raise ValueError(
            f"two copies of max_segment={max_segment} tokens do not fit in length={length}"
        )
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    tokens = torch.randint(0, vocab_size, (batch_size, length), generator=generator)
    targets = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)
    seg = torch.randint(min_segment, max_segment + 1, (batch_size,), generator=generator)
    # first copy starts at a in [0, T - 2s], second at b in [a + s, T - s]
    a = (torch.rand(batch_size, generator=generator) * (length - 2 * seg + 1)).long()
    b = a + seg + (torch.rand(batch_size, generator=generator) * (length - a - 2 * seg + 1)).long()
    offset = torch.arange(length)[None, :] - b[:, None]
    in_copy = (offset >= 0) & (offset < seg[:, None])
    source = (a[:, None] + offset).clamp(0, length - 1)
    tokens = torch.where(in_copy, tokens.gather(1, source), tokens)
    scored = (offset >= 0) & (offset < seg[:, None] - 1)
    following = tokens.roll(-1, dims=1)
    targets = torch.where(scored, following, targets)
    return tokens, targets


def make_lag_copy_batch(
    batch_size: int,
    length: int,
    vocab_size: int,
    lag: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens (B, T) and targets (B, T) with target[t] = token[t - lag] (-100 for t < lag)."""
    for name, value in (
        ("batch_size", batch_size),
        ("length", length),
        ("vocab_size", vocab_size),
        ("lag", lag),
    ):
        require_positive_int(name, value)
    _check_generator(generator)
    if lag >= length:
        raise ValueError(f"lag must be < length, got lag={lag} and length={length}")
    tokens = torch.randint(0, vocab_size, (batch_size, length), generator=generator)
    targets = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)
    targets[:, lag:] = tokens[:, :-lag]
    return tokens, targets
