"""Tests of attnbook.attention against PyTorch's own attention and against the contract."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import (
    AdditiveScore,
    MultiHeadAttention,
    additive_score,
    causal_mask,
    dot_score,
    general_score,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_score,
    window_mask,
)

SHAPES = [
    # (batch dims, n_q, n_k, d_k, d_v)
    ((), 1, 1, 1, 1),
    ((), 3, 5, 4, 2),
    ((2,), 7, 7, 8, 8),
    ((2, 3), 4, 6, 16, 5),
    ((1, 4), 9, 3, 2, 7),
]
DTYPES_TOL = [(torch.float32, 1e-5), (torch.float64, 1e-12)]


def _qkv(batch, n_q, n_k, d_k, d_v, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, n_q, d_k, generator=generator, dtype=dtype)
    k = torch.randn(*batch, n_k, d_k, generator=generator, dtype=dtype)
    v = torch.randn(*batch, n_k, d_v, generator=generator, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize(("shape", "dtype_tol"), list(itertools.product(SHAPES, DTYPES_TOL)))
def test_matches_torch_without_mask(shape, dtype_tol):
    dtype, tol = dtype_tol
    q, k, v = _qkv(*shape, dtype)
    output, weights = scaled_dot_product_attention(q, k, v)
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(output, expected, rtol=tol, atol=tol)
    assert weights.shape == (*shape[0], shape[1], shape[2])


@pytest.mark.parametrize(("shape", "dtype_tol"), list(itertools.product(SHAPES, DTYPES_TOL)))
def test_matches_torch_with_random_mask(shape, dtype_tol):
    dtype, tol = dtype_tol
    q, k, v = _qkv(*shape, dtype, seed=1)
    generator = torch.Generator().manual_seed(2)
    mask = torch.rand(shape[1], shape[2], generator=generator) > 0.4
    mask[:, 0] = True  # every row attends somewhere, so torch is defined everywhere
    output, _ = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(output, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(("n_q", "n_k"), [(1, 1), (5, 5), (4, 9), (8, 3)])
@pytest.mark.parametrize("dtype_tol", DTYPES_TOL)
def test_causal_mask_matches_is_causal(n_q, n_k, dtype_tol):
    dtype, tol = dtype_tol
    q, k, v = _qkv((2, 2), n_q, n_k, 8, 4, dtype, seed=3)
    output, weights = scaled_dot_product_attention(q, k, v, causal_mask(n_q, n_k))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(output, expected, rtol=tol, atol=tol)
    assert torch.all(weights.triu(diagonal=1) == 0)


def test_per_batch_mask_broadcasts():
    q, k, v = _qkv((3,), 4, 5, 8, 2, torch.float64)
    mask = torch.ones(3, 1, 5, dtype=torch.bool)
    mask[1, :, 2:] = False
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(weights[1, :, 2:] == 0)


@pytest.mark.parametrize(("scale", "temperature"), [(0.5, 1.0), (None, 2.0), (2.0, 0.25)])
def test_scale_and_temperature(scale, temperature):
    q, k, v = _qkv((2,), 3, 4, 6, 5, torch.float64)
    output, _ = scaled_dot_product_attention(q, k, v, scale=scale, temperature=temperature)
    effective = (1 / math.sqrt(6) if scale is None else scale) / temperature
    expected = F.scaled_dot_product_attention(q, k, v, scale=effective)
    torch.testing.assert_close(output, expected, rtol=1e-12, atol=1e-12)


def test_weights_rows_sum_to_one():
    q, k, v = _qkv((2, 3), 6, 7, 4, 4, torch.float32)
    _, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 6))
    assert bool((weights >= 0).all())


def test_fully_masked_row_gives_zero_weights_output_and_gradient():
    q, k, v = (t.requires_grad_() for t in _qkv((2,), 3, 4, 5, 6, torch.float64))
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(weights[:, 1] == 0) and torch.all(output[:, 1] == 0)
    assert not torch.isnan(output).any()
    output.sum().backward()
    for tensor in (q, k, v):
        assert torch.isfinite(tensor.grad).all()
    assert torch.all(q.grad[:, 1] == 0)


def test_masked_softmax_all_false_row_is_zero():
    scores = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[True, False], [False, False]])
    weights = masked_softmax(scores, mask)
    torch.testing.assert_close(weights, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def test_gradcheck_float64():
    q, k, v = (t.requires_grad_() for t in _qkv((2,), 3, 4, 5, 2, torch.float64, seed=4))
    mask = causal_mask(3, 4)
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask)[0], (q, k, v)
    )


def test_self_attention_is_permutation_equivariant():
    x = torch.randn(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    output, _ = scaled_dot_product_attention(x, x, x)
    permuted_output, _ = scaled_dot_product_attention(
        x[permutation], x[permutation], x[permutation]
    )
    torch.testing.assert_close(permuted_output, output[permutation])


def test_score_functions():
    q, k, _ = _qkv((2,), 3, 4, 5, 1, torch.float64)
    torch.testing.assert_close(dot_score(q, k), q @ k.transpose(-2, -1))
    torch.testing.assert_close(scaled_dot_score(q, k), q @ k.transpose(-2, -1) / math.sqrt(5))
    weight = torch.randn(5, 5, dtype=torch.float64)
    torch.testing.assert_close(general_score(q, k, weight), q @ weight @ k.transpose(-2, -1))
    w_q, w_k, v_s = (torch.randn(s, dtype=torch.float64) for s in ((5, 7), (5, 7), (7,)))
    expected = torch.stack(
        [
            torch.stack([torch.tanh(q[b, i] @ w_q + k[b, j] @ w_k) @ v_s for j in range(4)])
            for b in range(2)
            for i in range(3)
        ]
    ).view(2, 3, 4)
    torch.testing.assert_close(additive_score(q, k, w_q, w_k, v_s), expected)
    module = AdditiveScore(5, 5, 7).double()
    assert module(q, k).shape == (2, 3, 4)


def test_window_mask():
    mask = window_mask(5, 2)
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 0, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)
    assert torch.equal(window_mask(4, 10), causal_mask(4))


def test_multi_head_attention_matches_torch():
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4).double()
    theirs = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(
            torch.cat([ours.query_proj.weight, ours.key_proj.weight, ours.value_proj.weight])
        )
        theirs.in_proj_bias.copy_(
            torch.cat([ours.query_proj.bias, ours.key_proj.bias, ours.value_proj.bias])
        )
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    memory = torch.randn(2, 7, 16, dtype=torch.float64)
    output, weights = ours(x, memory)
    expected, expected_weights = theirs(x, memory, memory, average_attn_weights=False)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(weights, expected_weights)
    assert weights.shape == (2, 4, 5, 7)


def test_multi_head_attention_causal_mask_blocks_future():
    torch.manual_seed(0)
    attention = MultiHeadAttention(8, 2)
    x = torch.randn(1, 6, 8)
    output, _ = attention(x, mask=causal_mask(6))
    changed = x.clone()
    changed[0, 4:] += 10.0
    changed_output, _ = attention(changed, mask=causal_mask(6))
    torch.testing.assert_close(output[0, :4], changed_output[0, :4])
