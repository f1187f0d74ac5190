"""Self-attentive sequential recommendation (SASRec, Kang & McAuley 2018), kept small.

A user's history of item ids is embedded (item embedding + learned position embedding), passed
through a few causal self-attention blocks, and the state at every position scores all items as
the candidate next item through a linear output layer. (SASRec ties that layer to the item
embeddings; untied, a tiny model learns item-to-item transitions much faster.) Training uses the
full softmax over items at every position, which is affordable for a few hundred items.
Item ids are 0 .. num_items-1 and `attnbook.data.sessions.PAD` (-1) marks left padding.
"""

from __future__ import annotations

import itertools
from collections import Counter

import torch
from torch import nn

from attnbook.attention import causal_mask
from attnbook.checks import require_divisible, require_positive_int
from attnbook.models.transformer import TransformerBlock
from attnbook.recsys_metrics import last_position_scores
from attnbook.train import IGNORE_INDEX

__all__ = [
    "IGNORE_INDEX",
    "MarkovBaseline",
    "PopularityBaseline",
    "SASRec",
    "next_item_targets",
]


def _check_item_ids(name: str, items: torch.Tensor, num_items: int) -> None:
    """Raise unless items is an int64 tensor with values in {-1} ∪ [0, num_items)."""
    if not isinstance(items, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(items).__name__}")
    if items.dtype != torch.int64:
        raise TypeError(f"{name} must hold int64 item ids, got dtype {items.dtype}")
    if items.numel() and (items.min() < -1 or items.max() >= num_items):
        raise ValueError(
            f"{name} must hold item ids in [0, {num_items}) or -1 for padding, got range "
            f"[{items.min().item()}, {items.max().item()}]"
        )


def next_item_targets(histories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, L-1) and shifted next-item targets (N, L-1) from padded histories (N, L).

    Target positions whose input or target is padding get IGNORE_INDEX.
    """
    if not isinstance(histories, torch.Tensor) or histories.dtype != torch.int64:
        raise TypeError("histories must be an int64 tensor (N, L) of item ids")
    if histories.dim() != 2 or histories.shape[1] < 2:
        raise ValueError(
            f"histories must have shape (N, L) with L >= 2, got {tuple(histories.shape)}"
        )
    inputs, targets = histories[:, :-1], histories[:, 1:].clone()
    targets[(inputs < 0) | (targets < 0)] = IGNORE_INDEX
    return inputs, targets


class SASRec(nn.Module):
    """Causal self-attention recommender: item ids (B, L) -> next-item logits (B, L, num_items)."""

    def __init__(
        self,
        num_items: int,
        max_length: int,
        d_model: int = 48,
        num_heads: int = 2,
        num_layers: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("max_length", max_length),
            ("d_model", d_model),
            ("num_layers", num_layers),
        ):
            require_positive_int(name, value)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_items = num_items
        self.max_length = max_length
        self.item_embedding = nn.Embedding(num_items + 1, d_model, padding_idx=0)  # row 0 = PAD
        self.position_embedding = nn.Embedding(max_length, d_model)
        self.dropout = nn.Dropout(dropout)
        # pre-norm blocks with a ReLU feed-forward as wide as the model, as in Kang & McAuley;
        # dropout on the sublayers' outputs and hidden units, not on the attention weights
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model,
                num_heads,
                d_model,
                activation="relu",
                dropout=dropout,
                attention_dropout=0.0,
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, num_items)

    def forward_with_attention(
        self, items: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, L, num_items) and each block's attention weights (B, heads, L, L)."""
        _check_item_ids("items", items, self.num_items)
        if items.dim() != 2 or not 1 <= items.shape[1] <= self.max_length:
            raise ValueError(
                f"items must have shape (batch, L) with 1 <= L <= {self.max_length}, "
                f"got {tuple(items.shape)}"
            )
        length = items.shape[1]
        is_item = items >= 0
        x = self.item_embedding(items + 1) * self.item_embedding.embedding_dim**0.5
        x = x + self.position_embedding(torch.arange(length, device=items.device))
        x = self.dropout(x) * is_item[..., None]
        # a position may attend to itself and earlier positions that hold an item
        mask = causal_mask(length, device=items.device)[None] & is_item[:, None, :]
        all_weights = []
        for block in self.blocks:
            x = block(x, mask) * is_item[..., None]
            all_weights.append(block.last_weights)
        states = self.norm(x)
        return self.output(states), all_weights

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Next-item logits (B, L, num_items) at every position of item ids (B, L)."""
        return self.forward_with_attention(items)[0]

    def score_next(self, histories: torch.Tensor) -> torch.Tensor:
        """Scores (N, num_items) for the item after each left-padded history (N, L)."""
        return last_position_scores(self, histories)


class PopularityBaseline:
    """Scores every item by how often it occurs in the training histories: -> (N, num_items)."""

    def __init__(self, num_items: int) -> None:
        self.num_items = require_positive_int("num_items", num_items)
        self.counts = torch.zeros(num_items)

    def fit(self, sequences: list[list[int]]) -> PopularityBaseline:
        """Count item occurrences in lists of item ids."""
        counts = Counter(item for seq in sequences for item in seq)
        for item, count in counts.items():
            if not 0 <= item < self.num_items:
                raise ValueError(f"item id {item} outside [0, {self.num_items})")
            self.counts[item] = count
        return self

    def score_next(self, histories: torch.Tensor) -> torch.Tensor:
        """The same popularity scores (N, num_items) for every history (N, L)."""
        _check_item_ids("histories", histories, self.num_items)
        return self.counts.expand(len(histories), -1).clone()


class MarkovBaseline:
    """First-order Markov model: scores (N, num_items) = transition counts from the last item."""

    def __init__(self, num_items: int, popularity_weight: float = 1e-3) -> None:
        self.num_items = require_positive_int("num_items", num_items)
        if popularity_weight < 0:
            raise ValueError(f"popularity_weight must be >= 0, got {popularity_weight}")
        self.popularity_weight = popularity_weight
        self.transitions = torch.zeros(num_items, num_items)
        self.popularity = torch.zeros(num_items)

    def fit(self, sequences: list[list[int]]) -> MarkovBaseline:
        """Count item -> next item transitions in lists of item ids."""
        for seq in sequences:
            for item in seq:
                if not 0 <= item < self.num_items:
                    raise ValueError(f"item id {item} outside [0, {self.num_items})")
                self.popularity[item] += 1
            for prev, nxt in itertools.pairwise(seq):
                self.transitions[prev, nxt] += 1
        return self

    def score_next(self, histories: torch.Tensor) -> torch.Tensor:
        """Transition counts from each history's last item (N, num_items); popularity breaks ties."""
        _check_item_ids("histories", histories, self.num_items)
        last = histories[:, -1]
        if bool((last < 0).any()):
            raise ValueError("every history must end with an item (left padding only)")
        popularity = self.popularity / self.popularity.sum().clamp_min(1)
        return self.transitions[last] + self.popularity_weight * popularity
