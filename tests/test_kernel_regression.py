"""Tests for attnbook.kernel_regression (Nadaraya–Watson as attention) and its 1-D data set."""

from __future__ import annotations

import math
import re

import pytest
import torch

from attnbook.attention import scaled_dot_product_attention
from attnbook.data.regression1d import make_regression_1d, wavy_curve
from attnbook.kernel_regression import (
    gaussian_as_dot_product,
    gaussian_kernel_scores,
    leave_one_out_error,
    nadaraya_watson,
)


def test_weights_are_a_gaussian_softmax() -> None:
    keys = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    queries = torch.tensor([0.5], dtype=torch.float64)
    _, weights = nadaraya_watson(queries, keys, torch.zeros(3, dtype=torch.float64), 1.0)
    raw = torch.exp(-((0.5 - keys) ** 2) / 2)
    assert torch.allclose(weights[0], raw / raw.sum())
    assert torch.allclose(weights.sum(-1), torch.ones(1, dtype=torch.float64))


def test_predictions_are_weighted_averages_and_shapes() -> None:
    x, y = make_regression_1d(40, seed=1)
    grid = torch.linspace(0, 5, 7, dtype=torch.float64)
    predictions, weights = nadaraya_watson(grid, x, y, 0.3)
    assert predictions.shape == (7,) and weights.shape == (7, 40)
    assert torch.allclose(predictions, weights @ y)
    two_targets = torch.stack([y, 2 * y], dim=1)
    predictions_2d, _ = nadaraya_watson(grid, x, two_targets, 0.3)
    assert predictions_2d.shape == (7, 2)
    assert torch.allclose(predictions_2d[:, 1], 2 * predictions)


def test_bandwidth_limits() -> None:
    x, y = make_regression_1d(30, seed=2)
    # tiny bandwidth: each training point predicts itself (interpolation)
    narrow, _ = nadaraya_watson(x, x, y, 1e-4)
    assert torch.allclose(narrow, y)
    # huge bandwidth: every prediction is the mean of y
    wide, _ = nadaraya_watson(x, x, y, 1e4)
    assert torch.allclose(wide, y.mean().expand(30), atol=1e-6)


def test_leave_one_out_excludes_self() -> None:
    x, y = make_regression_1d(20, seed=3)
    predictions, weights = nadaraya_watson(x, x, y, 0.5, leave_one_out=True)
    assert torch.all(weights.diagonal() == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(20, dtype=torch.float64))
    assert leave_one_out_error(x, y, 0.5) == pytest.approx((predictions - y).pow(2).mean().item())


def test_multivariate_inputs() -> None:
    generator = torch.Generator().manual_seed(0)
    keys = torch.randn(12, 3, generator=generator)
    queries = torch.randn(5, 3, generator=generator)
    scores = gaussian_kernel_scores(queries, keys, 0.7)
    expected = -torch.cdist(queries, keys).pow(2) / (2 * 0.49)
    assert torch.allclose(scores, expected, atol=1e-5)


@pytest.mark.parametrize("bandwidth", [0.1, 0.5, 2.0])
def test_gaussian_kernel_is_dot_product_attention_on_augmented_vectors(bandwidth: float) -> None:
    x, y = make_regression_1d(25, seed=4)
    grid = torch.linspace(0, 5, 9, dtype=torch.float64)
    predictions, weights = nadaraya_watson(grid, x, y, bandwidth)
    q_tilde, k_tilde = gaussian_as_dot_product(grid, x)
    assert q_tilde.shape == (9, 2) and k_tilde.shape == (25, 2)
    output, attention = scaled_dot_product_attention(
        q_tilde, k_tilde, y[:, None], scale=1.0 / bandwidth**2
    )
    assert torch.allclose(attention, weights)
    assert torch.allclose(output[:, 0], predictions)


def test_regression_data_is_seeded_sorted_and_noisy() -> None:
    x, y = make_regression_1d(50, noise=0.4, seed=0)
    x2, y2 = make_regression_1d(50, noise=0.4, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert bool((x[1:] >= x[:-1]).all()) and 0 <= x.min() and x.max() <= 5
    residual_sd = (y - wavy_curve(x)).std().item()
    assert 0.25 < residual_sd < 0.55
    clean_x, clean_y = make_regression_1d(10, noise=0.0)
    assert torch.allclose(clean_y, torch.sin(2 * clean_x) + 0.4 * clean_x)
    assert math.isclose(wavy_curve(torch.tensor([0.0])).item(), 0.0)


POINTS = torch.linspace(0, 1, 4)
BAD_INPUTS = [
    (gaussian_kernel_scores, ([0.0], POINTS, 1.0), TypeError, "queries must be a torch.Tensor"),
    (
        gaussian_kernel_scores,
        (torch.tensor([1, 2]), POINTS, 1.0),
        TypeError,
        "queries must be a floating-point",
    ),
    (gaussian_kernel_scores, (POINTS, torch.zeros(0), 1.0), ValueError, "keys must be non-empty"),
    (
        gaussian_kernel_scores,
        (torch.zeros(2, 2, 2), POINTS, 1.0),
        ValueError,
        "shaped (n,) or (n, d)",
    ),
    (
        gaussian_kernel_scores,
        (torch.zeros(2, 3), torch.zeros(4, 2), 1.0),
        ValueError,
        "same number of features d",
    ),
    (gaussian_kernel_scores, (POINTS, POINTS.double(), 1.0), TypeError, "share a dtype"),
    (
        gaussian_kernel_scores,
        (POINTS, POINTS, 0.0),
        ValueError,
        "bandwidth must be a finite number > 0",
    ),
    (gaussian_kernel_scores, (POINTS, POINTS, "wide"), TypeError, "bandwidth must be a number"),
    (
        gaussian_kernel_scores,
        (torch.tensor([float("nan")]), POINTS, 1.0),
        ValueError,
        "queries contains NaN",
    ),
    (nadaraya_watson, (POINTS, POINTS, torch.zeros(3), 1.0), ValueError, "n = 4 keys, got (3,)"),
    (
        nadaraya_watson,
        (POINTS, POINTS, torch.zeros(4, dtype=torch.long), 1.0),
        TypeError,
        "values must be a floating-point",
    ),
    (leave_one_out_error, (POINTS[:1], torch.zeros(1), 1.0), ValueError, "at least 2 keys"),
    (
        gaussian_as_dot_product,
        (torch.zeros(2, 3), torch.zeros(4, 2)),
        ValueError,
        "same number of features d",
    ),
    (make_regression_1d, (0,), ValueError, "n must be >= 1"),
    (wavy_curve, ([1.0],), TypeError, "x must be a torch.Tensor"),
]


def _loo_with_other_queries() -> None:
    nadaraya_watson(POINTS[:2], POINTS, torch.zeros(4), 1.0, leave_one_out=True)


def _negative_noise() -> None:
    make_regression_1d(10, noise=-1.0)


def _empty_range() -> None:
    make_regression_1d(10, low=1.0, high=1.0)


BAD_INPUTS += [
    (_loo_with_other_queries, (), ValueError, "leave_one_out needs queries identical to keys"),
    (_negative_noise, (), ValueError, "noise must be a number >= 0"),
    (_empty_range, (), ValueError, "high - low must be a finite number > 0"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        function(*args)
