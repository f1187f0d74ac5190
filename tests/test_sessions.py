"""Tests for attnbook.data.sessions."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

from attnbook.data.sessions import PAD, leave_last_out, leave_two_out, make_sessions, pad_left


def test_generator_shapes_and_hidden_structure() -> None:
    data = make_sessions(num_users=50, num_items=40, num_clusters=4, clusters_per_user=2, seed=3)
    assert len(data.sequences) == 50 and data.num_items == 40
    assert all(12 <= len(seq) <= 30 for seq in data.sequences)
    assert all(0 <= item < 40 for seq in data.sequences for item in seq)
    # successors stay in their cluster and are never the item itself
    assert (data.item_cluster[data.successor] == data.item_cluster).all()
    assert (data.successor != np.arange(40)).all()
    # each successor map is a permutation
    assert sorted(data.successor.tolist()) == list(range(40))
    assert data.user_clusters.shape == (50, 2)


def test_generator_is_seeded() -> None:
    a = make_sessions(num_users=20, num_items=20, num_clusters=2, clusters_per_user=1, seed=1)
    b = make_sessions(num_users=20, num_items=20, num_clusters=2, clusters_per_user=1, seed=1)
    c = make_sessions(num_users=20, num_items=20, num_clusters=2, clusters_per_user=1, seed=2)
    assert a.sequences == b.sequences and a.sequences != c.sequences


def test_follow_prob_extremes() -> None:
    always = make_sessions(
        num_users=10, num_items=20, num_clusters=2, clusters_per_user=1, follow_prob=1.0, seed=0
    )
    for seq in always.sequences:
        assert all(b == always.successor[a] for a, b in itertools.pairwise(seq))
    fresh = make_sessions(
        num_users=30, num_items=20, num_clusters=4, clusters_per_user=1, follow_prob=0.0, seed=0
    )
    for user, seq in enumerate(fresh.sequences):
        assert set(fresh.item_cluster[seq]) == {fresh.user_clusters[user, 0]}


def test_leave_last_out_and_pad_left() -> None:
    train, test = leave_last_out([[1, 2, 3], [4, 5]])
    assert train == [[1, 2], [4]] and test.tolist() == [3, 5]
    padded = pad_left([[1, 2], [4], [7, 8, 9, 10]], 3)
    assert padded.tolist() == [[PAD, 1, 2], [PAD, PAD, 4], [8, 9, 10]]
    assert padded.dtype == torch.int64


BAD_INPUTS = [
    (make_sessions, (), {"num_items": 25, "num_clusters": 10}, ValueError, "divisible"),
    (make_sessions, (), {"num_items": 10, "num_clusters": 10}, ValueError, ">= 2 items"),
    (make_sessions, (), {"clusters_per_user": 11}, ValueError, "exceeds num_clusters"),
    (make_sessions, (), {"min_length": 2}, ValueError, "min_length"),
    (make_sessions, (), {"min_length": 10, "max_length": 5}, ValueError, "max_length"),
    (make_sessions, (), {"follow_prob": 1.5}, ValueError, "follow_prob"),
    (make_sessions, (), {"popularity_exponent": -1.0}, ValueError, "popularity_exponent"),
    (make_sessions, (), {"seed": -1}, ValueError, "seed"),
    (make_sessions, (), {"num_users": 0}, ValueError, "num_users"),
    (make_sessions, (), {"num_users": 2.0}, TypeError, "num_users"),
    (leave_last_out, ([],), {}, ValueError, "non-empty"),
    (leave_last_out, ([[1]],), {}, ValueError, "needs >= 2"),
    (pad_left, ([[1]], 0), {}, ValueError, "length"),
    (pad_left, ([], 3), {}, ValueError, "non-empty"),
]


@pytest.mark.parametrize(("func", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args, **kwargs)


def test_leave_two_out_and_the_generator_truth() -> None:
    train, val, test = leave_two_out([[1, 2, 3], [4, 5, 6, 7]])
    assert train == [[1], [4, 5]] and val.tolist() == [2, 6] and test.tolist() == [3, 7]
    data = make_sessions(num_users=10, num_items=40, num_clusters=4, clusters_per_user=2, seed=0)
    assert data.follow_prob == 0.4 and data.preference_concentration == 2.0
    for cluster in range(4):  # item weights are a distribution within each cluster
        assert data.item_weight[data.item_cluster == cluster].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="leave-two-out needs >= 3"):
        leave_two_out([[1, 2]])
