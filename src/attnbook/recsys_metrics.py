"""Ranking metrics for next-item recommendation: rank of the held-out item, HR@k and NDCG@k.

Every user has exactly one held-out item (leave-last-out), so the ideal DCG is 1 and
NDCG@k = 1 / log2(rank + 2) when the item's 0-based rank is below k, else 0.
Ties are broken pessimistically: an item tied with the target counts as ranked above it,
so a model that scores everything equally cannot look good by luck.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.checks import require_float_tensor, require_positive_int

__all__ = ["hit_rate_at_k", "last_position_scores", "ndcg_at_k", "target_ranks"]


@torch.no_grad()
def last_position_scores(
    model: nn.Module, histories: torch.Tensor, batch_size: int = 512
) -> torch.Tensor:
    """Scores (N, num_items) of a sequence recommender's last position for histories (N, L).

    model(histories) gives (N, L, num_items); it runs in eval mode, batch_size rows at a time,
    and is returned to the mode it was in.
    """
    require_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    scores = torch.cat(
        [model(histories[i : i + batch_size])[:, -1] for i in range(0, len(histories), batch_size)]
    )
    model.train(was_training)
    return scores


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank (N,) of each target item among scores (N, n_items); ties count against it."""
    require_float_tensor("scores", scores)
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (N, n_items), got {tuple(scores.shape)}")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64:
        dtype = targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise TypeError(f"targets must be an int64 tensor of item ids, got {dtype}")
    if targets.shape != scores.shape[:1]:
        raise ValueError(
            f"targets must have shape (N,) = ({scores.shape[0]},), got {tuple(targets.shape)}"
        )
    if bool(torch.isnan(scores).any()):
        raise ValueError("scores contain NaN")
    if len(targets) and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError(
            f"targets must be item ids in [0, {scores.shape[1]}), got range "
            f"[{targets.min().item()}, {targets.max().item()}]"
        )
    target_scores = scores.gather(1, targets[:, None])
    above_or_tied = (scores >= target_scores).sum(dim=1)
    return above_or_tied - 1  # the target itself is not above itself


def _check_ranks_k(ranks: torch.Tensor, k: int) -> None:
    """Validate 0-based ranks (N,) and a cut-off k >= 1."""
    if not isinstance(ranks, torch.Tensor) or ranks.dtype != torch.int64 or ranks.dim() != 1:
        shape = tuple(ranks.shape) if isinstance(ranks, torch.Tensor) else type(ranks).__name__
        raise TypeError(f"ranks must be a 1-D int64 tensor (N,), got {shape}")
    if len(ranks) == 0:
        raise ValueError("ranks is empty: nothing to average")
    if bool((ranks < 0).any()):
        raise ValueError(f"ranks must be >= 0, got minimum {ranks.min().item()}")
    require_positive_int("k", k)


def hit_rate_at_k(ranks: torch.Tensor, k: int) -> float:
    """HR@k: fraction of users whose held-out item has 0-based rank (N,) below k."""
    _check_ranks_k(ranks, k)
    return (ranks < k).double().mean().item()


def ndcg_at_k(ranks: torch.Tensor, k: int) -> float:
    """NDCG@k for one relevant item per user: mean of 1/log2(rank+2) over ranks (N,) below k."""
    _check_ranks_k(ranks, k)
    gains = 1.0 / torch.log2(ranks.double() + 2.0)
    return torch.where(ranks < k, gains, 0.0).mean().item()
