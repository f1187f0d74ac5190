"""Tests of attnbook.positions: the sinusoidal table, rotary embeddings (RoPE) and ALiBi biases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import scaled_dot_product_attention
from attnbook.positions import alibi_bias, alibi_slopes, rotary, sinusoidal_positions


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- sinusoidal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(1, 2), (5, 8), (7, 5), (50, 64)])
def test_sinusoidal_matches_the_formula(n, d):
    table = sinusoidal_positions(n, d, dtype=torch.float64)
    assert table.shape == (n, d)
    for p in range(n):
        for column in range(d):
            i = column // 2
            angle = p / 10000.0 ** (2 * i / d)
            expected = math.sin(angle) if column % 2 == 0 else math.cos(angle)
            assert table[p, column].item() == pytest.approx(expected, abs=1e-12)


def test_sinusoidal_position_zero_and_base():
    table = sinusoidal_positions(4, 6, base=100.0, dtype=torch.float64)
    assert torch.equal(table[0], torch.tensor([0.0, 1.0] * 3, dtype=torch.float64))
    assert table[3, 2].item() == pytest.approx(math.sin(3 / 100.0 ** (2 / 6)))


def test_sinusoidal_dtype_and_default():
    assert sinusoidal_positions(3, 4).dtype == torch.get_default_dtype()
    assert sinusoidal_positions(3, 4, dtype=torch.float16).dtype == torch.float16


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n": 0, "d": 4}, ValueError),
        ({"n": 3, "d": 0}, ValueError),
        ({"n": 2.5, "d": 4}, TypeError),
        ({"n": 3, "d": 4, "base": 0.0}, ValueError),
        ({"n": 3, "d": 4, "base": -1.0}, ValueError),
        ({"n": 3, "d": 4, "dtype": torch.int64}, TypeError),
    ],
)
def test_sinusoidal_bad_inputs(kwargs, error):
    with pytest.raises(error):
        sinusoidal_positions(**kwargs)


# --- rotary -------------------------------------------------------------------------------------


def test_rotary_position_zero_is_identity_and_shape_is_kept():
    x = _randn(2, 3, 6, 8)
    turned = rotary(x)
    assert turned.shape == x.shape
    torch.testing.assert_close(turned[..., 0, :], x[..., 0, :], rtol=0, atol=0)


def test_rotary_keeps_norms():
    x = _randn(4, 10, 16, seed=1)
    torch.testing.assert_close(rotary(x).norm(dim=-1), x.norm(dim=-1), rtol=1e-12, atol=1e-12)


def test_rotary_dot_product_depends_only_on_the_offset():
    q, k = _randn(1, 16, seed=2), _randn(1, 16, seed=3)

    def score(p: float, s: float) -> float:
        qp = rotary(q, torch.tensor([p], dtype=torch.float64))
        ks = rotary(k, torch.tensor([s], dtype=torch.float64))
        return (qp @ ks.T).item()

    for offset in (0, 1, 5, 17):
        reference = score(offset, 0)
        for start in (3, 11, 40, 1000):
            assert score(start + offset, start) == pytest.approx(reference, abs=1e-9)
    assert score(5, 0) != pytest.approx(score(0, 0), abs=1e-3)


def test_rotary_matches_the_pairwise_formula():
    x = _randn(5, 4, seed=4)
    turned = rotary(x, base=100.0)
    for p in range(5):
        for i in range(2):
            angle = p * 100.0 ** (-2 * i / 4)
            a, b = x[p, 2 * i].item(), x[p, 2 * i + 1].item()
            assert turned[p, 2 * i].item() == pytest.approx(
                a * math.cos(angle) - b * math.sin(angle)
            )
            assert turned[p, 2 * i + 1].item() == pytest.approx(
                a * math.sin(angle) + b * math.cos(angle)
            )


def test_rotary_split_halves_is_a_permutation_of_interleaved():
    """GPT-NeoX/Llama pair dimension i with i + d/2; that is interleaved RoPE on permuted dims."""
    d = 8
    x = _randn(6, d, seed=5)
    half = d // 2
    angles = torch.arange(6, dtype=torch.float64)[:, None] * 10000.0 ** (
        -torch.arange(0, d, 2, dtype=torch.float64) / d
    )
    first, second = x[:, :half], x[:, half:]
    halves = torch.cat(
        [
            first * angles.cos() - second * angles.sin(),
            first * angles.sin() + second * angles.cos(),
        ],
        dim=-1,
    )
    order = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()
    torch.testing.assert_close(rotary(x[:, order])[:, order.argsort()], halves)


def test_rotary_explicit_positions_and_broadcast():
    x = _randn(2, 5, 4, seed=6)
    shifted = rotary(x, torch.arange(3, 8))
    assert torch.allclose(shifted, rotary(torch.cat([torch.zeros(2, 3, 4).double(), x], 1))[:, 3:])
    per_row = rotary(x, torch.stack([torch.arange(5), torch.arange(5) + 2]))
    torch.testing.assert_close(per_row[0], rotary(x[0]))
    torch.testing.assert_close(per_row[1], rotary(x[1], torch.arange(2, 7)))


@pytest.mark.parametrize(
    ("x", "positions", "error"),
    [
        (torch.zeros(3, 5), None, ValueError),  # odd d
        (torch.zeros(5), None, ValueError),  # 1-D
        (torch.zeros(3, 4, dtype=torch.int64), None, TypeError),
        ([[0.0, 1.0]], None, TypeError),
        (torch.zeros(3, 4), torch.arange(4), ValueError),  # wrong length
        (torch.zeros(3, 4), [0, 1, 2], TypeError),
    ],
)
def test_rotary_bad_inputs(x, positions, error):
    with pytest.raises(error):
        rotary(x, positions)


def test_rotary_odd_width_message_names_d():
    with pytest.raises(ValueError, match="d = 5"):
        rotary(torch.zeros(2, 5))


# --- ALiBi --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_heads", [1, 2, 4, 8, 12])
def test_alibi_slopes(n_heads):
    slopes = alibi_slopes(n_heads, dtype=torch.float64)
    expected = [2.0 ** (-8 * (h + 1) / n_heads) for h in range(n_heads)]
    assert slopes.tolist() == pytest.approx(expected)
    if n_heads == 8:
        assert slopes.tolist() == pytest.approx([1 / 2 ** (h + 1) for h in range(8)])


def test_alibi_bias_values():
    bias = alibi_bias(4, 5, 5, dtype=torch.float64)
    assert bias.shape == (4, 5, 5)
    slopes = alibi_slopes(4, dtype=torch.float64)
    for h in range(4):
        for i in range(5):
            assert bias[h, i, i].item() == 0
            for j in range(i + 1):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * (i - j))
    torch.testing.assert_close(bias, bias.transpose(-1, -2))  # symmetric beyond the diagonal


def test_alibi_bias_with_a_cache_puts_queries_last():
    bias = alibi_bias(2, 1, 6, dtype=torch.float64)
    full = alibi_bias(2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(bias[:, 0], full[:, -1])


def test_alibi_through_attnbook_attention_matches_torch_float_mask():
    q, k, v = _randn(2, 4, 7, 8, seed=7), _randn(2, 4, 7, 8, seed=8), _randn(2, 4, 7, 3, seed=9)
    bias = alibi_bias(4, 7, 7, dtype=torch.float64)
    causal = torch.ones(7, 7, dtype=torch.bool).tril()
    ours, weights = scaled_dot_product_attention(q, k, v, causal, bias=bias)
    theirs = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.masked_fill(~causal, float("-inf"))
    )
    torch.testing.assert_close(ours, theirs)
    assert bool((weights.sum(-1) - 1).abs().max() < 1e-12)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, 3, 3), ValueError),
        ((2, 0, 3), ValueError),
        ((2, 3, 0), ValueError),
        ((2.0, 3, 3), TypeError),
    ],
)
def test_alibi_bad_inputs(args, error):
    with pytest.raises(error):
        alibi_bias(*args)


def test_attention_bias_bad_inputs():
    q = _randn(3, 4)
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, bias=torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError):
        scaled_dot_product_attention(q, q, q, bias=torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN or inf"):
        scaled_dot_product_attention(
            q, q, q, bias=torch.full((3, 3), float("nan"), dtype=torch.float64)
        )


# --- devices ------------------------------------------------------------------------------------


def test_everything_follows_the_default_device_meta():
    with torch.device("meta"):
        assert sinusoidal_positions(4, 6).device.type == "meta"
        assert alibi_bias(2, 3, 3).device.type == "meta"
        x = torch.empty(2, 5, 8)
        assert rotary(x).device.type == "meta"
        assert rotary(x, torch.arange(5)).device.type == "meta"


def test_explicit_device_and_input_device():
    assert sinusoidal_positions(4, 6, device="meta").device.type == "meta"
    assert alibi_bias(2, 3, 3, device="meta").device.type == "meta"
    assert rotary(torch.empty(3, 4, device="meta")).device.type == "meta"
