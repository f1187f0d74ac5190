"""Tests for the rule-based predictors of chapter 2b (attnbook.models.induction_baselines)."""

from __future__ import annotations

import pytest
import torch

from attnbook.data.induction import make_induction_batch
from attnbook.models.induction_baselines import (
    earlier_occurrences,
    longest_context_oracle,
    most_frequent_in_context,
    one_token_induction,
    prediction_accuracy,
)
from attnbook.seeding import torch_generator

#                       0  1  2  3  4  5  6  7
HAND = torch.tensor([[5, 1, 2, 5, 3, 1, 2, 5]])


def test_earlier_occurrences_counts() -> None:
    assert earlier_occurrences(HAND).tolist() == [[0, 0, 0, 1, 0, 1, 1, 2]]


def test_one_token_induction_by_hand() -> None:
    predictions = one_token_induction(HAND)[0].tolist()
    assert predictions[:3] == [-1, -1, -1]  # nothing seen before
    assert predictions[3] == 1  # the 5 at 0 was followed by 1
    assert predictions[5] == 2 and predictions[6] == 5
    # two earlier 5s, followed by 1 and by 3: a tie, so the most recent (3) wins
    assert predictions[7] == 3


def test_one_token_induction_majority_beats_recency() -> None:
    tokens = torch.tensor([[4, 1, 4, 1, 4, 2, 4]])
    assert one_token_induction(tokens)[0, -1].item() == 1  # 4 -> 1 twice, 4 -> 2 once


def test_longest_context_oracle_by_hand() -> None:
    predictions = longest_context_oracle(HAND)[0].tolist()
    assert predictions[3] == 1
    # at 7 the context "1 2 5" matches the one ending at 3, longer than "5" alone at 0 or 3
    assert predictions[7] == 3
    tokens = torch.tensor([[7, 5, 1, 9, 5, 2, 7, 5]])
    assert longest_context_oracle(tokens)[0, -1].item() == 1  # "7 5" matched at 0-1
    assert one_token_induction(tokens)[0, -1].item() == 2  # the most recent 5


def test_oracle_is_perfect_where_the_token_is_new_and_beats_one_token() -> None:
    tokens, targets = make_induction_batch(500, 32, 32, generator=torch_generator(0))
    once = earlier_occurrences(tokens) == 1
    oracle, single = longest_context_oracle(tokens), one_token_induction(tokens)
    assert prediction_accuracy(oracle, targets, once) == 1.0
    assert prediction_accuracy(single, targets, once) == 1.0
    assert prediction_accuracy(oracle, targets) > prediction_accuracy(single, targets) + 0.1


def test_most_frequent_in_context() -> None:
    tokens = torch.tensor([[0, 6, 1, 7, 2, 6, 0]])
    values = torch.zeros(8, dtype=torch.bool)
    values[4:] = True
    assert most_frequent_in_context(tokens, values)[0].tolist() == [-1, 6, 6, 7, 7, 6, 6]
    everything = torch.ones(8, dtype=torch.bool)
    assert most_frequent_in_context(tokens, everything)[0, -1].item() == 0  # 0 and 6 tie: latest


def test_prediction_accuracy() -> None:
    predictions = torch.tensor([[1, 2, 3]])
    targets = torch.tensor([[1, -100, 0]])
    assert prediction_accuracy(predictions, targets) == 0.5
    assert prediction_accuracy(predictions, targets, torch.tensor([[True, True, False]])) == 1.0


BAD = [
    (one_token_induction, ([[1, 2]],), TypeError, "int64 tensor .* got list"),
    (one_token_induction, (torch.zeros(2, 3),), TypeError, "int64"),
    (longest_context_oracle, (torch.zeros(3, dtype=torch.long),), ValueError, "batch, length"),
    (earlier_occurrences, (torch.full((1, 2), -1),), ValueError, ">= 0"),
    (most_frequent_in_context, (HAND, torch.ones(8)), TypeError, "bool"),
    (most_frequent_in_context, (HAND, torch.ones(3, dtype=torch.bool)), ValueError, "V >"),
    (prediction_accuracy, (torch.zeros(1, 2), torch.zeros(1, 3)), ValueError, "one shape"),
    (prediction_accuracy, (torch.zeros(1, 2), torch.full((1, 2), -100)), ValueError, "no scored"),
    (
        prediction_accuracy,
        (torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2)),
        ValueError,
        "bool",
    ),
]


@pytest.mark.parametrize(("fn", "args", "error", "fragment"), BAD)
def test_bad_input(fn, args, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args)


def test_offset_copy_and_seen_token_guess() -> None:
    from attnbook.models.induction_baselines import offset_copy, seen_token_guess_accuracy

    assert offset_copy(HAND, 3)[0].tolist() == [-1, -1, -1, 5, 1, 2, 5, 3]
    with pytest.raises(ValueError, match="offset"):
        offset_copy(HAND, 0)
    targets = torch.tensor([[-100, -100, -100, 1, -100, -100, -100, 4]])
    # at 3: {5, 1, 2} seen, target 1 among them -> 1/3; at 7: target 4 never seen -> 0
    assert seen_token_guess_accuracy(HAND, targets) == pytest.approx((1 / 3 + 0) / 2)
    with pytest.raises(ValueError, match="one shape"):
        seen_token_guess_accuracy(HAND, targets[:, :3])
