"""Tests for attnbook.article: the article's model as described, and the checks of its defects."""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.article import (
    ARTICLE_OUTPUT_DIM,
    ArticleAttentionModel,
    above_chance,
    batch_mate_influence,
    batched_accuracy,
    batched_predictions,
    chance_band,
    clipped_output_fraction,
    impossible_class_fraction,
    optimizer_matches_prose,
    random_label_batch,
    record_optimizer_steps,
    record_update_rules,
    scaling_gap,
    shuffled_batch_disagreement,
    train_article_model,
    update_rule,
)
from attnbook.models.digit_rows import DigitRowAttention
from attnbook.train import fit


@pytest.fixture
def model() -> ArticleAttentionModel:
    torch.manual_seed(0)
    return ArticleAttentionModel()


def batch(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 10, generator=torch.Generator().manual_seed(seed))


def test_article_model_follows_the_description(model: ArticleAttentionModel) -> None:
    x = batch()
    q, k = model.queries_and_keys(x)
    assert q.shape == k.shape == (32, 20)
    weights = model.attention_weights(x)
    assert weights.shape == (32, 32)
    torch.testing.assert_close(weights, torch.softmax(q @ k.T, dim=1))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(32))
    out = model(x)
    assert out.shape == (32, ARTICLE_OUTPUT_DIM)
    torch.testing.assert_close(out, torch.relu(weights @ model.value_proj(x)))


def test_batch_of_one_reduces_to_relu_of_value(model: ArticleAttentionModel) -> None:
    x = batch(1)
    torch.testing.assert_close(model(x), torch.relu(model.value_proj(x)))


def test_batch_mates_change_the_article_output_but_not_its_order(
    model: ArticleAttentionModel,
) -> None:
    x = batch()
    assert batch_mate_influence(model, x, batch(seed=1)) > 1e-3
    permuted = x[torch.randperm(32, generator=torch.Generator().manual_seed(2))]
    assert batch_mate_influence(model, x, permuted, index=5) > 0  # others moved into other rows
    same_set = x.clone()
    same_set[1:] = x[1:].flip(0)
    assert batch_mate_influence(model, x, same_set) < 1e-6  # attention is a set operation


def test_shuffled_batches_change_article_predictions(model: ArticleAttentionModel) -> None:
    x = torch.randn(256, 10, generator=torch.Generator().manual_seed(0))
    assert shuffled_batch_disagreement(model, x) > 0.05
    assert shuffled_batch_disagreement(model, x, batch_size=1) == 0.0
    torch.manual_seed(0)
    assert shuffled_batch_disagreement(DigitRowAttention(), torch.rand(100, 8, 8)) == 0.0


def test_corrected_model_is_batch_independent_and_scaled() -> None:
    torch.manual_seed(0)
    corrected = DigitRowAttention()
    images = torch.rand(16, 8, 8, generator=torch.Generator().manual_seed(0))
    other = torch.rand(16, 8, 8, generator=torch.Generator().manual_seed(1))
    assert batch_mate_influence(corrected, images, other, index=3) < 1e-6
    assert scaling_gap(corrected, images) < 1e-6


def test_article_model_is_not_scaled(model: ArticleAttentionModel) -> None:
    assert scaling_gap(model, batch()) > 1e-2


def test_relu_outputs_are_clipped(model: ArticleAttentionModel) -> None:
    fraction, minimum = clipped_output_fraction(model, batch())
    assert 0.1 < fraction < 1.0 and minimum == 0.0
    torch.manual_seed(0)
    fraction, minimum = clipped_output_fraction(DigitRowAttention(), torch.rand(8, 8, 8))
    assert fraction == 0.0 and minimum < 0.0


def test_impossible_classes() -> None:
    assert impossible_class_fraction(torch.tensor([0, 1, 29, 2]), 2) == 0.5
    assert impossible_class_fraction(torch.tensor([0, 1]), 2) == 0.0


def test_random_labels_stay_at_chance(model: ArticleAttentionModel) -> None:
    losses = train_article_model(model, 300, progress=False)
    assert len(losses) == 300 and losses[0] > math.log(2) + 0.5
    x, y = random_label_batch(2000, generator=torch.Generator().manual_seed(7))
    accuracy = batched_accuracy(model, x, y)
    assert abs(accuracy - 0.5) < chance_band(0.5, 2000)
    assert not above_chance(accuracy, 0.5, 2000)
    predictions = batched_predictions(model, x)
    assert predictions.shape == (2000,)


def test_random_label_batch_shapes_and_seed() -> None:
    x, y = random_label_batch(8, 3, 4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 3) and y.shape == (8,) and int(y.max()) < 4
    x2, y2 = random_label_batch(8, 3, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_chance_helpers() -> None:
    assert chance_band(0.5, 100, 2.0) == pytest.approx(0.1)
    assert above_chance(0.9, 0.1, 100)
    assert not above_chance(0.12, 0.1, 100)


def test_optimizer_recording(model: ArticleAttentionModel) -> None:
    matches, used = optimizer_matches_prose(
        "SGD", lambda: train_article_model(model, 2, progress=False)
    )
    assert not matches and used == {"Adam"}
    matches, used = optimizer_matches_prose(
        "Adam", lambda: train_article_model(model, 2, progress=False)
    )
    assert matches
    with record_optimizer_steps() as names:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model(batch()).sum().backward()
        optimizer.step()
    assert names == ["SGD"]
    optimizer.step()
    assert names == ["SGD"]  # the hook is gone after the block


def test_update_rules_not_class_names(model: ArticleAttentionModel) -> None:
    params = list(model.parameters())
    assert update_rule(torch.optim.AdamW(params, weight_decay=0.0)) == "Adam"
    assert update_rule(torch.optim.AdamW(params, weight_decay=0.01)) == "AdamW"
    assert update_rule(torch.optim.Adam(params)) == "Adam"
    assert update_rule(torch.optim.Adam(params, weight_decay=0.01)) == "Adam with L2 penalty"
    assert update_rule(torch.optim.SGD(params, lr=0.1)) == "SGD"
    train = (batch(), torch.zeros(len(batch()), dtype=torch.long))
    matches, used = optimizer_matches_prose(
        "AdamW", lambda: fit(model, train, epochs=1, progress=False)
    )
    assert not matches and used == {"Adam"}  # fit's default weight_decay=0 is Adam
    matches, used = optimizer_matches_prose(
        "AdamW", lambda: fit(model, train, epochs=1, weight_decay=0.01, progress=False)
    )
    assert matches and used == {"AdamW"}
    with record_update_rules() as rules:
        optimizer = torch.optim.AdamW(params, weight_decay=0.0)
        model(batch()).sum().backward()
        optimizer.step()
    assert rules == ["Adam"]


BAD_INPUTS = [
    (ArticleAttentionModel, (0,), ValueError, "input_dim"),
    (ArticleAttentionModel, (10, 2.5), TypeError, "hidden_dim"),
    (lambda: ArticleAttentionModel()(torch.zeros(4, 9)), (), ValueError, "features=10"),
    (lambda: ArticleAttentionModel()(torch.zeros(4, 10, 1)), (), ValueError, "(4, 10, 1)"),
    (lambda: ArticleAttentionModel()(torch.zeros(4, 10).long()), (), TypeError, "dtype"),
    (lambda: ArticleAttentionModel()(torch.zeros(0, 10)), (), ValueError, "empty"),
    (
        lambda: ArticleAttentionModel()(torch.full((2, 10), float("nan"))),
        (),
        ValueError,
        "NaN",
    ),
    (random_label_batch, (0,), ValueError, "batch_size"),
    (train_article_model, ("model",), TypeError, "nn.Module"),
    (train_article_model, (ArticleAttentionModel(), 0), ValueError, "steps"),
    (
        lambda: train_article_model(ArticleAttentionModel(), 1, lr=-1.0),
        (),
        ValueError,
        "lr",
    ),
    (batched_predictions, (ArticleAttentionModel(), torch.zeros(0, 10)), ValueError, "non-empty"),
    (
        batched_predictions,
        (ArticleAttentionModel(), torch.zeros(4, 10), 0),
        ValueError,
        "batch_size",
    ),
    (
        batched_accuracy,
        (ArticleAttentionModel(), torch.zeros(4, 10), torch.zeros(3).long()),
        ValueError,
        "(3,)",
    ),
    (
        batch_mate_influence,
        (ArticleAttentionModel(), torch.zeros(4, 10), torch.zeros(5, 10)),
        ValueError,
        "same shape",
    ),
    (
        batch_mate_influence,
        (ArticleAttentionModel(), torch.zeros(1, 10), torch.zeros(1, 10)),
        ValueError,
        "at least 2",
    ),
    (
        batch_mate_influence,
        (ArticleAttentionModel(), torch.zeros(4, 10), torch.zeros(4, 10), 4),
        ValueError,
        "index",
    ),
    (clipped_output_fraction, (ArticleAttentionModel(), [1.0]), TypeError, "torch.Tensor"),
    (
        shuffled_batch_disagreement,
        (ArticleAttentionModel(), torch.zeros(1, 10)),
        ValueError,
        "2 rows",
    ),
    (
        shuffled_batch_disagreement,
        (ArticleAttentionModel(), torch.zeros(4, 10), 0),
        ValueError,
        "batch_size",
    ),
    (impossible_class_fraction, (torch.tensor([0.5]), 2), TypeError, "integer"),
    (impossible_class_fraction, (torch.tensor([], dtype=torch.long), 2), ValueError, "empty"),
    (impossible_class_fraction, (torch.tensor([1]), 0), ValueError, "num_classes"),
    (chance_band, (1.0, 10), ValueError, "below 1"),
    (chance_band, (0.5, 0), ValueError, "n"),
    (above_chance, (1.5, 0.5, 10), ValueError, "[0, 1]"),
    (above_chance, ("0.5", 0.5, 10), TypeError, "number"),
    (optimizer_matches_prose, ("", lambda: None), TypeError, "prose_optimizer"),
    (optimizer_matches_prose, ("SGD", 3), TypeError, "callable"),
    (optimizer_matches_prose, ("SGD", lambda: None), ValueError, "no optimiser step"),
    (update_rule, ("Adam",), TypeError, "torch.optim.Optimizer"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error) as info:
        function(*args)
    assert fragment in str(info.value)
