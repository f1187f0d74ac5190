"""Tests for the score functions of attnbook.attention: dot, scaled dot, general, additive."""

from __future__ import annotations

import math
import re

import pytest
import torch

from attnbook.attention import (
    AdditiveScore,
    additive_score,
    dot_score,
    general_score,
    scaled_dot_product_attention,
    scaled_dot_score,
)

GEN = torch.Generator().manual_seed(0)
Q = torch.randn(2, 3, 4, generator=GEN)
K = torch.randn(2, 5, 4, generator=GEN)


def test_dot_score_is_q_k_transpose() -> None:
    scores = dot_score(Q, K)
    assert scores.shape == (2, 3, 5)
    assert torch.allclose(scores[1, 2, 4], (Q[1, 2] * K[1, 4]).sum())


def test_scaled_dot_score_divides_by_sqrt_dk() -> None:
    assert torch.allclose(scaled_dot_score(Q, K), dot_score(Q, K) / 2.0)
    assert torch.allclose(scaled_dot_score(Q, K, scale=0.1), dot_score(Q, K) * 0.1)


def test_general_score_reduces_to_dot_and_scaled_dot() -> None:
    assert torch.allclose(general_score(Q, K, torch.eye(4)), dot_score(Q, K))
    assert torch.allclose(general_score(Q, K, torch.eye(4) / 2.0), scaled_dot_score(Q, K))
    weight = torch.randn(4, 4, generator=GEN)
    assert torch.allclose(general_score(Q, K, weight), Q @ weight @ K.transpose(-2, -1), atol=1e-6)


def test_general_score_allows_different_query_and_key_sizes() -> None:
    q = torch.randn(3, 6, generator=GEN)
    weight = torch.randn(6, 4, generator=GEN)
    assert general_score(q, K[0], weight).shape == (3, 5)


def test_additive_score_matches_loop() -> None:
    w_query = torch.randn(4, 7, generator=GEN)
    w_key = torch.randn(4, 7, generator=GEN)
    v_score = torch.randn(7, generator=GEN)
    scores = additive_score(Q, K, w_query, w_key, v_score)
    assert scores.shape == (2, 3, 5)
    for b in range(2):
        for i in range(3):
            for j in range(5):
                expected = v_score @ torch.tanh(Q[b, i] @ w_query + K[b, j] @ w_key)
                assert torch.allclose(scores[b, i, j], expected, atol=1e-5)


def test_additive_scores_are_bounded_by_norm_of_v() -> None:
    v_score = torch.randn(7, generator=GEN)
    big = additive_score(100 * Q, 100 * K, torch.randn(4, 7), torch.randn(4, 7), v_score)
    assert bool((big.abs() <= v_score.abs().sum() + 1e-4).all())


def test_additive_score_module() -> None:
    torch.manual_seed(0)
    module = AdditiveScore(4, 4, 8)
    scores = module(Q, K)
    assert scores.shape == (2, 3, 5)
    scores.sum().backward()
    assert module.query_proj.weight.grad is not None


def test_scaled_dot_product_attention_uses_scaled_dot_score() -> None:
    v = torch.randn(2, 5, 3, generator=GEN)
    output, weights = scaled_dot_product_attention(Q, K, v)
    assert torch.allclose(weights, torch.softmax(scaled_dot_score(Q, K), -1))
    assert torch.allclose(output, weights @ v)
    reference = torch.nn.functional.scaled_dot_product_attention(Q, K, v)
    assert torch.allclose(output, reference, atol=1e-6)


def test_dot_score_variance_grows_like_dk() -> None:
    generator = torch.Generator().manual_seed(1)
    for d_k in (4, 64, 256):
        q = torch.randn(20000, 1, d_k, generator=generator)
        k = torch.randn(20000, 1, d_k, generator=generator)
        raw = dot_score(q, k).var().item()
        scaled = scaled_dot_score(q, k).var().item()
        assert raw / d_k == pytest.approx(1.0, rel=0.05)
        assert scaled == pytest.approx(1.0, rel=0.05)
        assert math.isfinite(raw)


BAD_INPUTS = [
    (dot_score, (Q.numpy(), K), TypeError, "q must be a torch.Tensor"),
    (dot_score, (Q, K.long()), TypeError, "k must be a floating-point"),
    (dot_score, (Q, K[..., :3]), ValueError, "same last dimension d_k"),
    (dot_score, (Q[0, 0], K), ValueError, "q must have at least 2 dimensions"),
    (dot_score, (Q, K.double()), TypeError, "share a dtype"),
    (dot_score, (Q, torch.randn(3, 5, 4)), ValueError, "do not broadcast"),
    (scaled_dot_score, (Q, K, 0.0), ValueError, "scale must be a finite number > 0"),
    (scaled_dot_score, (Q, K, "1/8"), TypeError, "scale must be a number"),
    (general_score, (Q, K, torch.eye(3)), ValueError, "weight must have shape (d_q, d_k) = (4, 4)"),
    (general_score, (Q, K, torch.eye(4).long()), TypeError, "weight must be a floating-point"),
    (
        additive_score,
        (Q, K, torch.randn(4, 7), torch.randn(4, 7), torch.randn(7, 1)),
        ValueError,
        "v_score must have shape (hidden,)",
    ),
    (
        additive_score,
        (Q, K, torch.randn(3, 7), torch.randn(4, 7), torch.randn(7)),
        ValueError,
        "w_query must be (d_q, hidden) = (4, 7)",
    ),
    (
        additive_score,
        (Q, K, torch.randn(4, 7), torch.randn(4, 6), torch.randn(7)),
        ValueError,
        "w_key (d_k, hidden)",
    ),
    (
        additive_score,
        (Q[0, 0], K, torch.randn(4, 7), torch.randn(4, 7), torch.randn(7)),
        ValueError,
        "q must have at least 2 dimensions",
    ),
    (AdditiveScore, (4, 0, 8), ValueError, "key_dim must be >= 1"),
    (AdditiveScore, (4, 4, 2.5), TypeError, "hidden_dim must be an int"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        function(*args)
