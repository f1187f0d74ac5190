"""Numbers for the breadth and depth of attention.

Breadth of one attention row: its entropy, its effective span exp(entropy), its entropy
normalised to [0, 1], the mean distance it looks back. Depth: how far information travels
through stacked masked layers (receptive field, reachability), and measured through an
attention-only model by input gradients (gradient_receptive_field). Heads: how much each head
matters, by ablation (Michel et al., 2019), and what a head does: its previous-token and
induction scores (Olsson et al., 2022).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from attnbook.checks import require_float_tensor, require_positive_int
from attnbook.models.attention_only import AttentionOnlyTransformer
from attnbook.seeding import torch_generator
from attnbook.train import IGNORE_INDEX

__all__ = [
    "attention_entropy",
    "effective_span",
    "gradient_receptive_field",
    "head_importance",
    "induction_score",
    "input_gradient_norms",
    "mean_attention_distance",
    "normalized_entropy",
    "previous_token_score",
    "reachability",
    "receptive_field",
]


def _check_weights(weights: torch.Tensor) -> None:
    """Raise unless weights (..., n_k) is a float tensor of finite, non-negative rows summing to 1."""
    require_float_tensor("weights", weights)
    if weights.dim() < 1 or weights.shape[-1] == 0:
        raise ValueError(
            f"weights must have a non-empty last axis (..., n_k), got {tuple(weights.shape)}"
        )
    if bool((weights < 0).any()) or not bool(torch.isfinite(weights).all()):
        raise ValueError("weights must be finite and non-negative")
    row_sums = weights.sum(dim=-1)
    if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4):
        raise ValueError(
            f"each row of weights must sum to 1, got sums in [{row_sums.min().item():.4g}, "
            f"{row_sums.max().item():.4g}]"
        )


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of each attention row: weights (..., n_k) -> (...)."""
    _check_weights(weights)
    terms = torch.where(weights > 0, -weights * torch.log(weights.clamp_min(1e-300)), 0.0)
    return terms.sum(dim=-1)


def effective_span(weights: torch.Tensor) -> torch.Tensor:
    """exp(entropy): how many keys a row of weights (..., n_k) attends to 'in effect' -> (...)."""
    return torch.exp(attention_entropy(weights))


def normalized_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy / log(n_k), in [0, 1]: 0 for one-hot rows, 1 for uniform rows; (..., n_k) -> (...).

    With a single key (n_k = 1) every row is one-hot and the result is 0.
    """
    entropy = attention_entropy(weights)
    n_keys = weights.shape[-1]
    if n_keys == 1:
        return torch.zeros_like(entropy)
    return entropy / math.log(n_keys)


def mean_attention_distance(
    weights: torch.Tensor,
    query_positions: torch.Tensor | None = None,
    key_positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Expected |position_q - position_k| under each row of weights (..., n_q, n_k) -> (..., n_q).

    Positions default to 0..n_q-1 and 0..n_k-1; pass 1-D float tensors (n_q,), (n_k,) otherwise.
    """
    _check_weights(weights)
    if weights.dim() < 2:
        raise ValueError(
            f"weights must have at least 2 dimensions (..., n_q, n_k), got {tuple(weights.shape)}"
        )
    n_q, n_k = weights.shape[-2], weights.shape[-1]
    positions = []
    for name, given, size in (
        ("query_positions", query_positions, n_q),
        ("key_positions", key_positions, n_k),
    ):
        if given is None:
            positions.append(torch.arange(size, dtype=weights.dtype, device=weights.device))
            continue
        require_float_tensor(name, given)
        if given.shape != (size,):
            raise ValueError(
                f"{name} must have shape ({size},) for weights {tuple(weights.shape)}, "
                f"got {tuple(given.shape)}"
            )
        positions.append(given.to(weights.dtype))
    distance = (positions[0][:, None] - positions[1][None, :]).abs()
    return (weights * distance).sum(dim=-1)


def receptive_field(num_layers: int, window: int, length: int | None = None) -> int:
    """Positions one output sees through num_layers of causal window attention (window keys each).

    Each layer reaches window-1 positions further back, so L layers reach L·(W-1) positions back
    and see L·(W-1)+1 positions, the output's own position included. With `length` (the number
    of positions n of the sequence) the count is capped at n, which is all there is to see;
    without it the sequence is taken to be long enough.
    """
    require_positive_int("num_layers", num_layers)
    require_positive_int("window", window)
    field = num_layers * (window - 1) + 1
    if length is None:
        return field
    require_positive_int("length", length)
    return min(field, length)


def reachability(mask: torch.Tensor, num_layers: int) -> torch.Tensor:
    """Which inputs can influence which outputs after num_layers of the same bool mask (n, n) -> (n, n).

    Entry [i, j] is True when some chain i -> ... -> j of num_layers allowed attention steps
    exists. Residual connections are not assumed: pass a mask whose diagonal is True for them.
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
    if mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"mask must be square (n, n), got shape {tuple(mask.shape)}")
    require_positive_int("num_layers", num_layers)
    step = mask.to(torch.float64)
    reach = step.clone()
    for _ in range(num_layers - 1):
        reach = ((reach @ step) > 0).to(torch.float64)
    return reach > 0


def head_importance(
    loss_with_gates: Callable[[torch.Tensor], torch.Tensor],
    num_heads: int,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Loss increase when each head alone is switched off: gates (num_heads,) -> importance (num_heads,).

    `loss_with_gates(gates)` must return a scalar loss for a model whose head h output is
    multiplied by gates[h]; all ones is the intact model. Importance[h] is
    loss(gates with h set to 0) - loss(all ones): large means the model needs that head.
    """
    if not callable(loss_with_gates):
        raise TypeError(f"loss_with_gates must be callable, got {type(loss_with_gates).__name__}")
    require_positive_int("num_heads", num_heads)
    with torch.no_grad():
        gates = torch.ones(num_heads, device=device)
        base = loss_with_gates(gates)
        if not isinstance(base, torch.Tensor) or base.numel() != 1:
            raise ValueError(
                "loss_with_gates must return a scalar tensor, got "
                f"{type(base).__name__}{tuple(base.shape) if isinstance(base, torch.Tensor) else ''}"
            )
        importance = torch.empty(num_heads, device=gates.device)
        for head in range(num_heads):
            ablated = gates.clone()
            ablated[head] = 0.0
            importance[head] = loss_with_gates(ablated).reshape(()) - base.reshape(())
    return importance


def _check_square_weights(weights: torch.Tensor) -> None:
    """Raise unless weights is a float (B, H, T, T) attention tensor."""
    require_float_tensor("weights", weights)
    if weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must have shape (B, H, T, T), got {tuple(weights.shape)}")


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """Mean attention each head puts on the previous position: weights (B, H, T, T) -> (H,)."""
    _check_square_weights(weights)
    if weights.shape[-1] < 2:
        raise ValueError(f"need at least 2 positions, got weights {tuple(weights.shape)}")
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, 2))


def induction_score(
    weights: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean attention, at scored positions, on keys that follow an earlier copy of the current token: (H,).

    weights (B, H, T, T), tokens and targets (B, T) with IGNORE_INDEX (-100) at unscored positions; key j
    counts if tokens[j - 1] equals the query's current token.
    """
    _check_square_weights(weights)
    if tokens.shape != weights.shape[:1] + weights.shape[2:3] or targets.shape != tokens.shape:
        raise ValueError(
            f"tokens and targets must be (B, T) = {(weights.shape[0], weights.shape[2])}, got "
            f"{tuple(tokens.shape)} and {tuple(targets.shape)}"
        )
    previous = torch.nn.functional.pad(tokens[:, :-1], (1, 0), value=-1)  # tokens[j - 1]
    follows = previous[:, None, :] == tokens[:, :, None]  # (B, T_query, T_key)
    mass = (weights * follows[:, None]).sum(dim=-1)  # (B, H, T)
    scored = targets != IGNORE_INDEX
    if not bool(scored.any()):
        raise ValueError(f"targets has no scored position (all are {IGNORE_INDEX})")
    return mass.permute(1, 0, 2)[:, scored].mean(dim=1)


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
