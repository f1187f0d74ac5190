"""Attention-only transformers (no MLPs), optionally windowed.

A stack of residual multi-head self-attention layers over token + learned position embeddings,
with pre-layer-norm and a linear unembedding: small enough to train on a CPU in seconds, and
every layer's attention weights are kept for inspection.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import (
    MultiHeadAttention,
    causal_mask,
    window_mask,
)
from attnbook.checks import (
    require_divisible,
    require_float_tensor,
    require_min_dims,
    require_positive_int,
    require_token_ids,
)

__all__ = ["AttentionOnlyTransformer"]


class AttentionOnlyTransformer(nn.Module):
    """Tokens (B, T) -> next-token logits (B, T, V) through L causal (or windowed) attention layers."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        *,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 1,
        window: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_len", max_len),
            ("d_model", d_model),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
        ):
            require_positive_int(name, value)
        if window is not None:
            require_positive_int("window", window)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.window = window
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.layers = nn.ModuleList(
            MultiHeadAttention(d_model, num_heads) for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, vocab_size)
        self.last_weights: list[
            torch.Tensor
        ] = []  # per layer (B, heads, T, T), from the last forward

    @property
    def num_layers(self) -> int:
        """Number of attention layers L."""
        return len(self.layers)

    def mask(self, length: int) -> torch.Tensor:
        """Bool mask (T, T): causal, or causal within the last `window` positions."""
        if self.window is None:
            return causal_mask(length)
        return window_mask(length, self.window)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token + position embeddings: tokens (B, T) int64 -> (B, T, d_model)."""
        require_token_ids("tokens", tokens, self.vocab_size, max_length=self.max_len)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token_embedding(tokens) + self.position_embedding(positions)

    def forward_embeddings(self, x: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
        """Logits (B, T, V) from embedded inputs x (B, T, d_model); stores each layer's weights."""
        require_float_tensor("x", x)
        require_min_dims("x", x, 3, "(batch, length, d_model)")
        mask = self.mask(x.shape[1])
        self.last_weights = []
        for norm, layer in zip(self.norms, self.layers, strict=True):
            update, weights = layer(norm(x), mask=mask, temperature=temperature)
            x = x + update
            self.last_weights.append(weights.detach())
        return self.unembed(self.final_norm(x))

    def forward(self, tokens: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
        """Next-token logits (B, T, V) for tokens (B, T); `attention` holds (B, H, T, T) per layer."""
        return self.forward_embeddings(self.embed(tokens), temperature=temperature)
