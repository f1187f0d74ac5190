"""Where a token is: sinusoidal positions, rotary embeddings (RoPE) and ALiBi biases.

Self-attention without positional information is permutation-equivariant: shuffling the inputs
shuffles the outputs the same way. Three ways to tell it the order:

* :func:`sinusoidal_positions` (Vaswani et al., 2017): a fixed table added to the embeddings.
* :func:`rotary` (Su et al., RoFormer): rotate queries and keys by an angle proportional to their
  position, so that a query-key dot product depends on the positions only through their offset.
* :func:`alibi_bias` (Press et al., 2022): no embedding at all; a penalty proportional to the
  distance is added to the attention scores, with a different slope per head.

Every tensor made here is made on the device (and in the dtype) of the input, or of the
``device``/``dtype`` given.
"""

from __future__ import annotations

import torch

from attnbook.checks import (
    require_float_tensor,
    require_min_dims,
    require_positive,
    require_positive_int,
)

__all__ = ["alibi_bias", "alibi_slopes", "rotary", "sinusoidal_positions"]


def _frequencies(d: int, base: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Angular frequencies base^(-2i/d) for i = 0 .. ceil(d/2)-1: shape (ceil(d/2),)."""
    exponents = torch.arange(0, d, 2, device=device, dtype=torch.float64) / d
    return (float(base) ** -exponents).to(dtype)


def sinusoidal_positions(
    n: int,
    d: int,
    base: float = 10000.0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Fixed position table (n, d): column 2i is sin(p / base^(2i/d)), column 2i+1 its cos."""
    n = require_positive_int("n", n)
    d = require_positive_int("d", d)
    base = require_positive("base", base)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    positions = torch.arange(n, device=device, dtype=torch.float64)
    angles = positions[:, None] * _frequencies(d, base, positions.device, torch.float64)[None, :]
    table = torch.empty(n, d, device=positions.device, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d // 2])
    return table.to(dtype)


def rotary(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    base: float = 10000.0,
) -> torch.Tensor:
    """Rotary position embedding of x (..., n, d), d even: same shape, pair (2i, 2i+1) turned by p·θ_i.

    θ_i = base^(-2i/d), the sinusoidal table's frequencies; `positions` (n,) or broadcastable to
    (..., n) default to 0 .. n-1. Pairs are *interleaved* (dimensions 2i and 2i+1), as in Su et al.;
    GPT-NeoX and Llama pair dimension i with i + d/2 ("split halves"), which is the same map up to a
    fixed permutation of the d dimensions, and a learned projection in front absorbs it.
    Position 0 is the identity, norms are kept, and rotary(q, p)·rotary(k, s) depends on p - s only.
    """
    require_float_tensor("x", x)
    require_min_dims("x", x, 2, "(..., n, d)")
    base = require_positive("base", base)
    n, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(f"rotary needs an even last dimension d to pair, got d = {d}")
    if positions is None:
        positions = torch.arange(n, device=x.device, dtype=x.dtype)
    else:
        if not isinstance(positions, torch.Tensor):
            raise TypeError(f"positions must be a torch.Tensor, got {type(positions).__name__}")
        if positions.shape[-1:] != (n,):
            raise ValueError(
                f"positions must end in the sequence length n = {n} of x {tuple(x.shape)}, "
                f"got shape {tuple(positions.shape)}"
            )
        positions = positions.to(device=x.device, dtype=x.dtype)
    angles = positions[..., None] * _frequencies(d, base, x.device, x.dtype)  # (..., n, d/2)
    cos, sin = torch.cos(angles), torch.sin(angles)
    even, odd = x[..., 0::2], x[..., 1::2]
    turned = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return turned.flatten(-2)


def alibi_slopes(
    n_heads: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """ALiBi's per-head slopes (n_heads,): head h gets 2^(-8 (h+1) / n_heads)."""
    n_heads = require_positive_int("n_heads", n_heads)
    exponents = torch.arange(1, n_heads + 1, device=device, dtype=torch.float64)
    return (2.0 ** (-8.0 * exponents / n_heads)).to(
        torch.get_default_dtype() if dtype is None else dtype
    )


def alibi_bias(
    n_heads: int,
    n_q: int,
    n_k: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """ALiBi's additive score bias (n_heads, n_q, n_k): -slope_h · |i - j|, zero on the diagonal.

    For a key j at or before query i this is Press et al.'s -slope·(i - j); keys after the query
    (seen only without a causal mask) get the symmetric penalty. When n_q < n_k the queries are
    the *last* n_q positions (query i sits at n_k - n_q + i), as when decoding with a key cache.
    """
    n_q = require_positive_int("n_q", n_q)
    n_k = require_positive_int("n_k", n_k)
    slopes = alibi_slopes(n_heads, device=device, dtype=torch.float64)
    queries = torch.arange(n_q, device=slopes.device, dtype=torch.float64) + (n_k - n_q)
    keys = torch.arange(n_k, device=slopes.device, dtype=torch.float64)
    distance = (queries[:, None] - keys[None, :]).abs()
    bias = -slopes[:, None, None] * distance[None] + 0.0  # + 0.0: no negative zeros
    return bias.to(torch.get_default_dtype() if dtype is None else dtype)
