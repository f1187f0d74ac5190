"""Tests for attnbook.models.gru_rec."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.data.sessions import PAD
from attnbook.models.gru_rec import GRURec
from attnbook.models.sasrec import next_item_targets
from attnbook.seeding import manual_seed


def test_shapes_padding_and_causality() -> None:
    manual_seed(0)
    model = GRURec(num_items=10, embedding_dim=8, hidden_dim=12, dropout=0.0).eval()
    items = torch.tensor([[PAD, PAD, 1, 2, 3], [5, 6, 7, 8, 9]])
    logits = model(items)
    assert logits.shape == (2, 5, 10)
    assert logits[0, :2].abs().max() == 0  # padded positions give no scores
    # the same items with less padding give the same scores: padding is skipped
    assert torch.allclose(model(torch.tensor([[1, 2, 3]]))[0], logits[0, 2:], atol=1e-6)
    # a later item does not change earlier predictions
    changed = items.clone()
    changed[1, -1] = 0
    assert torch.allclose(model(changed)[1, :4], logits[1, :4], atol=1e-6)
    assert model.score_next(items).shape == (2, 10)
    assert torch.allclose(model.score_next(items), logits[:, -1])


def test_learns_a_deterministic_successor() -> None:
    manual_seed(0)
    sequences = torch.tensor([[(s + i) % 8 for i in range(6)] for s in range(8)])
    inputs, targets = next_item_targets(sequences)
    model = GRURec(num_items=8, embedding_dim=8, hidden_dim=16, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(80):
        optimizer.zero_grad()
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 8), targets.reshape(-1))
        loss.backward()
        optimizer.step()
    predicted = model.score_next(inputs).argmax(dim=-1)
    assert (predicted == (inputs[:, -1] + 1) % 8).all()


BAD_INPUTS = [
    (GRURec, (0,), ValueError, "num_items"),
    (GRURec, (10, 8, 8, 1.0), ValueError, "dropout"),
    (lambda: GRURec(10)(torch.zeros(2, 3)), (), TypeError, "int64"),
    (lambda: GRURec(10)(torch.tensor([[1, 10]])), (), ValueError, "[0, 10)"),
    (lambda: GRURec(10)(torch.tensor([[PAD, PAD]])), (), ValueError, "at least one item"),
    (lambda: GRURec(10)(torch.tensor([1, 2])), (), ValueError, "(batch, L)"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)
