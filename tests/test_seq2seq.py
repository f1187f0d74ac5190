"""Tests for attnbook.models.seq2seq."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.attention import AdditiveScore
from attnbook.data.dates import make_date_splits
from attnbook.models.seq2seq import Seq2Seq, exact_match, train_seq2seq
from attnbook.seeding import manual_seed
from attnbook.train import count_parameters


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    sources = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    return sources, torch.tensor([3, 2]), torch.tensor([[1, 2, 3], [3, 2, 1]])


def test_shapes_and_masked_weights() -> None:
    torch.manual_seed(0)
    model = Seq2Seq(10, 5, 8, 16)
    sources, lengths, targets = _batch()
    logits, weights = model(sources, lengths, targets)
    assert logits.shape == (2, 3, 5) and weights.shape == (2, 3, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3), atol=1e-6)
    assert weights[1, :, 2:].abs().max() == 0 and weights[0, :, 3].abs().max() == 0
    tokens, decode_weights = model.greedy_decode(sources, lengths, steps=4)
    assert tokens.shape == (2, 4) and decode_weights.shape == (2, 4, 4)


def test_scores_equal_additive_score_module() -> None:
    torch.manual_seed(0)
    model = Seq2Seq(10, 5, 8, 16)
    sources, lengths, _ = _batch()
    states, _ = model.encode(sources, lengths)
    hidden = torch.randn(2, 16)
    assert isinstance(model.score, AdditiveScore)
    expected = torch.softmax(
        model.score(hidden[:, None], states)[:, 0].masked_fill(sources == 0, -1e9), -1
    )
    # one decoder step with the cached key projection
    _, _, weights = model._step(
        torch.tensor([5, 5]),
        hidden,
        states,
        states[:, 0],
        sources != 0,
        model.score.key_proj(states),
    )
    assert torch.allclose(weights, expected, atol=1e-6)


def test_padding_does_not_change_the_output() -> None:
    torch.manual_seed(0)
    model = Seq2Seq(10, 5, 8, 16).eval()
    sources, lengths, targets = _batch()
    wider = torch.cat([sources, torch.zeros(2, 3, dtype=torch.int64)], dim=1)
    logits, _ = model(sources, lengths, targets)
    logits_wide, _ = model(wider, lengths, targets)
    assert torch.allclose(logits, logits_wide, atol=1e-5)


def test_without_attention_has_no_scorer() -> None:
    model = Seq2Seq(10, 5, 8, 16, attention=False)
    sources, lengths, targets = _batch()
    _, weights = model(sources, lengths, targets)
    assert model.score is None and weights.abs().max() == 0


def test_attention_learns_dates_quickly() -> None:
    torch.manual_seed(0)
    train, test, source_vocab, target_vocab = make_date_splits(1500, 200, seed=0)
    model = Seq2Seq(len(source_vocab), len(target_vocab), 16, 32)
    losses = train_seq2seq(
        model,
        train.sources,
        train.lengths,
        train.targets,
        epochs=3,
        batch_size=64,
        lr=1e-2,
        progress=False,
    )
    assert losses[-1] < losses[0]
    predictions, _ = model.greedy_decode(test.sources, test.lengths, steps=10)
    per_char = (predictions == test.targets).float().mean().item()
    assert per_char > 0.7


def test_exact_match() -> None:
    a = torch.tensor([[1, 2], [3, 4], [5, 6]])
    b = torch.tensor([[1, 2], [3, 0], [5, 6]])
    assert exact_match(a, b) == pytest.approx(2 / 3)


BAD_INPUTS = [
    (Seq2Seq, (0, 5), ValueError, "source_vocab"),
    (Seq2Seq, (10, 5, 8, 16, 1), TypeError, "attention must be a bool or"),
    (Seq2Seq, (10, 5, 8, 16, "yes"), ValueError, "True, False or 'uniform'"),
    (
        lambda: Seq2Seq(10, 5)(
            torch.zeros(2, 3), torch.tensor([1, 1]), torch.zeros(2, 2, dtype=torch.int64)
        ),
        (),
        TypeError,
        "sources must be an int64",
    ),
    (
        lambda: Seq2Seq(10, 5).encode(torch.ones(2, 3, dtype=torch.int64), torch.tensor([1, 4])),
        (),
        ValueError,
        "lengths must be in [1, 3]",
    ),
    (
        lambda: Seq2Seq(10, 5).encode(torch.ones(2, 3, dtype=torch.int64), torch.tensor([1])),
        (),
        ValueError,
        "(batch, L)",
    ),
    (
        lambda: Seq2Seq(10, 5)(
            torch.ones(2, 3, dtype=torch.int64),
            torch.tensor([1, 1]),
            torch.zeros(3, 2, dtype=torch.int64),
        ),
        (),
        ValueError,
        "targets must be (batch=2, T)",
    ),
    (
        lambda: Seq2Seq(10, 5).greedy_decode(
            torch.ones(1, 3, dtype=torch.int64), torch.tensor([3]), 0
        ),
        (),
        ValueError,
        "steps",
    ),
    (exact_match, (torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, "(N, T)"),
    (exact_match, ([1], [1]), TypeError, "tensors"),
    (
        lambda: train_seq2seq("model", *_batch(), epochs=1),
        (),
        TypeError,
        "Seq2Seq",
    ),
    (
        lambda: train_seq2seq(Seq2Seq(10, 5), *_batch(), epochs=0),
        (),
        ValueError,
        "epochs",
    ),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)


def test_uniform_attention_averages_the_encoder_states() -> None:
    manual_seed(0)
    model = Seq2Seq(10, 5, 8, 16, attention="uniform")
    sources, lengths, targets = _batch()
    _, weights = model(sources, lengths, targets)
    assert model.score is None and model.use_attention and model.uniform_attention
    expected = (sources != 0).float() / lengths[:, None].float()
    assert torch.allclose(weights, expected[:, None].expand_as(weights))
    fixed = Seq2Seq(10, 5, 8, 16, attention=False)
    assert count_parameters(model) == count_parameters(fixed)


def test_on_epoch_end_is_called_once_per_epoch() -> None:
    manual_seed(0)
    model = Seq2Seq(10, 5, 8, 16)
    seen = []
    train_seq2seq(model, *_batch(), epochs=3, progress=False, on_epoch_end=seen.append)
    assert seen == [1, 2, 3]
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        train_seq2seq(model, *_batch(), epochs=1, progress=False, on_epoch_end=3)
    with pytest.raises(ValueError, match="True, False or 'uniform'"):
        Seq2Seq(10, 5, attention="mean")
