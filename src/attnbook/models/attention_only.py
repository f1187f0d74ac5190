"""Attention-only transformers (no MLPs), optionally windowed, and an attention vote readout.

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
    scaled_dot_product_attention,
    window_mask,
)
from attnbook.checks import (
    require_float_tensor,
    require_min_dims,
    require_positive,
    require_positive_int,
)
from attnbook.seeding import torch_generator

__all__ = [
    "AttentionOnlyTransformer",
    "attention_vote",
    "gradient_receptive_field",
    "induction_score",
    "input_gradient_norms",
    "previous_token_score",
]


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
        if d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
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
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch.Tensor, got {type(tokens).__name__}")
        if tokens.dtype != torch.long:
            raise TypeError(f"tokens must be int64 token ids, got dtype {tokens.dtype}")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
        if tokens.shape[1] > self.max_len:
            raise ValueError(f"sequence length {tokens.shape[1]} exceeds max_len={self.max_len}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}), got range "
                f"[{int(tokens.min())}, {int(tokens.max())}]"
            )
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


def input_gradient_norms(
    model: AttentionOnlyTransformer, length: int, *, position: int | None = None, seed: int = 0
) -> torch.Tensor:
    """|d output[position] / d input[j]| for every input position j: returns (T,) of L2 norms.

    The output is a fixed random projection of the logits at `position` (default last) for a
    random token sequence; a zero entry means input j cannot influence that output.
    """
    if not isinstance(model, AttentionOnlyTransformer):
        raise TypeError(f"model must be an AttentionOnlyTransformer, got {type(model).__name__}")
    require_positive_int("length", length)
    if length > model.max_len:
        raise ValueError(f"length={length} exceeds the model's max_len={model.max_len}")
    position = length - 1 if position is None else position
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < length:
        raise ValueError(f"position must be an int in [0, {length}), got {position!r}")
    generator = torch_generator(seed)
    tokens = torch.randint(0, model.vocab_size, (1, length), generator=generator)
    x = model.embed(tokens).detach().requires_grad_(True)
    probe = torch.randn(model.vocab_size, generator=generator)
    (model.forward_embeddings(x)[0, position] @ probe).backward()
    return x.grad[0].norm(dim=-1)


def gradient_receptive_field(
    model: AttentionOnlyTransformer, length: int, *, position: int | None = None, seed: int = 0
) -> int:
    """Positions whose input reaches the output at `position` (default last), measured by gradients.

    Returns position - (earliest input with a non-zero gradient) + 1, so the output's own
    position counts as one.
    """
    norms = input_gradient_norms(model, length, position=position, seed=seed)
    position = length - 1 if position is None else position
    return position - int((norms > 0).nonzero().flatten().min()) + 1


def _check_weights(weights: torch.Tensor) -> None:
    """Raise unless weights is a float (B, H, T, T) attention tensor."""
    require_float_tensor("weights", weights)
    if weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must have shape (B, H, T, T), got {tuple(weights.shape)}")


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """Mean attention each head puts on the previous position: weights (B, H, T, T) -> (H,)."""
    _check_weights(weights)
    if weights.shape[-1] < 2:
        raise ValueError(f"need at least 2 positions, got weights {tuple(weights.shape)}")
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, 2))


def induction_score(
    weights: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean attention, at scored positions, on keys that follow an earlier copy of the current token: (H,).

    weights (B, H, T, T), tokens and targets (B, T) with -100 at unscored positions; key j
    counts if tokens[j - 1] equals the query's current token.
    """
    _check_weights(weights)
    if tokens.shape != weights.shape[:1] + weights.shape[2:3] or targets.shape != tokens.shape:
        raise ValueError(
            f"tokens and targets must be (B, T) = {(weights.shape[0], weights.shape[2])}, got "
            f"{tuple(tokens.shape)} and {tuple(targets.shape)}"
        )
    previous = torch.nn.functional.pad(tokens[:, :-1], (1, 0), value=-1)  # tokens[j - 1]
    follows = previous[:, None, :] == tokens[:, :, None]  # (B, T_query, T_key)
    mass = (weights * follows[:, None]).sum(dim=-1)  # (B, H, T)
    scored = targets != -100
    if not bool(scored.any()):
        raise ValueError("targets has no scored position (all are -100)")
    return mass.permute(1, 0, 2)[:, scored].mean(dim=1)


def attention_vote(
    keys: torch.Tensor,
    labels: torch.Tensor,
    queries: torch.Tensor,
    num_classes: int,
    temperature: float,
) -> torch.Tensor:
    """Class probabilities (B, C): softmax(q·kᵀ / temperature)-weighted one-hot labels of N items.

    keys (B, N, d), labels (B, N) int64, queries (B, d); no learned parameters, so temperature is
    the only knob on how many items the answer averages over.
    """
    require_float_tensor("keys", keys)
    require_float_tensor("queries", queries)
    require_positive_int("num_classes", num_classes)
    require_positive("temperature", temperature)
    if keys.dim() != 3 or queries.shape != (keys.shape[0], keys.shape[2]):
        raise ValueError(
            f"keys must be (B, N, d) and queries (B, d), got {tuple(keys.shape)} and "
            f"{tuple(queries.shape)}"
        )
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long:
        raise TypeError("labels must be an int64 tensor of class ids (B, N)")
    if labels.shape != keys.shape[:2]:
        raise ValueError(
            f"labels must be (B, N) = {tuple(keys.shape[:2])}, got {tuple(labels.shape)}"
        )
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got max {int(labels.max())}")
    values = nn.functional.one_hot(labels, num_classes).to(keys.dtype)
    probs, _ = scaled_dot_product_attention(
        queries[:, None, :], keys, values, scale=1.0, temperature=temperature
    )
    return probs[:, 0, :]
