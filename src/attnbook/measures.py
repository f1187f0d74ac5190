"""Numbers for the breadth and depth of attention: entropy, effective span, receptive field."""

from __future__ import annotations

import torch

from attnbook.checks import require_float_tensor, require_positive_int

__all__ = ["attention_entropy", "effective_span", "receptive_field"]


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of each attention row: weights (..., n_k) -> (...)."""
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
    terms = torch.where(weights > 0, -weights * torch.log(weights.clamp_min(1e-300)), 0.0)
    return terms.sum(dim=-1)


def effective_span(weights: torch.Tensor) -> torch.Tensor:
    """exp(entropy): how many keys a row of weights (..., n_k) attends to 'in effect' -> (...)."""
    return torch.exp(attention_entropy(weights))


def receptive_field(num_layers: int, window: int) -> int:
    """Positions one output sees through num_layers of causal window attention (window keys each).

    Each layer reaches window-1 positions further back, so L layers see L·(W-1)+1 positions,
    the output's own position included.
    """
    require_positive_int("num_layers", num_layers)
    require_positive_int("window", window)
    return num_layers * (window - 1) + 1
