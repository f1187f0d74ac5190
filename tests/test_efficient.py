"""Tests for attnbook.efficient: chunked, windowed and linear attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import causal_mask, scaled_dot_product_attention, window_mask
from attnbook.bench import peak_memory_bytes
from attnbook.efficient import (
    CausalAttentionLM,
    CausalSelfAttention,
    chunked_attention,
    elu_feature_map,
    linear_attention,
    online_softmax_merge,
    windowed_attention,
)


def _qkv(*batch: int, n_q: int = 37, n_k: int = 53, d: int = 8, d_v: int = 5, seed: int = 0):
    """Random float64 q (*batch, n_q, d), k (*batch, n_k, d), v (*batch, n_k, d_v)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, n_q, d, generator=gen, dtype=torch.float64)
    k = torch.randn(*batch, n_k, d, generator=gen, dtype=torch.float64)
    v = torch.randn(*batch, n_k, d_v, generator=gen, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("blocks", [(8, 16), (37, 53), (5, 7), (64, 64), (1, 1)])
def test_chunked_equals_exact(blocks: tuple[int, int]) -> None:
    q, k, v = _qkv(2, 3)
    expected, _ = scaled_dot_product_attention(q, k, v)
    out = chunked_attention(q, k, v, block_q=blocks[0], block_k=blocks[1])
    torch.testing.assert_close(out, expected)


def test_chunked_equals_torch_sdpa_float32_4d_and_causal() -> None:
    q, k, v = (x.float() for x in _qkv(2, 4, n_q=70, n_k=70, d=16, d_v=16))
    torch.testing.assert_close(
        chunked_attention(q, k, v, block_q=16, block_k=32), F.scaled_dot_product_attention(q, k, v)
    )
    torch.testing.assert_close(
        chunked_attention(q, k, v, causal=True, block_q=16, block_k=32),
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
    )


def test_chunked_mask_scale_temperature_and_empty_rows() -> None:
    q, k, v = _qkv(2, 3)
    gen = torch.Generator().manual_seed(1)
    mask = torch.rand(3, 37, 53, generator=gen) > 0.6
    mask[1, 4] = False  # a query that may attend to nothing
    expected, _ = scaled_dot_product_attention(q, k, v, mask, scale=0.7, temperature=2.0)
    out = chunked_attention(q, k, v, mask, scale=0.7, temperature=2.0, block_q=8, block_k=8)
    torch.testing.assert_close(out, expected)
    assert torch.isfinite(out).all()
    assert (out[:, 1, 4] == 0).all()


def test_chunked_causal_matches_causal_mask_and_combines_with_mask() -> None:
    q, k, v = _qkv(2, n_q=40, n_k=50)
    expected, _ = scaled_dot_product_attention(q, k, v, causal_mask(40, 50))
    torch.testing.assert_close(
        chunked_attention(q, k, v, causal=True, block_q=7, block_k=9), expected
    )
    mask = torch.ones(40, 50, dtype=torch.bool)
    mask[:, 0] = False  # query 0 then sees nothing at all
    both, _ = scaled_dot_product_attention(q, k, v, causal_mask(40, 50) & mask)
    out = chunked_attention(q, k, v, mask, causal=True, block_q=7, block_k=9)
    torch.testing.assert_close(out, both)
    assert (out[:, 0] == 0).all()


def test_chunked_broadcasts_batch_dimensions() -> None:
    q, _, _ = _qkv(2, 3)
    _, k, v = _qkv(3, seed=1)  # keys and values shared across the leading batch dimension
    expected, _ = scaled_dot_product_attention(q, k, v)
    out = chunked_attention(q, k, v, block_q=16, block_k=16)
    assert out.shape == (2, 3, 37, 5)
    torch.testing.assert_close(out, expected)


def test_chunked_gradients_match_exact() -> None:
    q, k, v = _qkv(2, n_q=11, n_k=13, d=4, d_v=3)
    mask = torch.rand(11, 13, generator=torch.Generator().manual_seed(2)) > 0.3
    mask[3] = False
    leaves = [x.clone().requires_grad_(True) for x in (q, k, v)]
    assert torch.autograd.gradcheck(
        lambda a, b, c: chunked_attention(a, b, c, mask, block_q=4, block_k=5), leaves
    )
    assert torch.autograd.gradcheck(
        lambda a, b, c: chunked_attention(
            a, b, c, causal=True, temperature=0.5, block_q=3, block_k=4
        ),
        leaves,
    )
    grad_out = torch.randn(2, 11, 3, dtype=torch.float64)
    exact = torch.autograd.grad(scaled_dot_product_attention(*leaves, mask)[0], leaves, grad_out)
    tiled = torch.autograd.grad(
        chunked_attention(*leaves, mask, block_q=4, block_k=5), leaves, grad_out
    )
    for a, b in zip(exact, tiled, strict=True):
        torch.testing.assert_close(a, b)


def test_chunked_memory_is_far_below_naive() -> None:
    q, k, v = (torch.randn(1, 2, 512, 16) for _ in range(3))
    naive = peak_memory_bytes(lambda: scaled_dot_product_attention(q, k, v)[0])
    tiled = peak_memory_bytes(lambda: chunked_attention(q, k, v, block_q=64, block_k=64))
    assert naive >= 2 * 2 * 512 * 512 * 4  # scores and weights, 2 heads
    assert tiled < naive / 8


def test_online_softmax_merge_equals_whole_softmax_statistics() -> None:
    x = torch.randn(4, 30, dtype=torch.float64)
    a, b = x[:, :12], x[:, 12:]
    max_a, max_b = a.amax(dim=1), b.amax(dim=1)
    sum_a = (a - max_a[:, None]).exp().sum(dim=1)
    sum_b = (b - max_b[:, None]).exp().sum(dim=1)
    new_max, new_sum = online_softmax_merge(max_a, sum_a, max_b, sum_b)
    torch.testing.assert_close(new_max, x.amax(dim=1))
    torch.testing.assert_close(new_max + new_sum.log(), torch.logsumexp(x, dim=1))


@pytest.mark.parametrize(("window", "block"), [(1, 8), (5, 8), (16, 4), (64, 16), (200, 32)])
def test_windowed_equals_masked_exact(window: int, block: int) -> None:
    q, k, v = _qkv(2, n_q=45, n_k=45)
    expected, _ = scaled_dot_product_attention(q, k, v, window_mask(45, window))
    torch.testing.assert_close(windowed_attention(q, k, v, window, block=block), expected)


def test_windowed_as_wide_as_the_sequence_is_causal_attention() -> None:
    q, k, v = _qkv(3, n_q=30, n_k=30)
    torch.testing.assert_close(
        windowed_attention(q, k, v, 30, block=8),
        chunked_attention(q, k, v, causal=True),
    )


def _linear_reference(q, k, v, causal: bool) -> torch.Tensor:
    """Quadratic form of linear attention: row-normalised φ(q)φ(k)ᵀ (lower-triangular if causal) v."""
    scores = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)
    if causal:
        scores = scores.tril()
    return (scores / scores.sum(dim=-1, keepdim=True)) @ v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_linear_attention_equals_its_quadratic_form(causal: bool, chunk: int) -> None:
    q, k, v = _qkv(2, 3, n_q=29, n_k=29)
    out = linear_attention(q, k, v, causal=causal, chunk=chunk, eps=1e-12)
    torch.testing.assert_close(out, _linear_reference(q, k, v, causal))


def test_linear_attention_with_a_softmax_like_feature_map_is_not_softmax() -> None:
    q, k, v = _qkv(2, n_q=20, n_k=20)
    exact, _ = scaled_dot_product_attention(q, k, v)
    out = linear_attention(q, k, v)
    assert (out - exact).abs().max() > 0.05  # a different model, not an approximation
    assert elu_feature_map(torch.tensor([-5.0, 0.0, 2.0])).min() > 0


@pytest.mark.parametrize("mixer", ["softmax", "linear"])
def test_causal_self_attention_is_causal_and_uses_its_mixer(mixer: str) -> None:
    torch.manual_seed(0)
    layer = CausalSelfAttention(8, 2, mixer=mixer).double()
    x = torch.randn(3, 10, 8, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (3, 10, 8)
    changed = x.clone()
    changed[:, 6:] += 1.0  # later positions must not move earlier outputs
    torch.testing.assert_close(layer(changed)[:, :6], out[:, :6])
    q, k, v = layer.qkv(x).view(3, 10, 3, 2, 4).permute(2, 0, 3, 1, 4)
    if mixer == "softmax":
        heads = chunked_attention(q, k, v, causal=True)
    else:
        heads = _linear_reference(q, k, v, causal=True)
    expected = layer.out_proj(heads.transpose(1, 2).reshape(3, 10, 8))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)  # linear_attention's eps


@pytest.mark.parametrize("mixer", ["softmax", "linear"])
def test_causal_attention_lm_gives_causal_logits(mixer: str) -> None:
    torch.manual_seed(0)
    model = CausalAttentionLM(12, 9, d_model=16, num_layers=2, num_heads=2, mixer=mixer)
    tokens = torch.randint(0, 12, (4, 9))
    logits = model(tokens)
    assert logits.shape == (4, 9, 12)
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 12
    torch.testing.assert_close(model(changed)[:, :5], logits[:, :5])
    assert model(tokens[:, :4]).shape == (4, 4, 12)


def test_linear_recall_runs_a_tiny_grid() -> None:
    from attnbook.experiments.linear_recall import CONFIG, run_all, run_recall

    tiny = CONFIG | {"steps": 2, "batch_size": 4, "eval_size": 8, "pairs": [2], "seeds": [0]}
    model, accuracy = run_recall("linear", 2, 0, tiny)
    assert isinstance(model, CausalAttentionLM) and 0.0 <= accuracy <= 1.0
    report = run_all(tiny, progress=False)
    assert [(r["mixer"], r["pairs"], r["seed"]) for r in report["results"]] == [
        ("softmax", 2, 0),
        ("linear", 2, 0),
    ]
    with pytest.raises(ValueError, match="unknown mixer"):
        run_recall("quadratic", 2, 0, tiny)


Q, K, V = (torch.randn(2, 6, 4), torch.randn(2, 7, 4), torch.randn(2, 7, 3))

BAD_INPUTS = [
    (chunked_attention, (Q.long(), K, V), {}, TypeError, "floating-point"),
    (chunked_attention, (Q, K.double(), V), {}, TypeError, "share a dtype"),
    (chunked_attention, (Q, torch.randn(2, 7, 5), V), {}, ValueError, "last dimension d_k"),
    (chunked_attention, (Q, K, torch.randn(2, 6, 3)), {}, ValueError, "number of positions n_k"),
    (chunked_attention, (torch.randn(4), K, V), {}, ValueError, "at least 2 dimensions"),
    (chunked_attention, (torch.randn(3, 6, 4), K, V), {}, ValueError, "do not broadcast"),
    (chunked_attention, (Q * float("nan"), K, V), {}, ValueError, "NaN or inf"),
    (chunked_attention, (Q, K, V, torch.ones(6, 7)), {}, TypeError, "bool"),
    (
        chunked_attention,
        (Q, K, V, torch.ones(5, 7, dtype=torch.bool)),
        {},
        ValueError,
        "does not broadcast",
    ),
    (chunked_attention, (Q, K, V), {"block_q": 0}, ValueError, "block_q must be >= 1"),
    (chunked_attention, (Q, K, V), {"block_k": 2.5}, TypeError, "block_k must be an int"),
    (chunked_attention, (Q, K, V), {"scale": -1.0}, ValueError, "scale"),
    (chunked_attention, (Q, K, V), {"temperature": 0.0}, ValueError, "temperature"),
    (chunked_attention, (Q, K, V), {"causal": 1}, TypeError, "causal must be a bool"),
    (windowed_attention, (Q, K, V, 3), {}, ValueError, "same number of positions"),
    (windowed_attention, (Q, Q, torch.randn(2, 6, 3), 0), {}, ValueError, "window must be >= 1"),
    (windowed_attention, (Q, Q, torch.randn(2, 6, 3), 2), {"block": 0}, ValueError, "block"),
    (linear_attention, (Q, K, V), {"causal": True}, ValueError, "n_q == n_k"),
    (linear_attention, (Q, K, V), {"feature_map": 3}, TypeError, "feature_map must be callable"),
    (linear_attention, (Q, K, V), {"feature_map": lambda x: x[..., :1, :]}, ValueError, "keep all"),
    (linear_attention, (Q, K, V), {"chunk": -1}, ValueError, "chunk"),
    (linear_attention, (Q, K, V), {"eps": 0.0}, ValueError, "eps"),
    (elu_feature_map, (torch.arange(3),), {}, TypeError, "floating-point"),
    (CausalSelfAttention, (8, 3), {}, ValueError, "divisible"),
    (CausalSelfAttention, (8, 2), {"mixer": "rnn"}, ValueError, "unknown mixer"),
    (CausalSelfAttention(8, 2), (torch.randn(2, 5, 7),), {}, ValueError, "d_model=8"),
    (CausalAttentionLM, (0, 8), {}, ValueError, "vocab_size must be >= 1"),
    (
        CausalAttentionLM(5, 4, d_model=8),
        (torch.zeros(1, 5, dtype=torch.long),),
        {},
        ValueError,
        "max_len",
    ),
    (CausalAttentionLM(5, 4, d_model=8), (torch.full((1, 3), 5),), {}, ValueError, "token ids"),
    (CausalAttentionLM(5, 4, d_model=8), (torch.zeros(1, 3),), {}, TypeError, "int64"),
    (
        online_softmax_merge,
        (torch.zeros(2), torch.zeros(2), torch.zeros(3), torch.zeros(3)),
        {},
        ValueError,
        "one shape",
    ),
    (
        online_softmax_merge,
        (torch.zeros(2), [0, 0], torch.zeros(2), torch.zeros(2)),
        {},
        TypeError,
        "torch.Tensor",
    ),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(fn, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args, **kwargs)
