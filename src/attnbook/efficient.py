"""Efficient attention: chunked online-softmax (flash-style), windowed (local) and linear attention.

`chunked_attention` computes exactly what `attnbook.attention.scaled_dot_product_attention`
computes, but walks over tiles of queries and keys with a running maximum and a running sum,
so its memory grows linearly in the sequence length: the full (n_q, n_k) score matrix is never
built, neither in the forward pass nor in the backward pass (which recomputes the tiles from the
saved log-sum-exp, as FlashAttention does). `windowed_attention` restricts every query to the
last `window` keys; `linear_attention` replaces exp(q·k) by a feature-map product φ(q)·φ(k),
normalised by φ(q)·Σφ(k). With φ = elu + 1 (Katharopoulos et al. 2020, the default) it is a
*different* model, not an approximation of softmax attention; with random features (Performer,
Choromanski et al. 2021) φ(q)·φ(k) estimates exp(q·k) without bias, so it approximates softmax
attention in expectation. `CausalAttentionLM` is a small attention-only language model whose
attention is either exact softmax (chunked) or linear, so the two can be trained on one task.

Shapes: queries (..., n_q, d_k), keys (..., n_k, d_k), values (..., n_k, d_v); ``...`` are
batch dimensions (for example batch, heads) that broadcast.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from attnbook.attention import check_mask, check_qkv, masked_softmax, score_scale, window_band
from attnbook.checks import (
    require_divisible,
    require_float_tensor,
    require_positive,
    require_positive_int,
    require_token_ids,
)

__all__ = [
    "DEFAULT_BLOCK_K",
    "DEFAULT_BLOCK_Q",
    "MIXERS",
    "CausalAttentionLM",
    "CausalSelfAttention",
    "chunked_attention",
    "elu_feature_map",
    "linear_attention",
    "online_softmax_merge",
    "windowed_attention",
]

# Tile sizes chosen by a sweep on a 2-core AMD EPYC (1 MiB L2 per core), n = 4096, d = 64,
# float32, 4 heads: 256 x 256 and 256 x 512 were fastest (within noise of 128 x 512); one
# (4, 256, 256) float32 score tile is 1 MiB. Chapter 9c's first exercise repeats the sweep.
DEFAULT_BLOCK_Q = 256
DEFAULT_BLOCK_K = 256


def _flatten(x: torch.Tensor, batch: torch.Size) -> torch.Tensor:
    """(..., n, d) broadcast to (*batch, n, d) and flattened to (B, n, d), copying only if needed."""
    full = x.expand(*batch, *x.shape[-2:])
    return full.reshape(-1, *x.shape[-2:])


TileMask = Callable[[int, int, int, int], "torch.Tensor | None"]


def _tile_mask_fn(
    mask: torch.Tensor | None,
    batch: torch.Size,
    n_q: int,
    n_k: int,
    causal: bool,
    device: torch.device,
) -> TileMask:
    """Return f(q0, q1, k0, k1) -> bool tile (B or 1, q1-q0, k1-k0) of allowed keys, or None."""
    full: torch.Tensor | None = None
    shared = True
    if mask is not None:
        lead = len(batch) + 2 - mask.dim()
        full = mask.reshape((1,) * lead + tuple(mask.shape))
        full = full.expand(*full.shape[:-2], n_q, n_k)
        shared = all(size == 1 for size in full.shape[:-2])

    def tile(q0: int, q1: int, k0: int, k1: int) -> torch.Tensor | None:
        allowed = None
        if full is not None:
            part = full[..., q0:q1, k0:k1]
            if shared:
                allowed = part.reshape(1, q1 - q0, k1 - k0)
            else:
                allowed = part.expand(*batch, q1 - q0, k1 - k0).reshape(-1, q1 - q0, k1 - k0)
        if causal and k1 - 1 > q0:  # the tile reaches above the diagonal
            rows = torch.arange(q0, q1, device=device).unsqueeze(1)
            cols = torch.arange(k0, k1, device=device).unsqueeze(0)
            below = (cols <= rows).unsqueeze(0)
            allowed = below if allowed is None else allowed & below
        return allowed

    return tile


def _key_end(q1: int, n_k: int, causal: bool) -> int:
    """Keys a query tile ending at q1 can see: all n_k, or 0..q1-1 under a causal mask."""
    return min(n_k, q1) if causal else n_k


LOG2_E = 1.0 / math.log(2.0)  # 2^(x·log2 e) = e^x; torch's exp2 is several times faster than exp


def _forward_tiles(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    tile_mask: TileMask,
    causal: bool,
    block_q: int,
    block_k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Online softmax: q (B, n_q, d), k (B, n_k, d), v (B, n_k, d_v) -> out, lse.

    q comes pre-scaled, with the factor log2 e: scores are in base-2
    units, every exponential is an exp2, and lse is each query row's
    base-2 log-sum-exp.
    """
    batch, n_q, _ = q.shape
    n_k, d_v = v.shape[1], v.shape[2]
    out = torch.empty(batch, n_q, d_v, dtype=q.dtype, device=q.device)
    lse = torch.empty(batch, n_q, dtype=q.dtype, device=q.device)
    k_t = k.transpose(1, 2)
    for q0 in range(0, n_q, block_q):
        q1 = min(q0 + block_q, n_q)
        q_tile = q[:, q0:q1]
        row_max = q.new_full((batch, q1 - q0, 1), -math.inf)
        acc = q.new_zeros(batch, q1 - q0, d_v)  # running Σ p v
        total = q.new_zeros(batch, q1 - q0, 1)  # running Σ p
        for k0 in range(0, _key_end(q1, n_k, causal), block_k):
            k1 = min(k0 + block_k, n_k)
            scores = torch.bmm(q_tile, k_t[:, :, k0:k1])
            allowed = tile_mask(q0, q1, k0, k1)
            if allowed is not None:
                scores.masked_fill_(~allowed, -math.inf)
            new_max = torch.maximum(row_max, scores.amax(dim=2, keepdim=True))
            reference = new_max
            if allowed is not None:  # nothing allowed yet: exp(-inf - 0) = 0
                reference = new_max.masked_fill(new_max == -math.inf, 0.0)
            scores.sub_(reference).exp2_()
            rescale = (row_max - reference).exp2_()
            total.mul_(rescale).add_(scores.sum(dim=2, keepdim=True))
            acc.mul_(rescale).baddbmm_(scores, v[:, k0:k1])
            row_max = new_max
        empty = total == 0
        out[:, q0:q1] = acc / total.masked_fill(empty, 1.0)
        lse[:, q0:q1] = (row_max + total.log2()).masked_fill_(empty, math.inf).squeeze(2)
    return out, lse


def _backward_tiles(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    tile_mask: TileMask,
    causal: bool,
    block_q: int,
    block_k: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of the tiled attention by recomputing each probability tile from lse: -> dq, dk, dv.

    With base-2 scores s2 = s · log2 e, the gradient for s2 is ln 2 · P ∘ (dO vᵀ - δ); the factor
    ln 2 is folded into the (small) query tile of dO.
    """
    n_q, n_k = q.shape[1], k.shape[1]
    grad_q = torch.zeros_like(q)
    grad_k = torch.zeros_like(k)
    grad_v = torch.zeros_like(v)
    delta = (grad_out * out).sum(dim=2, keepdim=True).mul_(math.log(2.0))  # ln 2 · rowsum(dO ∘ O)
    k_t = k.transpose(1, 2)
    v_t = v.transpose(1, 2)
    for q0 in range(0, n_q, block_q):
        q1 = min(q0 + block_q, n_q)
        q_tile, go_tile = q[:, q0:q1], grad_out[:, q0:q1]
        go_tile_ln2 = go_tile * math.log(2.0)
        for k0 in range(0, _key_end(q1, n_k, causal), block_k):
            k1 = min(k0 + block_k, n_k)
            probs = torch.bmm(q_tile, k_t[:, :, k0:k1])
            allowed = tile_mask(q0, q1, k0, k1)
            if allowed is not None:
                probs.masked_fill_(~allowed, -math.inf)
            probs.sub_(lse[:, q0:q1, None]).exp2_()
            grad_v[:, k0:k1].baddbmm_(probs.transpose(1, 2), go_tile)
            grad_scores = torch.bmm(go_tile_ln2, v_t[:, :, k0:k1])
            grad_scores.sub_(delta[:, q0:q1]).mul_(probs)
            grad_q[:, q0:q1].baddbmm_(grad_scores, k[:, k0:k1])
            grad_k[:, k0:k1].baddbmm_(grad_scores.transpose(1, 2), q_tile)
    return grad_q, grad_k, grad_v


class _ChunkedAttention(torch.autograd.Function):
    """Autograd wrapper: tiled forward, tiled backward that recomputes tiles (O(n) memory)."""

    @staticmethod
    def forward(ctx, q, k, v, tile_mask, causal, block_q, block_k):  # type: ignore[override]
        out, lse = _forward_tiles(q, k, v, tile_mask, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (tile_mask, causal, block_q, block_k)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        q, k, v, out, lse = ctx.saved_tensors
        grads = _backward_tiles(grad_out.contiguous(), q, k, v, out, lse, *ctx.config)
        return (*grads, None, None, None, None)


def chunked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    temperature: float = 1.0,
    causal: bool = False,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
) -> torch.Tensor:
    """softmax(scale · q kᵀ / temperature) v in tiles: q (..., n_q, d_k), k/v (..., n_k, d) -> (..., n_q, d_v).

    Same arguments as `attnbook.attention.scaled_dot_product_attention` (the weights are not
    returned) plus `causal` (query i sees keys 0..i, as torch's is_causal; combined with `mask`
    by AND) and the tile sizes. Never holds more than one (batch, block_q, block_k) score tile.
    """
    batch = check_qkv(q, k, v)
    temperature = require_positive("temperature", temperature)
    scale = score_scale(q.shape[-1], scale)
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    block_q = require_positive_int("block_q", block_q)
    block_k = require_positive_int("block_k", block_k)
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    check_mask(mask, torch.Size((*batch, n_q, n_k)))
    tile_mask = _tile_mask_fn(mask, batch, n_q, n_k, causal, q.device)
    q_flat = _flatten(q * (scale / temperature * LOG2_E), batch)
    out = _ChunkedAttention.apply(
        q_flat, _flatten(k, batch), _flatten(v, batch), tile_mask, causal, block_q, block_k
    )
    return out.reshape(*batch, n_q, d_v)


def online_softmax_merge(
    max_a: torch.Tensor,
    sum_a: torch.Tensor,
    max_b: torch.Tensor,
    sum_b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge two partial softmax statistics (max, Σ exp(x - max)), each (...,), into those of the union."""
    for name, tensor in (("max_a", max_a), ("sum_a", sum_a), ("max_b", max_b), ("sum_b", sum_b)):
        require_float_tensor(name, tensor)
    shapes = {tuple(t.shape) for t in (max_a, sum_a, max_b, sum_b)}
    if len(shapes) != 1:
        raise ValueError(
            "max_a, sum_a, max_b and sum_b must have one shape, got "
            f"{[tuple(t.shape) for t in (max_a, sum_a, max_b, sum_b)]}"
        )
    new_max = torch.maximum(max_a, max_b)
    return new_max, sum_a * torch.exp(max_a - new_max) + sum_b * torch.exp(max_b - new_max)


def windowed_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    *,
    scale: float | None = None,
    temperature: float = 1.0,
    block: int = 256,
) -> torch.Tensor:
    """Causal local attention, query i sees keys i-window+1..i: q, k (..., n, d_k), v (..., n, d_v) -> (..., n, d_v).

    Equals `scaled_dot_product_attention(q, k, v, window_mask(n, window))` but costs
    O(n · (block + window)) time and memory instead of O(n²).
    """
    batch = check_qkv(q, k, v)
    window = require_positive_int("window", window)
    block = require_positive_int("block", block)
    temperature = require_positive("temperature", temperature)
    scale = score_scale(q.shape[-1], scale)
    n = q.shape[-2]
    if k.shape[-2] != n:
        raise ValueError(
            f"windowed attention is self-attention: q {tuple(q.shape)} and k {tuple(k.shape)} "
            "must have the same number of positions"
        )
    q_scaled = q * (scale / temperature)
    pieces = []
    for q0 in range(0, n, block):
        q1 = min(q0 + block, n)
        k0 = max(0, q0 - window + 1)
        band = window_band(q0, q1, k0, q1, window, q.device)
        scores = q_scaled[..., q0:q1, :] @ k[..., k0:q1, :].transpose(-2, -1)
        pieces.append(masked_softmax(scores, band) @ v[..., k0:q1, :])
    return torch.cat(pieces, dim=-2).expand(*batch, n, v.shape[-1])


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1 > 0, elementwise on (..., d): the feature map of Katharopoulos et al. (2020)."""
    require_float_tensor("x", x)
    return F.elu(x) + 1.0


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map,
    chunk: int = 256,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Linear attention φ(q)(φ(k)ᵀv) / φ(q)Σφ(k): q (..., n_q, d_k), k/v (..., n_k, d) -> (..., n_q, d_v).

    Costs O(n · d_k · d_v) instead of O(n² · d). With `causal`, query i sums keys 0..i (needs
    n_q == n_k); it runs over chunks of `chunk` positions carrying the running sums.
    """
    batch = check_qkv(q, k, v)
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    if not callable(feature_map):
        raise TypeError(f"feature_map must be callable, got {type(feature_map).__name__}")
    chunk = require_positive_int("chunk", chunk)
    eps = require_positive("eps", eps)
    phi_q, phi_k = feature_map(q), feature_map(k)
    if phi_q.shape[:-1] != q.shape[:-1] or phi_k.shape[:-1] != k.shape[:-1]:
        raise ValueError(
            f"feature_map must keep all but the last dimension, got {tuple(phi_q.shape)} from "
            f"{tuple(q.shape)}"
        )
    if not causal:
        state = phi_k.transpose(-2, -1) @ v  # (..., d_phi, d_v)
        normaliser = phi_k.sum(dim=-2)  # (..., d_phi)
        numer = phi_q @ state
        denom = (phi_q * normaliser.unsqueeze(-2)).sum(dim=-1, keepdim=True)
        return (numer / (denom + eps)).expand(*batch, q.shape[-2], v.shape[-1])
    n = q.shape[-2]
    if k.shape[-2] != n:
        raise ValueError(
            f"causal linear attention needs n_q == n_k, got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    state = q.new_zeros(*batch, phi_k.shape[-1], v.shape[-1])
    normaliser = q.new_zeros(*batch, 1, phi_k.shape[-1])
    pieces = []
    for c0 in range(0, n, chunk):
        c1 = min(c0 + chunk, n)
        fq, fk, vc = phi_q[..., c0:c1, :], phi_k[..., c0:c1, :], v[..., c0:c1, :]
        local = (fq @ fk.transpose(-2, -1)).tril()  # within the chunk: keys up to the query
        numer = fq @ state + local @ vc
        denom = (fq * normaliser).sum(dim=-1, keepdim=True) + local.sum(dim=-1, keepdim=True)
        pieces.append(numer / (denom + eps))
        state = state + fk.transpose(-2, -1) @ vc
        normaliser = normaliser + fk.sum(dim=-2, keepdim=True)
    return torch.cat(pieces, dim=-2)


MIXERS = ("softmax", "linear")


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention (B, T, d_model) -> (B, T, d_model), softmax or linear.

    `mixer="softmax"` computes exact attention (torch's fused SDPA, is_causal=True, which
    `chunked_attention(causal=True)` equals; the fused kernel is faster on short sequences);
    `mixer="linear"` computes `linear_attention(causal=True)` with φ = elu + 1. Everything else
    (projections, heads) is the same, so the two differ only in how the weights are formed.
    """

    def __init__(self, d_model: int, num_heads: int, *, mixer: str = "softmax") -> None:
        super().__init__()
        require_positive_int("d_model", d_model)
        require_positive_int("num_heads", num_heads)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        if mixer not in MIXERS:
            raise ValueError(f"unknown mixer {mixer!r}; known: {', '.join(MIXERS)}")
        self.d_model, self.num_heads, self.mixer = d_model, num_heads, mixer
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model); position t sees positions 0..t."""
        require_float_tensor("x", x)
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have shape (batch, length, d_model={self.d_model}), got {tuple(x.shape)}"
            )
        batch, length, _ = x.shape
        heads = self.qkv(x).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = heads[0], heads[1], heads[2]  # each (B, H, T, d_head)
        if self.mixer == "softmax":
            mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mixed = linear_attention(q, k, v, causal=True)
        return self.out_proj(mixed.transpose(1, 2).reshape(batch, length, self.d_model))


class CausalAttentionLM(nn.Module):
    """Tokens (B, T) -> next-token logits (B, T, V): L residual pre-norm causal attention layers, no MLPs.

    The same architecture as `attnbook.models.attention_only.AttentionOnlyTransformer`
    (token + learned position embeddings, pre-layer-norm, linear unembedding) with the
    attention of every layer chosen by `mixer`: "softmax" (exact) or "linear" (elu + 1).
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        *,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 1,
        mixer: str = "softmax",
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_len", max_len),
            ("num_layers", num_layers),
        ):
            require_positive_int(name, value)
        self.vocab_size, self.max_len, self.mixer = vocab_size, max_len, mixer
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.layers = nn.ModuleList(
            CausalSelfAttention(d_model, num_heads, mixer=mixer) for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, T, V) for int64 tokens (B, T) with 0 <= id < vocab_size."""
        require_token_ids("tokens", tokens, self.vocab_size, max_length=self.max_len)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        for norm, layer in zip(self.norms, self.layers, strict=True):
            x = x + layer(norm(x))
        return self.unembed(self.final_norm(x))
