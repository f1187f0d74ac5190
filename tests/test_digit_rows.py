"""Tests for attnbook.models.digit_rows: the row-attention digit classifier and its MLP baseline."""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.data.digits import load_digit_splits
from attnbook.models.digit_rows import (
    DigitMLP,
    DigitRowAttention,
    count_parameters,
    mlp_hidden_for_budget,
)
from attnbook.train import fit, seed_everything


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_weights() -> None:
    torch.manual_seed(0)
    model = DigitRowAttention(d_model=16, num_heads=4, num_classes=7)
    x = images()
    assert model(x).shape == (4, 7)
    weights = model.attention_weights(x)
    assert weights.shape == (4, 4, 8, 8)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 4, 8))
    q, k = model.queries_and_keys(x)
    assert q.shape == k.shape == (4, 4, 8, 4)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(weights, expected)


def test_samples_are_independent_and_rows_interact() -> None:
    torch.manual_seed(0)
    model = DigitRowAttention().eval()
    x = images(6)
    alone = torch.cat([model(x[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(model(x), alone)
    changed = x.clone()
    changed[:, 7] = 0.0  # change the last row only
    before = model.attention_weights(x)[:, :, 0]
    after = model.attention_weights(changed)[:, :, 0]
    assert (before - after).abs().max() > 1e-4  # row 0 sees row 7 through attention


def test_row_order_matters_through_positions() -> None:
    torch.manual_seed(0)
    model = DigitRowAttention().eval()
    x = images(3)
    assert (model(x) - model(x.flip(1))).abs().max() > 1e-4


def test_parameter_budget_and_baseline() -> None:
    attention = DigitRowAttention()
    n = count_parameters(attention)
    hidden = mlp_hidden_for_budget(n)
    baseline = DigitMLP(hidden)
    assert abs(count_parameters(baseline) - n) / n < 0.01
    assert baseline(images()).shape == (4, 10)
    assert mlp_hidden_for_budget(75 * 3 + 10) == 3
    assert count_parameters(DigitMLP(3)) == 75 * 3 + 10


def test_small_training_run_learns() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run faster on one thread
    try:
        seed_everything(0)
        splits = load_digit_splits(0)
        model = DigitRowAttention(d_model=16, num_heads=2)
        history = fit(model, splits.train, validation=splits.val, epochs=6, lr=3e-3, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert history.last["val_accuracy"] > 0.6
    assert history.last["train_loss"] < history.records[0]["train_loss"]


BAD_INPUTS = [
    (DigitRowAttention, (30, 4), ValueError, "divisible"),
    (DigitRowAttention, (0,), ValueError, "d_model"),
    (DigitRowAttention, (32, 2, 1.0), TypeError, "num_classes"),
    (lambda: DigitRowAttention()(torch.zeros(2, 64)), (), ValueError, "(2, 64)"),
    (lambda: DigitRowAttention()(torch.zeros(2, 8, 8).long()), (), TypeError, "dtype"),
    (lambda: DigitRowAttention()(torch.full((2, 8, 8), float("inf"))), (), ValueError, "inf"),
    (lambda: DigitRowAttention().attention_weights(torch.zeros(2, 7, 8)), (), ValueError, "8 rows"),
    (lambda: DigitMLP()(torch.zeros(2, 8, 9)), (), ValueError, "(2, 8, 9)"),
    (DigitMLP, (0,), ValueError, "hidden"),
    (mlp_hidden_for_budget, (5,), ValueError, "too small"),
    (mlp_hidden_for_budget, (1000, 0), ValueError, "num_inputs"),
    (count_parameters, ("model",), TypeError, "nn.Module"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error) as info:
        function(*args)
    assert fragment in str(info.value)
