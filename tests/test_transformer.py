"""Tests of attnbook.models.transformer: the block equals torch's encoder layer, its parts, its hooks."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from attnbook.experiments.transformer import (
    IGNORE_INDEX,
    neighbour_pair_batch,
    neighbour_sum_batch,
    previous_token_batch,
)
from attnbook.models.digit_rows import DigitRowAttention
from attnbook.models.sasrec import SASRec
from attnbook.models.small_transformer import TinyTransformerClassifier
from attnbook.models.transformer import POSITIONS, TokenTransformer, TransformerBlock
from attnbook.models.vit import TinyViT
from attnbook.positions import alibi_bias
from attnbook.train import masked_accuracy


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("norm_first", "activation", "causal"),
    list(itertools.product([True, False], ["relu", "gelu"], [False, True])),
)
def test_from_torch_gives_the_same_output(norm_first, activation, causal):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        32, 4, 48, dropout=0.1, activation=activation, batch_first=True, norm_first=norm_first
    ).eval()
    block = TransformerBlock.from_torch(layer, causal=causal)
    assert not block.training
    x = _x(3, 9, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(9) if causal else None
    with torch.no_grad():
        expected = layer(x, src_mask=mask, is_causal=causal)
        got = block(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-5)


def test_from_torch_with_a_padding_style_mask():
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    block = TransformerBlock.from_torch(layer)
    x = _x(2, 6, 16, seed=1)
    allowed = torch.ones(2, 6, 6, dtype=torch.bool)
    allowed[1, :, 4:] = False  # the second sequence's last two positions are padding
    with torch.no_grad():
        expected = layer(x, src_mask=(~allowed).repeat_interleave(2, dim=0))
        got = block(x, allowed)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-5)


def test_from_torch_gradients_match():
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    block = TransformerBlock.from_torch(layer)
    x = _x(2, 5, 16, seed=2)
    layer(x).square().sum().backward()
    block(x).square().sum().backward()
    torch.testing.assert_close(
        block.linear1.weight.grad, layer.linear1.weight.grad, atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        block.query.weight.grad, layer.self_attn.in_proj_weight.grad[:16], atol=1e-5, rtol=0
    )


def test_from_torch_bad_layers():
    with pytest.raises(TypeError):
        TransformerBlock.from_torch(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="batch_first"):
        TransformerBlock.from_torch(nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(ValueError, match="biases"):
        TransformerBlock.from_torch(
            nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, bias=False)
        )
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, activation=torch.tanh)
    with pytest.raises(ValueError, match="ReLU or GELU"):
        TransformerBlock.from_torch(layer)


def test_shapes_and_last_weights():
    block = TransformerBlock(24, 3, 40).eval()
    x = _x(2, 7, 24)
    out = block(x)
    assert out.shape == x.shape
    assert block.last_weights.shape == (2, 3, 7, 7)
    torch.testing.assert_close(block.last_weights.sum(-1), torch.ones(2, 3, 7))
    assert block.last_kv[0].shape == (2, 3, 7, 8)


def test_causal_block_does_not_look_ahead():
    block = TransformerBlock(16, 2, 32, causal=True).eval()
    x = _x(1, 8, 16)
    changed = x.clone()
    changed[:, 5:] += 1.0
    with torch.no_grad():
        torch.testing.assert_close(block(x)[:, :5], block(changed)[:, :5])
    assert bool((block.last_weights[0, :, 2, 3:] == 0).all())


def test_cached_decoding_equals_the_full_pass():
    for rotary in (False, True):
        block = TransformerBlock(16, 2, 32, causal=True, rotary=rotary).eval()
        x = _x(2, 6, 16, seed=3)
        bias = alibi_bias(2, 6, 6)
        with torch.no_grad():
            full = block(x, bias=bias)
            first = block(x[:, :4], bias=alibi_bias(2, 4, 4))
            cache = block.last_kv
            rest = [first]
            for t in (4, 5):
                rest.append(block(x[:, t : t + 1], bias=alibi_bias(2, 1, t + 1), past_kv=cache))
                cache = block.last_kv
        torch.testing.assert_close(torch.cat(rest, dim=1), full, atol=1e-5, rtol=0)


def test_pre_ln_residual_stream_is_the_sum_of_the_writes():
    block = TransformerBlock(16, 2, 32).eval()
    x = _x(2, 5, 16)
    with torch.no_grad():
        out = block(x)
    writes = block.last_writes
    assert set(writes) == {"attention", "feed_forward"}
    torch.testing.assert_close(out, x + writes["attention"] + writes["feed_forward"])


@pytest.mark.parametrize(
    "part",
    [{"attention": False}, {"feed_forward": False}, {"residual": False}, {"layer_norm": False}],
)
def test_ablated_blocks(part):
    block = TransformerBlock(16, 2, 32, **part).eval()
    x = _x(2, 5, 16)
    out = block(x)
    assert out.shape == x.shape
    if part == {"attention": False}:
        # no attention: positions do not mix
        torch.testing.assert_close(block(x[:, :1]), out[:, :1])
    if part == {"layer_norm": False}:
        assert isinstance(block.norm1, nn.Identity)
    if part == {"residual": False}:
        writes = block.last_writes
        torch.testing.assert_close(out, writes["feed_forward"])


def test_without_positions_self_attention_is_permutation_equivariant():
    torch.manual_seed(0)
    model = TokenTransformer(10, 5, positions="none").eval()
    tokens = torch.randint(10, (2, 9))
    order = torch.randperm(9)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens[:, order]), model(tokens)[:, order])
    learned = TokenTransformer(10, 5, positions="learned").eval()
    with torch.no_grad():
        assert not torch.allclose(learned(tokens[:, order]), learned(tokens)[:, order], atol=1e-4)


@pytest.mark.parametrize("positions", POSITIONS)
def test_token_transformer_every_position_kind(positions):
    model = TokenTransformer(12, 7, d_model=16, n_heads=2, positions=positions, max_len=20)
    logits = model(torch.randint(12, (3, 11)))
    assert logits.shape == (3, 11, 7)
    assert len(model.last_stream) == 3
    if positions != "learned":
        assert model(torch.randint(12, (1, 40))).shape == (1, 40, 7)


def test_token_transformer_bad_inputs():
    model = TokenTransformer(5, 3, d_model=8, n_heads=2, max_len=6)
    with pytest.raises(ValueError, match="6 positions"):
        model(torch.zeros(1, 7, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        model(torch.full((1, 3), 5))
    with pytest.raises(TypeError):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="positions"):
        TokenTransformer(5, 3, positions="relative")
    with pytest.raises(ValueError, match="even head width"):
        TokenTransformer(5, 3, d_model=6, n_heads=2, positions="rope")


def test_attention_dropout_defaults_to_dropout_and_can_be_switched_off():
    """attention_dropout=None drops attention weights at `dropout`, 0.0 leaves them whole."""
    assert TransformerBlock(8, 2, 16, dropout=0.3).attention_dropout.p == 0.3
    x = torch.randn(2, 5, 8)
    torch.manual_seed(0)
    whole = TransformerBlock(8, 2, 16, attention_dropout=0.0).train()
    torch.manual_seed(0)
    dropped = TransformerBlock(8, 2, 16, attention_dropout=0.5).train()
    reference = whole.eval()(x)
    assert torch.equal(whole.train()(x), reference)  # no dropout anywhere: train = eval
    torch.manual_seed(1)
    assert not torch.allclose(dropped(x), reference)  # same weights, attention weights dropped
    assert torch.equal(dropped.eval()(x), reference)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((30, 4, 64), {}, ValueError, "d_model = 30 is not divisible by n_heads = 4"),
        ((32, 0, 64), {}, ValueError, "n_heads"),
        ((32, 4, 0), {}, ValueError, "d_ff"),
        ((32.0, 4, 64), {}, TypeError, "d_model"),
        ((32, 4, 64), {"activation": "tanh"}, ValueError, "activation"),
        ((32, 4, 64), {"dropout": 1.0}, ValueError, "dropout"),
        ((32, 4, 64), {"dropout": "0.1"}, TypeError, "dropout"),
        ((32, 4, 64), {"attention_dropout": -0.1}, ValueError, "attention_dropout"),
        ((32, 4, 64), {"causal": 1}, TypeError, "causal"),
        ((32, 4, 64), {"norm_first": None}, TypeError, "norm_first"),
    ],
)
def test_block_bad_construction(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        TransformerBlock(*args, **kwargs)


def test_block_bad_inputs():
    block = TransformerBlock(32, 4, 64)
    with pytest.raises(ValueError, match=r"d_model=32.*\(2, 5, 16\).*width 16, expected 32"):
        block(torch.zeros(2, 5, 16))
    with pytest.raises(ValueError, match="d_model=32"):
        block(torch.zeros(5, 32))
    with pytest.raises(TypeError):
        block(torch.zeros(2, 5, 32, dtype=torch.int64))
    with pytest.raises(TypeError, match="bool"):
        block(torch.zeros(2, 5, 32), torch.ones(5, 5))
    with pytest.raises(ValueError, match="does not broadcast"):
        block(torch.zeros(2, 5, 32), torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bias"):
        block(torch.zeros(2, 5, 32), bias=torch.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="past_kv"):
        block(torch.zeros(2, 5, 32), past_kv=(torch.zeros(2, 4, 3, 8), torch.zeros(2, 4, 2, 8)))


def test_everything_follows_the_input_device_meta():
    # attnbook's attention checks its inputs for NaN, which a meta tensor cannot answer, so the
    # tensors the block and the model make are checked one by one.
    with torch.device("meta"):
        block = TransformerBlock(16, 2, 32, causal=True, rotary=True)
        x = torch.empty(2, 5, 16)
        assert block._mask(None, 2, 5, 5, x.device).device.type == "meta"
        assert block.feed(x).device.type == "meta"
        for positions in POSITIONS:
            model = TokenTransformer(8, 4, d_model=16, n_heads=2, positions=positions, causal=True)
            tokens = torch.zeros(2, 5, dtype=torch.int64)
            assert model.embedding(tokens).device.type == "meta"


def test_tasks():
    g = torch.Generator().manual_seed(0)
    tokens, targets = previous_token_batch(4, 6, 5, g)
    assert bool((targets[:, 0] == IGNORE_INDEX).all())
    assert torch.equal(targets[:, 1:], tokens[:, :-1])
    tokens, targets = neighbour_pair_batch(4, 6, 5, g)
    assert torch.equal(targets[:, 2], tokens[:, 1] * 5 + tokens[:, 3])
    assert bool((targets[:, [0, -1]] == IGNORE_INDEX).all())
    tokens, targets = neighbour_sum_batch(4, 6, 5, g)
    assert torch.equal(targets[:, 2], (tokens[:, 1] + tokens[:, 3]) % 5)
    with pytest.raises(ValueError):
        neighbour_pair_batch(4, 2, 5, g)
    with pytest.raises(ValueError):
        masked_accuracy(torch.zeros(2, 3, 4), torch.full((2, 3), IGNORE_INDEX))


@pytest.mark.parametrize(
    ("build", "activation", "d_ff", "dropout", "attention_dropout"),
    [
        (lambda: SASRec(10, 6, d_model=16, num_heads=2, dropout=0.2), "relu", 16, 0.2, 0.0),
        (lambda: TinyViT(d_model=16, num_heads=2, mlp_dim=40, dropout=0.1), "gelu", 40, 0.1, 0.0),
        (lambda: TinyTransformerClassifier(30, 2, d_model=16), "gelu", 32, 0.0, 0.0),
    ],
    ids=["sasrec", "vit", "tiny_transformer"],
)
def test_the_books_pre_norm_models_share_this_block(
    build, activation, d_ff, dropout, attention_dropout
):
    """SASRec (7c), the ViT (7b) and 9d's classifier are stacks of TransformerBlock, pre-LN;
    chapter 6's DigitRowAttention is one."""
    blocks = build().blocks
    assert len(blocks) == 2
    for block in blocks:
        assert isinstance(block, TransformerBlock) and block.norm_first and not block.causal
        assert (block.activation, block.d_ff) == (activation, d_ff)
        assert (block.dropout.p, block.attention_dropout.p) == (dropout, attention_dropout)
    row_block = DigitRowAttention(d_model=16, mlp_ratio=3).block
    assert isinstance(row_block, TransformerBlock) and (row_block.d_ff, row_block.norm_first) == (
        48,
        True,
    )


@pytest.mark.parametrize("rotary", [False, True])
def test_queries_and_keys_give_the_weights_the_block_uses(rotary: bool):
    """softmax(q kᵀ / √d_head) from queries_and_keys(norm1(x)) is the block's last_weights."""
    torch.manual_seed(0)
    block = TransformerBlock(16, 4, 32, rotary=rotary, n_kv_heads=4).eval()
    x = torch.randn(2, 6, 16)
    block(x)
    q, k = block.queries_and_keys(block.norm1(x))
    assert q.shape == k.shape == (2, 4, 6, 4)
    weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)
    torch.testing.assert_close(weights, block.last_weights)


def test_a_block_scans_its_input_once_and_names_it():
    """Non-finite input is caught at the block's entry as x, not later as q, k or v."""
    x = torch.randn(2, 5, 16)
    x[1, 3, 7] = float("nan")
    with pytest.raises(ValueError, match=r"x contains NaN or inf values \(shape \(2, 5, 16\)\)"):
        TransformerBlock(16, 4, 32)(x)
    bias = torch.zeros(4, 5, 5)
    bias[0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="bias contains NaN or inf"):
        TransformerBlock(16, 4, 32)(torch.randn(2, 5, 16), bias=bias)
