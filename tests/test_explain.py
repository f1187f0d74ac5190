"""Tests for attnbook.explain, attnbook.models.small_transformer and attnbook.data.toy_sentiment."""

from __future__ import annotations

import math
import re

import pytest
import torch

from attnbook.data.toy_sentiment import SentimentVocab, make_toy_sentiment
from attnbook.explain import (
    adversarial_attention,
    attention_rollout,
    gradient_times_input,
    jensen_shannon,
    kendall_tau,
    occlusion_importance,
    permute_attention,
    relevance_auc,
    top_k_mask,
    total_variation,
)
from attnbook.models.small_transformer import AttentionPoolClassifier, TinyTransformerClassifier


def test_rollout_two_layers_by_hand() -> None:
    # layer 1: token 0 looks at token 1 only; token 1 looks at itself
    a1 = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])
    # layer 2: uniform
    a2 = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]])
    # with residual 1/2: Â1 = [[.5, .5], [0, 1]], Â2 = [[.75, .25], [.25, .75]]
    # R = Â2 Â1 = [[.375, .625], [.125, .875]]
    expected = torch.tensor([[[0.375, 0.625], [0.125, 0.875]]])
    torch.testing.assert_close(attention_rollout([a1, a2]), expected)
    # heads are averaged first: two heads whose mean is a1
    heads = torch.stack(
        [torch.tensor([[0.0, 1.0], [0.0, 1.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])]
    )
    torch.testing.assert_close(attention_rollout([heads[None], a2[:, None]]), expected)


def test_rollout_special_cases() -> None:
    weights = torch.softmax(torch.randn(3, 2, 5, 5), -1)
    one = attention_rollout([weights], residual=0.0)
    torch.testing.assert_close(one, weights.mean(1))
    identity = attention_rollout([weights, weights], residual=1.0)
    torch.testing.assert_close(identity, torch.eye(5).expand(3, 5, 5))
    rows = attention_rollout([weights, weights, weights]).sum(-1)
    torch.testing.assert_close(rows, torch.ones(3, 5))


def test_permute_attention_keeps_values_and_padding() -> None:
    weights = torch.tensor([[0.1, 0.2, 0.7, 0.0], [0.5, 0.5, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    out = permute_attention(weights, mask, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 3], torch.zeros(2)) and out[1, 2] == 0
    for row in range(2):
        assert sorted(out[row].tolist()) == sorted(weights[row].tolist())


def test_divergences() -> None:
    p = torch.tensor([1.0, 0.0])
    q = torch.tensor([0.0, 1.0])
    assert total_variation(p, q).item() == pytest.approx(1.0)
    assert jensen_shannon(p, q).item() == pytest.approx(math.log(2))
    assert jensen_shannon(p, p).item() == pytest.approx(0.0)


def test_kendall_tau() -> None:
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert kendall_tau(a, a).item() == pytest.approx(1.0)
    assert kendall_tau(a, -a).item() == pytest.approx(-1.0)
    mask = torch.tensor([[True, True, True, False]])
    b = torch.tensor([[1.0, 3.0, 2.0, -9.0]])
    assert kendall_tau(a, b, mask).item() == pytest.approx(1 / 3)


def test_adversarial_attention_respects_tolerance() -> None:
    torch.manual_seed(0)
    values = torch.tensor([1.0, 1.0, -1.0, 0.0])

    def predict(w: torch.Tensor) -> torch.Tensor:
        logit = (w * values).sum(-1)
        return torch.stack([torch.sigmoid(logit), 1 - torch.sigmoid(logit)], -1)

    weights = torch.tensor([[0.7, 0.1, 0.1, 0.1]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    new = adversarial_attention(predict, weights, mask, tolerance=0.01, steps=200)
    assert total_variation(predict(new), predict(weights)).item() <= 0.01
    assert jensen_shannon(new, weights).item() > 0.05  # the weights moved, the output did not


def test_importance_scores_find_the_only_used_token() -> None:
    weight = torch.zeros(3, 2)
    weight[1] = torch.tensor([2.0, -2.0])

    def forward(e: torch.Tensor) -> torch.Tensor:
        return e[..., 0] @ weight

    embeddings = torch.ones(1, 3, 1)
    grad = gradient_times_input(forward, embeddings, torch.tensor([0]))
    assert grad.argmax().item() == 1

    def predict(tokens: torch.Tensor) -> torch.Tensor:
        return torch.softmax(forward(tokens.float().unsqueeze(-1)), -1)

    drops = occlusion_importance(predict, torch.tensor([[1, 1, 1]]), torch.tensor([0]), 0)
    assert drops.argmax().item() == 1 and drops[0, 0] == 0


def test_toy_sentiment_labels_follow_majority() -> None:
    vocab = SentimentVocab()
    tokens, labels, relevant = make_toy_sentiment(300, 10, seed=1)
    assert tokens.shape == relevant.shape == (300, 10)
    positive = torch.isin(tokens, torch.tensor(list(vocab.positive)))
    negative = torch.isin(tokens, torch.tensor(list(vocab.negative)))
    assert torch.equal(positive | negative, relevant)
    assert torch.equal((positive.sum(1) > negative.sum(1)).long(), labels)
    assert set(relevant.sum(1).tolist()) == {1, 3}


def test_models_shapes_and_attention_override() -> None:
    torch.manual_seed(0)
    tokens, _, _ = make_toy_sentiment(4, 8)
    transformer = TinyTransformerClassifier(30, 2, max_length=8)
    logits, attentions = transformer.forward_with_attention(tokens)
    assert logits.shape == (4, 2) and len(attentions) == 2
    assert attentions[0].shape == (4, 2, 9, 9)
    for contextual in (True, False):
        model = AttentionPoolClassifier(30, 2, contextual=contextual)
        weights = model.weights(tokens)
        torch.testing.assert_close(weights.sum(1), torch.ones(4))
        torch.testing.assert_close(model(tokens), model(tokens, attention=weights))
        assert not torch.allclose(model(tokens), model(tokens, attention=torch.full((4, 8), 0.125)))


def test_top_k_mask_and_relevance_auc_by_hand() -> None:
    score = torch.tensor([[0.1, 0.7, 0.2, 0.7], [4.0, 3.0, 2.0, 1.0]])
    assert top_k_mask(score[1:], 2).tolist() == [[True, True, False, False]]
    assert top_k_mask(score, 1).sum(1).tolist() == [1, 1]
    relevant = torch.tensor([[False, True, True, False], [True, False, False, True]])
    # row 0: 0.7 beats 0.1, ties 0.7 (½); 0.2 beats 0.1, loses to 0.7 -> (1 + ½ + 1 + 0) / 4
    # row 1: 4.0 beats 3.0 and 2.0; 1.0 beats neither -> 2 / 4
    torch.testing.assert_close(relevance_auc(score, relevant), torch.tensor([0.625, 0.5]))
    perfect = relevance_auc(relevant.float(), relevant)
    torch.testing.assert_close(perfect, torch.ones(2))


def test_uniform_pool_classifier_ignores_its_scorer() -> None:
    model = AttentionPoolClassifier(30, 2, contextual=False, uniform=True)
    tokens = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    weights = model.weights(tokens)
    torch.testing.assert_close(weights, torch.tensor([[1 / 3] * 3 + [0.0], [0.25] * 4]))
    torch.testing.assert_close(model(tokens), model(tokens, attention=weights))


_W = torch.full((2, 3), 1 / 3)
_M = torch.ones(2, 3, dtype=torch.bool)
_POOL = AttentionPoolClassifier(30, 2)

BAD_INPUTS = [
    (attention_rollout, ([],), ValueError, "at least one layer"),
    (attention_rollout, (torch.ones(2, 3, 3),), TypeError, "list of tensors"),
    (attention_rollout, ([torch.ones(2, 3, 4)],), ValueError, "(B, heads, n, n) or (B, n, n)"),
    (
        attention_rollout,
        ([torch.ones(2, 3, 3), torch.ones(2, 4, 4)],),
        ValueError,
        "share one shape",
    ),
    (attention_rollout, ([torch.ones(1, 2, 2)], 1.5), ValueError, "residual must lie in [0, 1]"),
    (attention_rollout, ([torch.ones(1, 2, 2, dtype=torch.long)],), TypeError, "floating-point"),
    (permute_attention, (_W, _M.float()), TypeError, "mask must be a bool"),
    (permute_attention, (_W, _M[:, :2]), ValueError, "mask (2, 2) must have the shape"),
    (permute_attention, (_W[0], _M[0]), ValueError, "weights must have shape (B, L)"),
    (total_variation, (_W, _W[:1]), ValueError, "same shape"),
    (jensen_shannon, (_W, _W.long()), TypeError, "q must be a floating-point"),
    (kendall_tau, (_W, _W[:, :2]), ValueError, "share one shape"),
    (kendall_tau, (_W, _W, _M[:, :1]), ValueError, "mask must be a bool tensor"),
    (kendall_tau, (_W, _W, _M & False), ValueError, "at least two valid"),
    (adversarial_attention, (None, _W, _M), TypeError, "predict must be callable"),
    (adversarial_attention, (lambda w: w, _W, _M, 0.0), TypeError, "positional"),
    (
        gradient_times_input,
        (lambda e: e, torch.ones(2, 3), torch.zeros(2).long()),
        ValueError,
        "(B, L, d)",
    ),
    (gradient_times_input, (lambda e: e, torch.ones(2, 3, 1), torch.zeros(2)), TypeError, "int64"),
    (
        gradient_times_input,
        (lambda e: e, torch.ones(2, 3, 1), torch.zeros(3).long()),
        ValueError,
        "shape (2,)",
    ),
    (
        occlusion_importance,
        (lambda t: t, torch.ones(2, 3), torch.zeros(2).long(), 0),
        TypeError,
        "2-D int64",
    ),
    (
        occlusion_importance,
        (lambda t: t, torch.ones(2, 3).long(), torch.zeros(2).long(), -1),
        ValueError,
        "replacement",
    ),
    (make_toy_sentiment, (0,), ValueError, "n must be >= 1"),
    (make_toy_sentiment, (5, 2), ValueError, "length must be >= 3"),
    (SentimentVocab, (0,), ValueError, "n_neutral must be >= 1"),
    (_POOL, (torch.ones(2, 3),), TypeError, "2-D int64"),
    (_POOL, (torch.full((2, 3), 99),), ValueError, "token ids must lie in 0..29"),
    (
        _POOL,
        (torch.ones(2, 3).long(), torch.ones(2, 4)),
        ValueError,
        "attention must have the tokens' shape",
    ),
    (AttentionPoolClassifier, (30, 2), TypeError, "contextual must be a bool"),
    (lambda: AttentionPoolClassifier(30, 2, uniform=1), (), TypeError, "uniform must be a bool"),
    (top_k_mask, (_W, 4), ValueError, "k must be at most L = 3"),
    (top_k_mask, (_W, 0), ValueError, "k must be >= 1"),
    (top_k_mask, (_W[0], 1), ValueError, "score must have shape (B, L)"),
    (top_k_mask, (_W.long(), 1), TypeError, "floating-point"),
    (relevance_auc, (_W, _M), ValueError, "at least one True and one False"),
    (relevance_auc, (_W, _M.float()), TypeError, "mask must be a bool tensor"),
    (relevance_auc, (_W, _M[:, :2]), ValueError, "must have the shape of weights"),
    (TinyTransformerClassifier, (30, 0), ValueError, "n_classes must be >= 1"),
    (
        TinyTransformerClassifier(30, 2, max_length=4),
        (torch.ones(1, 5).long(),),
        ValueError,
        "1..4 positions",
    ),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    if func is AttentionPoolClassifier and error is TypeError:
        with pytest.raises(error, match=re.escape(fragment)):
            func(*args, contextual=1)
        return
    if func is adversarial_attention and fragment == "positional":
        with pytest.raises(ValueError, match="tolerance must be a finite number > 0"):
            func(*args[:3], tolerance=0.0)
        return
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)
