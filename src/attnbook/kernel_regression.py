"""Nadaraya–Watson kernel regression, written as attention pooling.

A prediction at a query point x is a weighted average of the training targets y_i, with
weights softmax_i(-‖x - x_i‖² / (2 h²)): the training inputs are the keys, their targets
the values, and the bandwidth h sets how broadly each query attends.
"""

from __future__ import annotations

import torch

from attnbook.attention import masked_softmax
from attnbook.checks import require_finite, require_float_tensor, require_positive

__all__ = [
    "gaussian_as_dot_product",
    "gaussian_kernel_scores",
    "leave_one_out_error",
    "nadaraya_watson",
]


def _as_points(name: str, x: torch.Tensor) -> torch.Tensor:
    """Points (n,) or (n, d) as a float (n, d) matrix, checked."""
    require_float_tensor(name, x)
    if x.dim() not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"{name} must be non-empty, shaped (n,) or (n, d), got {tuple(x.shape)}")
    require_finite(name, x)
    return x[:, None] if x.dim() == 1 else x


def gaussian_kernel_scores(
    queries: torch.Tensor, keys: torch.Tensor, bandwidth: float
) -> torch.Tensor:
    """Scores -‖q - k‖² / (2 h²): queries (n_q,) or (n_q, d), keys (n,) or (n, d) -> (n_q, n)."""
    q = _as_points("queries", queries)
    k = _as_points("keys", keys)
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)} must have the same "
            "number of features d"
        )
    if q.dtype != k.dtype:
        raise TypeError(f"queries and keys must share a dtype, got {q.dtype} and {k.dtype}")
    bandwidth = require_positive("bandwidth", bandwidth)
    squared = (q[:, None, :] - k[None, :, :]).pow(2).sum(dim=-1)
    return -squared / (2.0 * bandwidth**2)


def nadaraya_watson(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    bandwidth: float,
    *,
    leave_one_out: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian-kernel regression: predictions (n_q,) or (n_q, d_v) and weights (n_q, n).

    keys (n,) or (n, d) are training inputs, values (n,) or (n, d_v) their targets. With
    leave_one_out=True the queries must be the keys themselves and query i may not attend to
    key i (the leave-one-out prediction used to choose the bandwidth).
    """
    scores = gaussian_kernel_scores(queries, keys, bandwidth)
    require_float_tensor("values", values)
    if values.dim() not in (1, 2) or values.shape[0] != scores.shape[1]:
        raise ValueError(
            f"values must be shaped (n,) or (n, d_v) with n = {scores.shape[1]} keys, "
            f"got {tuple(values.shape)}"
        )
    require_finite("values", values)
    mask = None
    if leave_one_out:
        if scores.shape[0] != scores.shape[1] or not torch.equal(
            _as_points("queries", queries), _as_points("keys", keys)
        ):
            raise ValueError(
                "leave_one_out needs queries identical to keys, got queries "
                f"{tuple(queries.shape)} and keys {tuple(keys.shape)}"
            )
        if scores.shape[0] < 2:
            raise ValueError("leave_one_out needs at least 2 keys")
        mask = ~torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    weights = masked_softmax(scores, mask)
    values_2d = values[:, None] if values.dim() == 1 else values
    predictions = weights @ values_2d.to(weights.dtype)
    return (predictions[:, 0] if values.dim() == 1 else predictions), weights


def leave_one_out_error(keys: torch.Tensor, values: torch.Tensor, bandwidth: float) -> float:
    """Mean squared leave-one-out error of Nadaraya–Watson on keys (n,) / (n, d), values (n,)."""
    predictions, _ = nadaraya_watson(keys, keys, values, bandwidth, leave_one_out=True)
    return (predictions - values).pow(2).mean().item()


def gaussian_as_dot_product(
    queries: torch.Tensor, keys: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augmented q̃ = [q, 1] (n_q, d+1) and k̃ = [k, -‖k‖²/2] (n, d+1).

    softmax(q̃ k̃ᵀ / h²) equals the Gaussian-kernel weights softmax(-‖q - k‖² / (2h²)),
    because the dropped term -‖q‖²/(2h²) is the same for every key of a query.
    """
    q = _as_points("queries", queries)
    k = _as_points("keys", keys)
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)} must have the same "
            "number of features d"
        )
    q_tilde = torch.cat([q, q.new_ones(q.shape[0], 1)], dim=1)
    k_tilde = torch.cat([k, -0.5 * k.pow(2).sum(dim=1, keepdim=True)], dim=1)
    return q_tilde, k_tilde
