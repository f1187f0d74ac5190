"""Tests for the generators of chapter 2b: induction, lag copy, MQAR, exact lookup and noisy vote."""

from __future__ import annotations

import pytest
import torch

from attnbook.data.focus import make_exact_lookup, make_noisy_vote
from attnbook.data.induction import IGNORE_INDEX, make_induction_batch, make_lag_copy_batch
from attnbook.data.reach import make_first_token_batch
from attnbook.data.recall import make_mqar_batch, mqar_length


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_induction_targets_follow_the_earlier_copy() -> None:
    tokens, targets = make_induction_batch(
        200, 24, 10, min_segment=3, max_segment=6, generator=gen()
    )
    assert tokens.shape == targets.shape == (200, 24)
    assert tokens.dtype == targets.dtype == torch.long
    for row in range(200):
        scored = (targets[row] != IGNORE_INDEX).nonzero().flatten()
        assert 2 <= len(scored) <= 5  # segment length - 1, segment length in [3, 6]
        assert torch.equal(scored, torch.arange(int(scored[0]), int(scored[-1]) + 1))
        s = len(scored) + 1
        b = int(scored[0])
        # the target is the next token, and the segment occurred before
        assert torch.equal(targets[row, scored], tokens[row, scored + 1])
        seg = tokens[row, b : b + s]
        earlier = [a for a in range(0, b - s + 1) if torch.equal(tokens[row, a : a + s], seg)]
        assert earlier, f"row {row}: no earlier copy of the segment"


def test_induction_is_seeded_and_varies_segment_length() -> None:
    a = make_induction_batch(50, 32, 16, generator=gen(3))
    b = make_induction_batch(50, 32, 16, generator=gen(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    lengths = (a[1] != IGNORE_INDEX).sum(dim=1) + 1
    assert len(set(lengths.tolist())) > 3


def test_induction_tokens_are_drawn_with_replacement() -> None:
    tokens, _ = make_induction_batch(100, 32, 32, generator=gen())
    distinct = [len(set(row.tolist())) for row in tokens]
    assert min(distinct) < 32  # repeats happen outside the copied segment too


def test_lag_copy_targets() -> None:
    tokens, targets = make_lag_copy_batch(4, 10, 7, 3, generator=gen())
    assert (targets[:, :3] == IGNORE_INDEX).all()
    assert torch.equal(targets[:, 3:], tokens[:, :7])


def test_first_token_targets() -> None:
    tokens, targets = make_first_token_batch(5, 6, 4, generator=gen())
    assert (targets[:, 0] == IGNORE_INDEX).all()
    assert (targets[:, 1:] == tokens[:, :1]).all()


def test_mqar_layout() -> None:
    tokens, targets = make_mqar_batch(64, 5, 4, 20, generator=gen())
    assert tokens.shape == (64, mqar_length(5, 4)) == (64, 14)
    keys, values, queries = tokens[:, 0:10:2], tokens[:, 1:10:2], tokens[:, 10:]
    assert (keys < 10).all() and (values >= 10).all() and (values < 20).all()
    for row in range(64):
        assert len(set(keys[row].tolist())) == 5
        lookup = dict(zip(keys[row].tolist(), values[row].tolist(), strict=True))
        assert targets[row, 10:].tolist() == [lookup[q] for q in queries[row].tolist()]
    assert (targets[:, :10] == IGNORE_INDEX).all()


def test_exact_lookup_query_is_near_one_key() -> None:
    keys, labels, queries, targets = make_exact_lookup(32, 10, 8, 3, noise=0.0, generator=gen())
    assert keys.shape == (32, 10, 8) and labels.shape == (32, 10) and queries.shape == (32, 8)
    assert torch.allclose(keys.norm(dim=-1), torch.ones(32, 10))
    nearest = (keys @ queries[:, :, None])[..., 0].argmax(dim=1)
    assert torch.equal(labels[torch.arange(32), nearest], targets)


def test_exact_lookup_similarity_sets_key_cosine() -> None:
    keys, *_ = make_exact_lookup(64, 20, 32, 3, similarity=0.8, generator=gen())
    cosine = keys @ keys.transpose(1, 2)
    off_diagonal = cosine[:, ~torch.eye(20, dtype=torch.bool)]
    assert abs(off_diagonal.mean().item() - 0.8) < 0.05


def test_noisy_vote_majority_matches_target() -> None:
    keys, labels, queries, targets = make_noisy_vote(
        64, 40, 8, 3, noise=0.1, flip=0.2, generator=gen()
    )
    assert keys.shape == (64, 40, 8) and targets.shape == (64,)
    assert 0 <= int(labels.min()) and int(labels.max()) < 3
    close = (keys @ queries[:, :, None])[..., 0] > 0.8
    votes = torch.stack([((labels == c) & close).sum(1) for c in range(3)], dim=1)
    assert (votes.argmax(dim=1) == targets).float().mean() > 0.9


BAD_INPUT = [
    (make_induction_batch, (0, 10, 5), ValueError, "batch_size"),
    (make_induction_batch, (2, 10, 5.0), TypeError, "vocab_size"),
    (lambda: make_induction_batch(2, 10, 5, min_segment=1), (), ValueError, "min_segment"),
    (lambda: make_induction_batch(2, 10, 5, max_segment=6), (), ValueError, "do not fit"),
    (lambda: make_induction_batch(2, 20, 5, generator=0), (), TypeError, "generator"),
    (make_lag_copy_batch, (2, 5, 5, 5), ValueError, "lag must be < length"),
    (make_lag_copy_batch, (2, 5, 5, 0), ValueError, "lag"),
    (make_first_token_batch, (2, 1, 5), ValueError, "length must be >= 2"),
    (make_first_token_batch, (2, 4, -1), ValueError, "vocab_size"),
    (make_mqar_batch, (2, 6, 2, 10), ValueError, "distinct keys"),
    (make_mqar_batch, (2, 3, 0, 10), ValueError, "num_queries"),
    (mqar_length, (2, "3"), TypeError, "num_queries"),
    (make_exact_lookup, (2, 3, 4, 1), ValueError, "num_classes"),
    (lambda: make_exact_lookup(2, 3, 4, 2, noise=-1.0), (), ValueError, "noise"),
    (lambda: make_noisy_vote(2, 3, 4, 2, flip=1.0), (), ValueError, "flip"),
    (lambda: make_exact_lookup(2, 3, 4, 2, similarity=1.0), (), ValueError, "similarity"),
    (lambda: make_exact_lookup(2, 3, 4, 2, similarity="a"), (), TypeError, "similarity"),
    (make_noisy_vote, (2, 0, 4, 2), ValueError, "num_items"),
]


@pytest.mark.parametrize(("fn", "args", "error", "fragment"), BAD_INPUT)
def test_bad_input(fn, args, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args)
