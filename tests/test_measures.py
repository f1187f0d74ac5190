"""Tests for attnbook.measures: entropy, span, distance, receptive field, reachability, heads,
previous-token and induction scores, gradient receptive fields."""

from __future__ import annotations

import math
import re

import pytest
import torch

from attnbook.attention import causal_mask, window_mask
from attnbook.measures import (
    attention_entropy,
    effective_span,
    gradient_receptive_field,
    head_importance,
    induction_score,
    input_gradient_norms,
    mean_attention_distance,
    normalized_entropy,
    previous_token_score,
    reachability,
    receptive_field,
)
from attnbook.models.attention_only import AttentionOnlyTransformer


def test_entropy_limits_one_hot_and_uniform() -> None:
    one_hot = torch.eye(5)
    uniform = torch.full((3, 5), 0.2)
    assert torch.allclose(attention_entropy(one_hot), torch.zeros(5))
    assert torch.allclose(attention_entropy(uniform), torch.full((3,), math.log(5)))
    assert torch.allclose(effective_span(one_hot), torch.ones(5))
    assert torch.allclose(effective_span(uniform), torch.full((3,), 5.0))
    assert torch.allclose(normalized_entropy(one_hot), torch.zeros(5))
    assert torch.allclose(normalized_entropy(uniform), torch.ones(3))


def test_effective_span_of_k_equal_weights_is_k() -> None:
    for k in range(1, 8):
        weights = torch.zeros(10, dtype=torch.float64)
        weights[:k] = 1.0 / k
        assert effective_span(weights).item() == pytest.approx(k)


def test_entropy_keeps_batch_shape_and_matches_formula() -> None:
    weights = torch.softmax(torch.randn(2, 3, 4, 7, generator=torch.Generator().manual_seed(0)), -1)
    entropy = attention_entropy(weights)
    assert entropy.shape == (2, 3, 4)
    assert torch.allclose(entropy, -(weights * weights.log()).sum(-1))
    assert bool((normalized_entropy(weights) <= 1 + 1e-6).all())


def test_normalized_entropy_single_key_is_zero() -> None:
    assert normalized_entropy(torch.ones(4, 1)).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_mean_attention_distance() -> None:
    # query i attends fully to key 0: distance i
    weights = torch.zeros(4, 4)
    weights[:, 0] = 1.0
    assert mean_attention_distance(weights).tolist() == [0.0, 1.0, 2.0, 3.0]
    # uniform causal attention: query i looks back i/2 on average
    causal = causal_mask(5).float()
    causal = causal / causal.sum(-1, keepdim=True)
    assert torch.allclose(mean_attention_distance(causal), torch.arange(5) / 2)
    # custom positions
    positions = torch.tensor([0.0, 10.0])
    identity = torch.eye(2)
    assert mean_attention_distance(identity.flip(0), positions, positions).tolist() == [10.0, 10.0]


@pytest.mark.parametrize(("layers", "window"), [(1, 1), (1, 4), (2, 3), (3, 4), (5, 2)])
def test_receptive_field_matches_reachability(layers: int, window: int) -> None:
    n = 30
    reach = reachability(window_mask(n, window), layers)
    assert int(reach[-1].sum()) == receptive_field(layers, window)
    assert receptive_field(layers, window) == layers * (window - 1) + 1


@pytest.mark.parametrize(
    ("layers", "window", "length"), [(10, 10, 10), (3, 4, 8), (2, 3, 30), (1, 1, 1)]
)
def test_receptive_field_is_capped_at_the_length(layers: int, window: int, length: int) -> None:
    reach = reachability(window_mask(length, window), layers)
    assert receptive_field(layers, window, length) == int(reach[-1].sum())
    assert receptive_field(layers, window, length) == min(layers * (window - 1) + 1, length)


def test_receptive_field_without_length_is_uncapped() -> None:
    assert receptive_field(10, 10) == 91
    assert receptive_field(10, 10, length=10) == 10


def test_reachability_of_causal_mask_is_causal() -> None:
    mask = causal_mask(6)
    assert torch.equal(reachability(mask, 3), mask)


def test_reachability_without_self_loops_shifts() -> None:
    previous_only = torch.zeros(5, 5, dtype=torch.bool)
    previous_only[1:, :-1] = torch.eye(4, dtype=torch.bool)
    two_steps = reachability(previous_only, 2)
    assert two_steps[4, 2] and not two_steps[4, 3] and not two_steps[1].any()


def test_head_importance_finds_the_needed_head() -> None:
    def loss(gates: torch.Tensor) -> torch.Tensor:
        return (1.0 - gates[1]) * 3.0 + (1.0 - gates[0]) * 0.5 + 0 * gates[2]

    importance = head_importance(loss, 3)
    assert importance.tolist() == [0.5, 3.0, 0.0]


def _not_scalar(gates: torch.Tensor) -> torch.Tensor:
    return gates


BAD_INPUTS = [
    (attention_entropy, ([0.5, 0.5],), TypeError, "torch.Tensor"),
    (attention_entropy, (torch.tensor([1, 0]),), TypeError, "floating-point"),
    (attention_entropy, (torch.ones(3, 0),), ValueError, "non-empty last axis"),
    (attention_entropy, (torch.tensor([1.5, -0.5]),), ValueError, "non-negative"),
    (attention_entropy, (torch.tensor([float("nan"), 1.0]),), ValueError, "finite"),
    (attention_entropy, (torch.tensor([0.3, 0.3]),), ValueError, "sum to 1"),
    (effective_span, (torch.tensor([0.3, 0.3]),), ValueError, "sum to 1"),
    (normalized_entropy, (torch.tensor([2.0]),), ValueError, "sum to 1"),
    (mean_attention_distance, (torch.tensor([0.5, 0.5]),), ValueError, "at least 2 dimensions"),
    (
        mean_attention_distance,
        (torch.eye(2), torch.zeros(3)),
        ValueError,
        "query_positions must have shape (2,)",
    ),
    (
        mean_attention_distance,
        (torch.eye(2), None, torch.tensor([0, 1])),
        TypeError,
        "key_positions must be a floating-point",
    ),
    (receptive_field, (0, 3), ValueError, "num_layers must be >= 1"),
    (receptive_field, (2, 0), ValueError, "window must be >= 1"),
    (receptive_field, (2.0, 3), TypeError, "num_layers must be an int"),
    (receptive_field, (2, 3, 0), ValueError, "length must be >= 1"),
    (reachability, (torch.ones(3, 3), 2), TypeError, "bool tensor"),
    (reachability, ([[True]], 2), TypeError, "torch.Tensor"),
    (reachability, (torch.ones(3, 4, dtype=torch.bool), 2), ValueError, "square (n, n)"),
    (reachability, (torch.ones(3, 3, dtype=torch.bool), 0), ValueError, "num_layers must be >= 1"),
    (head_importance, ("not a function", 2), TypeError, "callable"),
    (head_importance, (lambda g: g.sum(), 0), ValueError, "num_heads must be >= 1"),
    (head_importance, (_not_scalar, 3), ValueError, "scalar tensor"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        function(*args)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("window", [1, 2, 3, 5, 7])
def test_gradient_receptive_field_matches_formula(layers: int, window: int) -> None:
    model = AttentionOnlyTransformer(6, 40, d_model=8, num_layers=layers, window=window)
    assert gradient_receptive_field(model, 40) == receptive_field(layers, window)


def test_gradient_receptive_field_full_causal_and_early_position() -> None:
    model = AttentionOnlyTransformer(6, 30, d_model=8, num_layers=2)
    assert gradient_receptive_field(model, 30) == 30
    windowed = AttentionOnlyTransformer(6, 30, d_model=8, num_layers=3, window=4)
    assert gradient_receptive_field(windowed, 30, position=5) == 6  # clipped by the sequence start


def test_input_gradient_norms_zero_outside_reach() -> None:
    model = AttentionOnlyTransformer(6, 20, d_model=8, num_layers=2, window=3)
    norms = input_gradient_norms(model, 20)
    assert norms.shape == (20,)
    assert (norms[:15] == 0).all() and (norms[15:] > 0).all()


def test_previous_token_and_induction_scores() -> None:
    tokens = torch.tensor([[5, 1, 2, 5, 1]])
    targets = torch.tensor([[-100, -100, -100, 1, -100]])
    weights = torch.zeros(1, 2, 5, 5)
    weights[0, 0, 0, 0] = 1.0
    weights[0, 0, torch.arange(1, 5), torch.arange(0, 4)] = 1.0  # head 0: previous token
    weights[0, 1] = torch.eye(5)
    weights[0, 1, 3] = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])  # head 1: after the earlier 5
    assert torch.allclose(previous_token_score(weights), torch.tensor([1.0, 0.0]))
    assert torch.allclose(induction_score(weights, tokens, targets), torch.tensor([0.0, 1.0]))


MODEL_BAD_INPUTS = [
    (gradient_receptive_field, ("model", 4), {}, TypeError, "AttentionOnlyTransformer"),
    (
        lambda: gradient_receptive_field(AttentionOnlyTransformer(5, 4), 8),
        (),
        {},
        ValueError,
        "max_len",
    ),
    (
        lambda: gradient_receptive_field(AttentionOnlyTransformer(5, 4), 4, position=4),
        (),
        {},
        ValueError,
        "position",
    ),
    (previous_token_score, (torch.zeros(2, 3, 4),), {}, ValueError, r"\(B, H, T, T\)"),
    (previous_token_score, (torch.zeros(1, 1, 4, 4, dtype=torch.long),), {}, TypeError, "float"),
    (
        induction_score,
        (torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3)),
        {},
        ValueError,
        "tokens and targets",
    ),
    (input_gradient_norms, (None, 4), {}, TypeError, "AttentionOnlyTransformer"),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "error", "fragment"), MODEL_BAD_INPUTS)
def test_bad_inputs_of_the_score_and_gradient_measures(fn, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args, **kwargs)
