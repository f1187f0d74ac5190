"""Tests for attnbook.recsys_metrics on hand-checked cases."""

from __future__ import annotations

import math
import re

import pytest
import torch

from attnbook.recsys_metrics import hit_rate_at_k, last_position_scores, ndcg_at_k, target_ranks


def test_ranks_hand_checked() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.5, 0.3], [0.2, 0.2, 0.8, 0.1], [0.0, 0.0, 0.0, 1.0]])
    # row 0: target 2 (0.5) has one item above it; row 1: target 1 ties item 0 and is below 0.8;
    # row 2: target 3 is the best
    assert target_ranks(scores, torch.tensor([2, 1, 3])).tolist() == [1, 2, 0]


def test_ties_count_against_the_target() -> None:
    scores = torch.zeros(1, 5)
    assert target_ranks(scores, torch.tensor([0])).tolist() == [4]


def test_hit_rate_hand_checked() -> None:
    ranks = torch.tensor([0, 1, 9, 10, 50])
    assert hit_rate_at_k(ranks, 1) == pytest.approx(1 / 5)
    assert hit_rate_at_k(ranks, 10) == pytest.approx(3 / 5)
    assert hit_rate_at_k(ranks, 11) == pytest.approx(4 / 5)


def test_ndcg_hand_checked() -> None:
    ranks = torch.tensor([0, 1, 9, 10])
    expected = (1.0 + 1 / math.log2(3) + 1 / math.log2(11) + 0.0) / 4
    assert ndcg_at_k(ranks, 10) == pytest.approx(expected)
    assert ndcg_at_k(torch.tensor([0]), 1) == 1.0
    assert ndcg_at_k(torch.tensor([2]), 10) == pytest.approx(0.5)  # 1/log2(4)


def test_ndcg_never_exceeds_hit_rate_and_both_grow_with_k() -> None:
    ranks = torch.randint(0, 100, (200,), generator=torch.Generator().manual_seed(0))
    for k in (1, 5, 10, 50):
        assert ndcg_at_k(ranks, k) <= hit_rate_at_k(ranks, k) + 1e-12
        assert hit_rate_at_k(ranks, k) <= hit_rate_at_k(ranks, k + 1)
        assert ndcg_at_k(ranks, k) <= ndcg_at_k(ranks, k + 1)


def test_perfect_scores() -> None:
    targets = torch.tensor([3, 1, 0])
    scores = torch.nn.functional.one_hot(targets, 5).float()
    ranks = target_ranks(scores, targets)
    assert hit_rate_at_k(ranks, 1) == 1.0 and ndcg_at_k(ranks, 1) == 1.0


BAD_INPUTS = [
    (target_ranks, (torch.zeros(3), torch.tensor([0])), ValueError, "(N, n_items)"),
    (
        target_ranks,
        (torch.zeros(2, 3, dtype=torch.int64), torch.tensor([0, 1])),
        TypeError,
        "floating-point",
    ),
    (target_ranks, (torch.zeros(2, 3), torch.tensor([0.0, 1.0])), TypeError, "int64"),
    (target_ranks, (torch.zeros(2, 3), torch.tensor([0])), ValueError, "shape (N,)"),
    (target_ranks, (torch.zeros(2, 3), torch.tensor([0, 3])), ValueError, "item ids in [0, 3)"),
    (target_ranks, (torch.full((1, 3), float("nan")), torch.tensor([0])), ValueError, "NaN"),
    (hit_rate_at_k, (torch.tensor([0, 1]), 0), ValueError, "k must be >= 1"),
    (hit_rate_at_k, (torch.tensor([0.0]), 1), TypeError, "int64"),
    (hit_rate_at_k, (torch.tensor([], dtype=torch.int64), 1), ValueError, "empty"),
    (ndcg_at_k, (torch.tensor([-1]), 10), ValueError, ">= 0"),
    (ndcg_at_k, ([0, 1], 10), TypeError, "1-D int64"),
    (ndcg_at_k, (torch.tensor([0]), 2.5), TypeError, "k must be an int"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)


def test_last_position_scores_chunks_and_keeps_the_mode() -> None:
    """Scores equal the model's last-position logits in eval mode, across chunk boundaries."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Embedding(6, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 6)
    )
    histories = torch.randint(0, 6, (7, 3))
    model.train()
    scores = last_position_scores(model, histories, batch_size=3)
    assert model.training  # the caller's mode comes back
    with torch.no_grad():
        torch.testing.assert_close(scores, model.eval()(histories)[:, -1])
    with pytest.raises(ValueError, match="batch_size"):
        last_position_scores(model, histories, batch_size=0)
