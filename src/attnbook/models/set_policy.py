"""Three policies for :class:`attnbook.rl.envs.TargetPickEnv`: one attends over the set, two do not.

* :class:`AttentionSetPolicy` embeds every object with the same small network (a key) and the cue
  (a query); the logits are the scaled dot products query · key, so the policy's distribution over
  objects *is* an attention distribution, as in pointer networks. It treats the set as a set: the
  same weights serve any number of objects, in any order.
* :class:`FlatSetPolicy` concatenates all objects in their given order with the cue and maps the
  vector through an MLP to one logit per slot. It must learn the same comparison separately for
  every slot and works only for the set size it was built for.
* :class:`SharedScorerSetPolicy` is the control that separates attention from weight sharing: one
  MLP scores every object from (object, cue) concatenated, optionally with a DeepSets summary
  (the mean of a shared embedding of all objects). It is permutation equivariant and works for
  any set size, like the attention policy, but has no query · key product.

Both take ``(items (B, N, F), cue (B, C), available (B, N) bool)`` and return logits (B, N) in
which objects that are not available are set to a very low value.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attnbook.checks import require_float_tensor, require_positive_int

__all__ = ["AttentionSetPolicy", "FlatSetPolicy", "SharedScorerSetPolicy"]


def _check_observation(
    items: torch.Tensor, cue: torch.Tensor, available: torch.Tensor, item_dim: int, cue_dim: int
) -> None:
    """Validate items (B, N, item_dim), cue (B, cue_dim), available (B, N) bool."""
    require_float_tensor("items", items)
    require_float_tensor("cue", cue)
    if items.dim() != 3 or items.shape[-1] != item_dim:
        raise ValueError(f"items must have shape (B, N, {item_dim}), got {tuple(items.shape)}")
    if cue.shape != (items.shape[0], cue_dim):
        raise ValueError(
            f"cue must have shape ({items.shape[0]}, {cue_dim}), got {tuple(cue.shape)}"
        )
    if not isinstance(available, torch.Tensor) or available.dtype != torch.bool:
        raise TypeError("available must be a bool tensor (B, N)")
    if available.shape != items.shape[:2]:
        raise ValueError(
            f"available must have shape {tuple(items.shape[:2])}, got {tuple(available.shape)}"
        )
    if not bool(available.any(dim=1).all()):
        raise ValueError("every episode needs at least one available object")


def _masked(logits: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """Logits (B, N) with unavailable objects pushed to a very low value."""
    return logits.masked_fill(~available, torch.finfo(logits.dtype).min / 2)


class AttentionSetPolicy(nn.Module):
    """Pointer-style policy: logits (B, N) = cue query · object keys / √d, for any set size N."""

    def __init__(self, item_dim: int, cue_dim: int, d_model: int = 32) -> None:
        super().__init__()
        for name, value in (("item_dim", item_dim), ("cue_dim", cue_dim), ("d_model", d_model)):
            require_positive_int(name, value)
        self.item_dim, self.cue_dim = item_dim, cue_dim
        self.key = nn.Sequential(
            nn.Linear(item_dim, d_model), nn.ReLU(), nn.Linear(d_model, d_model)
        )
        self.query = nn.Sequential(
            nn.Linear(cue_dim, d_model), nn.ReLU(), nn.Linear(d_model, d_model)
        )
        self.scale = 1.0 / math.sqrt(d_model)

    def forward(
        self, items: torch.Tensor, cue: torch.Tensor, available: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, N) over objects items (B, N, F) given cue (B, C) and available (B, N)."""
        _check_observation(items, cue, available, self.item_dim, self.cue_dim)
        scores = (self.key(items) @ self.query(cue).unsqueeze(-1)).squeeze(-1) * self.scale
        return _masked(scores, available)


class FlatSetPolicy(nn.Module):
    """MLP policy on the concatenated set: logits (B, N) for a fixed set size N, no attention."""

    def __init__(self, n_items: int, item_dim: int, cue_dim: int, hidden: int = 64) -> None:
        super().__init__()
        for name, value in (
            ("n_items", n_items),
            ("item_dim", item_dim),
            ("cue_dim", cue_dim),
            ("hidden", hidden),
        ):
            require_positive_int(name, value)
        self.n_items, self.item_dim, self.cue_dim = n_items, item_dim, cue_dim
        width = n_items * (item_dim + 1) + cue_dim
        self.net = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_items),
        )

    def forward(
        self, items: torch.Tensor, cue: torch.Tensor, available: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, N) from items (B, N, F), cue (B, C), available (B, N); N must equal n_items."""
        _check_observation(items, cue, available, self.item_dim, self.cue_dim)
        if items.shape[1] != self.n_items:
            raise ValueError(
                f"FlatSetPolicy was built for {self.n_items} objects, got a set of {items.shape[1]}"
            )
        flat = torch.cat([items.flatten(1), available.float(), cue], dim=1)
        return _masked(self.net(flat), available)


class SharedScorerSetPolicy(nn.Module):
    """Pointer-MLP policy: logit (B, N) of object i = MLP([item_i, cue (, set mean)]), any set size N.

    With ``pooled=True`` each object's input also holds the mean over the set of a shared
    per-object embedding (a DeepSets-style equivariant layer). No dot-product attention.
    """

    def __init__(
        self, item_dim: int, cue_dim: int, hidden: int = 42, *, pooled: bool = False
    ) -> None:
        super().__init__()
        for name, value in (("item_dim", item_dim), ("cue_dim", cue_dim), ("hidden", hidden)):
            require_positive_int(name, value)
        if not isinstance(pooled, bool):
            raise TypeError(f"pooled must be a bool, got {type(pooled).__name__}")
        self.item_dim, self.cue_dim, self.pooled = item_dim, cue_dim, pooled
        width = item_dim + cue_dim
        if pooled:
            self.summary = nn.Sequential(nn.Linear(item_dim, hidden), nn.ReLU())
            width += hidden
        self.scorer = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(
        self, items: torch.Tensor, cue: torch.Tensor, available: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, N) over objects items (B, N, F) given cue (B, C) and available (B, N)."""
        _check_observation(items, cue, available, self.item_dim, self.cue_dim)
        parts = [items, cue.unsqueeze(1).expand(-1, items.shape[1], -1)]
        if self.pooled:
            summary = self.summary(items).mean(dim=1, keepdim=True)
            parts.append(summary.expand(-1, items.shape[1], -1))
        return _masked(self.scorer(torch.cat(parts, dim=-1)).squeeze(-1), available)
