"""Attention: score functions, masked softmax, scaled dot-product attention, multi-head attention.

Shapes follow one convention everywhere: queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``,
values ``(..., n_k, d_v)``, weights ``(..., n_q, n_k)``; ``...`` are batch dimensions that
broadcast. A boolean mask is True where a query may attend to a key.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attnbook.checks import (
    require_divisible,
    require_finite,
    require_float_tensor,
    require_min_dims,
    require_positive,
    require_positive_int,
)

__all__ = [
    "AdditiveScore",
    "MultiHeadAttention",
    "additive_score",
    "causal_mask",
    "check_bias",
    "check_mask",
    "check_qkv",
    "dot_score",
    "general_score",
    "masked_softmax",
    "scaled_dot_product_attention",
    "scaled_dot_score",
    "score_scale",
    "window_band",
    "window_mask",
]


def _check_query_key(q: torch.Tensor, k: torch.Tensor) -> None:
    """Validate q (..., n_q, d_k) against k (..., n_k, d_k): float, same dtype, matching d_k."""
    require_float_tensor("q", q)
    require_float_tensor("k", k)
    require_min_dims("q", q, 2, "(..., n_q, d_k)")
    require_min_dims("k", k, 2, "(..., n_k, d_k)")
    if q.dtype != k.dtype:
        raise TypeError(f"q and k must share a dtype, got q {q.dtype} and k {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d_k, got q {tuple(q.shape)} "
            f"and k {tuple(k.shape)}"
        )
    for name, tensor in (("q", q), ("k", k)):
        if tensor.numel() == 0:
            raise ValueError(f"{name} is empty: shape {tuple(tensor.shape)}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch dimensions of q {tuple(q.shape)} and k {tuple(k.shape)} do not broadcast"
        ) from None


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Size:
    """Validate q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v); return the batch shape.

    Metadata first (types, dtypes, shapes), then one finiteness pass over each input.
    """
    _check_query_key(q, k)
    require_float_tensor("v", v)
    require_min_dims("v", v, 2, "(..., n_k, d_v)")
    if v.dtype != q.dtype:
        raise TypeError(
            f"q, k and v must share a dtype, got q {q.dtype}, k {k.dtype} and v {v.dtype}"
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions n_k, got k {tuple(k.shape)} "
            f"and v {tuple(v.shape)}"
        )
    if v.numel() == 0:
        raise ValueError(f"v is empty: shape {tuple(v.shape)}")
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} "
            "do not broadcast"
        ) from None
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_finite(name, tensor)
    return batch


def score_scale(d_k: int, scale: float | None = None) -> float:
    """The factor of q kᵀ: 1/√d_k (Vaswani et al. 2017) unless `scale` is given (then > 0)."""
    return 1.0 / math.sqrt(d_k) if scale is None else require_positive("scale", scale)


def dot_score(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Dot-product scores q kᵀ: (..., n_q, d) x (..., n_k, d) -> (..., n_q, n_k)."""
    _check_query_key(q, k)
    return q @ k.transpose(-2, -1)


def scaled_dot_score(q: torch.Tensor, k: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Scaled dot-product scores q kᵀ · scale (default 1/√d_k): -> (..., n_q, n_k)."""
    _check_query_key(q, k)
    return (q @ k.transpose(-2, -1)) * score_scale(q.shape[-1], scale)


def general_score(q: torch.Tensor, k: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Luong's general (bilinear) scores q W kᵀ: q (..., n_q, d_q), W (d_q, d_k) -> (..., n_q, n_k)."""
    require_float_tensor("q", q)
    require_float_tensor("k", k)
    require_float_tensor("weight", weight)
    if weight.dim() != 2 or weight.shape != (q.shape[-1], k.shape[-1]):
        raise ValueError(
            f"weight must have shape (d_q, d_k) = ({q.shape[-1]}, {k.shape[-1]}) for q "
            f"{tuple(q.shape)} and k {tuple(k.shape)}, got {tuple(weight.shape)}"
        )
    return dot_score(q @ weight, k)


def additive_score(
    q: torch.Tensor,
    k: torch.Tensor,
    w_query: torch.Tensor,
    w_key: torch.Tensor,
    v_score: torch.Tensor,
) -> torch.Tensor:
    """Bahdanau's additive scores vᵀ tanh(q W_q + k W_k): q (..., n_q, d_q), k (..., n_k, d_k) -> (..., n_q, n_k)."""
    for name, tensor in (("q", q), ("k", k), ("w_query", w_query), ("w_key", w_key)):
        require_float_tensor(name, tensor)
    require_float_tensor("v_score", v_score)
    require_min_dims("q", q, 2, "(..., n_q, d_q)")
    require_min_dims("k", k, 2, "(..., n_k, d_k)")
    hidden = v_score.shape[-1] if v_score.dim() == 1 else -1
    if v_score.dim() != 1:
        raise ValueError(f"v_score must have shape (hidden,), got {tuple(v_score.shape)}")
    if w_query.shape != (q.shape[-1], hidden) or w_key.shape != (k.shape[-1], hidden):
        raise ValueError(
            f"w_query must be (d_q, hidden) = ({q.shape[-1]}, {hidden}) and w_key (d_k, hidden) = "
            f"({k.shape[-1]}, {hidden}), got {tuple(w_query.shape)} and {tuple(w_key.shape)}"
        )
    features = torch.tanh((q @ w_query).unsqueeze(-2) + (k @ w_key).unsqueeze(-3))
    return features @ v_score


class AdditiveScore(nn.Module):
    """Learned additive (Bahdanau) score: q (..., n_q, d_q), k (..., n_k, d_k) -> (..., n_q, n_k)."""

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        for name, value in (
            ("query_dim", query_dim),
            ("key_dim", key_dim),
            ("hidden_dim", hidden_dim),
        ):
            require_positive_int(name, value)
        self.query_proj = nn.Linear(query_dim, hidden_dim, bias=False)
        self.key_proj = nn.Linear(key_dim, hidden_dim, bias=False)
        self.score_vector = nn.Linear(hidden_dim, 1, bias=False)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Scores (..., n_q, n_k) from queries (..., n_q, d_q) and keys (..., n_k, d_k)."""
        return additive_score(
            q,
            k,
            self.query_proj.weight.T,
            self.key_proj.weight.T,
            self.score_vector.weight[0],
        )


def check_mask(mask: torch.Tensor | None, scores_shape: torch.Size) -> None:
    """Raise unless `mask` is None or a bool tensor broadcastable to scores_shape (..., n_q, n_k)."""
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
    _require_broadcasts_to_scores("mask", mask, scores_shape)


def _require_broadcasts_to_scores(
    name: str, tensor: torch.Tensor, scores_shape: torch.Size
) -> None:
    """Raise ValueError unless `tensor` broadcasts to scores_shape (..., n_q, n_k) unchanged."""
    try:
        broadcast = torch.broadcast_shapes(tensor.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    if broadcast != scores_shape:
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} does not broadcast to the scores' shape "
            f"(..., n_q, n_k) = {tuple(scores_shape)}"
        )


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis of scores (..., n_q, n_k), zero where mask is False.

    A row whose mask is all False gets all-zero weights (not NaN), and its gradient is zero.
    """
    require_float_tensor("scores", scores)
    require_min_dims("scores", scores, 1, "(..., n_k)")
    check_mask(mask, scores.shape)
    return _masked_softmax(scores, mask)


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The arithmetic of masked_softmax (inputs checked): (..., n_q, n_k) -> same."""
    if mask is None:
        return torch.softmax(scores, dim=-1)
    # the lowest float, not -inf: a row with no allowed key stays finite,
    # and the product with the mask then zeroes it
    lowest = torch.finfo(scores.dtype).min
    weights = torch.softmax(scores.masked_fill(~mask, lowest), dim=-1)
    return weights * mask


def _attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
    bias: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The arithmetic of scaled_dot_product_attention (inputs checked): out, weights."""
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)
    if bias is not None:
        scores = scores + bias
    weights = _masked_softmax(scores, mask)  # rows sum to 1 (or 0)
    return weights @ v, weights  # rows: weighted averages of values


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    temperature: float = 1.0,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(scale · q kᵀ / temperature + bias) v: output (..., n_q, d_v), weights (..., n_q, n_k).

    `scale` defaults to 1/√d_k. `mask` is bool, broadcastable to (..., n_q, n_k), True = may attend;
    a query with no key to attend to gets zero weights and a zero output. `bias` (optional, float,
    broadcastable to (..., n_q, n_k)) is added to the scores, e.g. ALiBi's distance penalty.
    """
    check_qkv(q, k, v)
    temperature = require_positive("temperature", temperature)
    scale = score_scale(q.shape[-1], scale) / temperature
    scores_batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    scores_shape = torch.Size((*scores_batch, q.shape[-2], k.shape[-2]))
    check_mask(mask, scores_shape)
    if bias is not None:
        check_bias(bias, scores_shape)
    return _attention(q, k, v, mask, scale, bias)


def check_bias(bias: torch.Tensor, scores_shape: torch.Size) -> None:
    """Raise unless `bias` is a finite float tensor broadcastable to scores_shape (..., n_q, n_k)."""
    require_float_tensor("bias", bias)
    _require_broadcasts_to_scores("bias", bias, scores_shape)
    require_finite("bias", bias)


def causal_mask(
    n_q: int, n_k: int | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """Bool mask (n_q, n_k): query i may attend to keys 0..i (top-left aligned, as torch's is_causal)."""
    n_q = require_positive_int("n_q", n_q)
    n_k = n_q if n_k is None else require_positive_int("n_k", n_k)
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


def window_mask(n: int, window: int, device: torch.device | None = None) -> torch.Tensor:
    """Bool mask (n, n) of causal local attention: position i sees i-window+1 .. i (window keys)."""
    n = require_positive_int("n", n)
    window = require_positive_int("window", window)
    return window_band(0, n, 0, n, window, device)


def window_band(
    q0: int, q1: int, k0: int, k1: int, window: int, device: torch.device | None = None
) -> torch.Tensor:
    """Bool (q1-q0, k1-k0): the part of window_mask for queries q0..q1-1 and keys k0..k1-1."""
    offset = torch.arange(q0, q1, device=device)[:, None] - torch.arange(k0, k1, device=device)
    return (offset >= 0) & (offset < window)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: query (B, n_q, d_model), key/value (B, n_k, d_model) -> (B, n_q, d_model)."""

    def __init__(self, d_model: int, num_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        require_positive_int("d_model", d_model)
        require_positive_int("num_heads", num_heads)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_head = d_model // num_heads
        self.query_proj = nn.Linear(d_model, d_model, bias=bias)
        self.key_proj = nn.Linear(d_model, d_model, bias=bias)
        self.value_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n, d_model) -> (B, heads, n, d_head)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        temperature: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return output (B, n_q, d_model) and per-head weights (B, heads, n_q, n_k).

        key and value default to query (self-attention). mask is bool, shaped (n_q, n_k),
        (B, n_q, n_k) or (B, heads, n_q, n_k), True = may attend.
        """
        key = query if key is None else key
        value = key if value is None else value
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            require_float_tensor(name, tensor)
            if tensor.dim() != 3 or tensor.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} must have shape (batch, length, d_model={self.d_model}), "
                    f"got {tuple(tensor.shape)}"
                )
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                f"{tuple(value.shape)} must share the batch size, and key and value the length"
            )
        if mask is not None and isinstance(mask, torch.Tensor) and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        check_mask(mask, torch.Size((query.shape[0], self.num_heads, query.shape[1], key.shape[1])))
        scale = score_scale(self.d_head) / require_positive("temperature", temperature)
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            require_finite(name, tensor)  # once here, not again on the projected heads
        q = self._split_heads(self.query_proj(query))
        k = self._split_heads(self.key_proj(key))
        v = self._split_heads(self.value_proj(value))
        heads, weights = _attention(q, k, v, mask, scale, None)
        merged = heads.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.d_model)
        return self.out_proj(merged), weights
