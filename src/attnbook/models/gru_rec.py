"""A recurrent next-item recommender in the style of GRU4Rec (Hidasi et al., 2016), kept small.

It reads the whole history, like SASRec, but through a GRU instead of attention: the state
after item t scores all items as the candidate next item through a linear output layer. It is
trained exactly like `attnbook.models.sasrec.SASRec` (full softmax over items at every
position), so chapter 7c's comparison of the two differs in how the history is read. Item ids
are 0 .. num_items-1 and `attnbook.data.sessions.PAD` (-1) marks left padding.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.checks import require_positive_int
from attnbook.models.sasrec import _check_item_ids
from attnbook.recsys_metrics import last_position_scores

__all__ = ["GRURec"]


class GRURec(nn.Module):
    """GRU recommender: left-padded item ids (B, L) -> next-item logits (B, L, num_items)."""

    def __init__(
        self, num_items: int, embedding_dim: int = 48, hidden_dim: int = 72, dropout: float = 0.1
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
        ):
            require_positive_int(name, value)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_items = num_items
        self.item_embedding = nn.Embedding(num_items + 1, embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(embedding_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, num_items)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Next-item logits (B, L, num_items) at every position of left-padded item ids (B, L).

        Padding is skipped (the GRU starts at each row's first item); padded positions get 0.
        """
        _check_item_ids("items", items, self.num_items)
        if items.dim() != 2 or items.shape[1] < 1:
            raise ValueError(
                f"items must have shape (batch, L) with L >= 1, got {tuple(items.shape)}"
            )
        is_item = items >= 0
        lengths = is_item.sum(dim=1)
        if bool((lengths == 0).any()):
            raise ValueError("every row of items must hold at least one item")
        length = items.shape[1]
        pads = length - lengths
        positions = torch.arange(length, device=items.device)[None]
        # move each row's items to the front (right padding), run the GRU packed, move back
        to_front = (positions + pads[:, None]) % length
        front = items.gather(1, to_front)
        embedded = self.dropout(self.item_embedding((front + 1) * (front >= 0)))
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, _ = self.gru(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=length)
        to_back = (positions - pads[:, None]) % length
        states = states.gather(1, to_back[..., None].expand(-1, -1, states.shape[-1]))
        return self.output(self.dropout(states)) * is_item[..., None]

    def score_next(self, histories: torch.Tensor) -> torch.Tensor:
        """Scores (N, num_items) for the item after each left-padded history (N, L)."""
        return last_position_scores(self, histories)
