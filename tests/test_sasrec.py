"""Tests for attnbook.models.sasrec."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.data.sessions import PAD
from attnbook.models.sasrec import (
    IGNORE_INDEX,
    MarkovBaseline,
    PopularityBaseline,
    SASRec,
    next_item_targets,
)


def test_next_item_targets_shift_and_ignore_padding() -> None:
    histories = torch.tensor([[PAD, PAD, 3, 4], [1, 2, 3, 4]])
    inputs, targets = next_item_targets(histories)
    assert inputs.tolist() == [[PAD, PAD, 3], [1, 2, 3]]
    assert targets.tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 4], [2, 3, 4]]


def test_sasrec_shapes_and_causality() -> None:
    torch.manual_seed(0)
    model = SASRec(num_items=10, max_length=6, d_model=16, num_heads=2, dropout=0.0).eval()
    items = torch.tensor([[PAD, PAD, 1, 2, 3, 4]])
    logits, weights = model.forward_with_attention(items)
    assert logits.shape == (1, 6, 10) and len(weights) == 2 and weights[0].shape == (1, 2, 6, 6)
    # no attention to the future, nor to padding
    assert weights[0][0, :, 2, 3:].abs().max() == 0
    assert weights[0][0, :, :, :2].abs().max() == 0
    # changing a later item does not change earlier predictions
    changed = items.clone()
    changed[0, -1] = 9
    assert torch.allclose(model(changed)[0, :5], logits[0, :5], atol=1e-6)
    assert model.score_next(items).shape == (1, 10)


def test_sasrec_learns_a_deterministic_successor() -> None:
    torch.manual_seed(0)
    sequences = torch.tensor([[(s + i) % 8 for i in range(6)] for s in range(8)])
    inputs, targets = next_item_targets(sequences)
    model = SASRec(num_items=8, max_length=5, d_model=16, num_heads=2, num_layers=1, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 8), targets.reshape(-1))
        loss.backward()
        optimizer.step()
    assert (model.score_next(inputs).argmax(-1) == targets[:, -1]).all()


def test_baselines_hand_checked() -> None:
    sequences = [[0, 1, 2], [0, 1], [2, 1]]
    popularity = PopularityBaseline(4).fit(sequences)
    assert popularity.counts.tolist() == [2, 3, 2, 0]
    query = torch.tensor([[PAD, 0], [1, 2]])
    assert popularity.score_next(query).shape == (2, 4)
    markov = MarkovBaseline(4).fit(sequences)
    scores = markov.score_next(query)
    assert scores[0].argmax().item() == 1  # 0 -> 1 twice
    assert scores[1].argmax().item() == 1  # 2 -> 1 once
    assert markov.transitions[0, 1] == 2 and markov.transitions[1, 2] == 1


BAD_INPUTS = [
    (next_item_targets, (torch.zeros(2, 3),), TypeError, "int64"),
    (next_item_targets, (torch.zeros(2, 1, dtype=torch.int64),), ValueError, "L >= 2"),
    (SASRec, (0, 5), ValueError, "num_items"),
    (SASRec, (10, 5, 15, 2), ValueError, "divisible by num_heads"),
    (SASRec, (10, 5, 16, 2, 2, 1.0), ValueError, "dropout"),
    (lambda: SASRec(10, 4)(torch.zeros(1, 5, dtype=torch.int64)), (), ValueError, "L <= 4"),
    (lambda: SASRec(10, 4)(torch.tensor([[0, 10]])), (), ValueError, "item ids in [0, 10)"),
    (lambda: SASRec(10, 4)(torch.zeros(1, 3)), (), TypeError, "int64"),
    (lambda: PopularityBaseline(3).fit([[0, 5]]), (), ValueError, "outside [0, 3)"),
    (lambda: MarkovBaseline(3).fit([[0, -2]]), (), ValueError, "outside [0, 3)"),
    (
        lambda: MarkovBaseline(3).score_next(torch.tensor([[0, PAD]])),
        (),
        ValueError,
        "end with an item",
    ),
    (MarkovBaseline, (3, -1.0), ValueError, "popularity_weight"),
    (PopularityBaseline, (0,), ValueError, "num_items"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)
