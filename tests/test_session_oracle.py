"""Tests for attnbook.models.session_oracle."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from attnbook.data.sessions import make_sessions, pad_left
from attnbook.models.session_oracle import BayesOracle, simplex_grid


def test_simplex_grid_is_interior_and_normalised() -> None:
    grid = simplex_grid(3, 10)
    assert grid.shape == (66, 3)  # C(12, 2) compositions
    assert np.allclose(grid.sum(axis=1), 1) and (grid > 0).all()
    assert simplex_grid(1, 5).tolist() == [[1.0]]


def test_scores_are_the_predictive_distribution() -> None:
    data = make_sessions(num_users=30, num_items=40, num_clusters=4, clusters_per_user=2, seed=1)
    oracle = BayesOracle(data, resolution=30)
    histories = pad_left([seq[:-1] for seq in data.sequences], 30)
    scores = oracle.score_next(histories)
    assert scores.shape == (30, 40)
    assert torch.allclose(scores.sum(dim=1), torch.ones(30, dtype=torch.float64))
    # the successor of the last item gets at least the follow probability
    successor = torch.as_tensor(data.successor)[histories[:, -1]]
    assert (scores.gather(1, successor[:, None]) >= data.follow_prob - 1e-12).all()
    # items of clusters the user does not like score 0 (unless they are the successor)
    for user in range(30):
        disliked = ~np.isin(data.item_cluster, data.user_clusters[user])
        disliked[data.successor[histories[user, -1]]] = False
        assert scores[user, torch.as_tensor(disliked)].abs().max() == 0


def test_posterior_mean_matches_brute_force_for_one_cluster_pair() -> None:
    # with two liked clusters and no successor steps, the posterior is a Beta: a closed form
    data = make_sessions(
        num_users=5, num_items=20, num_clusters=2, clusters_per_user=2, follow_prob=0.0, seed=2
    )
    oracle = BayesOracle(data, resolution=400)
    histories = pad_left(data.sequences, 30)
    mean = oracle.posterior_mean(histories, torch.arange(5))
    for user, seq in enumerate(data.sequences):
        first = data.user_clusters[user, 0]
        count = sum(data.item_cluster[item] == first for item in seq)
        alpha, beta = 2.0 + count, 2.0 + len(seq) - count
        assert mean[user, 0] == pytest.approx(alpha / (alpha + beta), abs=2e-3)


def test_one_liked_cluster_gives_the_generator_probabilities() -> None:
    data = make_sessions(num_users=20, num_items=20, num_clusters=2, clusters_per_user=1, seed=0)
    oracle = BayesOracle(data)
    histories = pad_left([seq[:-1] for seq in data.sequences], 30)
    scores = oracle.score_next(histories)
    # with one liked cluster the posterior is trivial: scores follow item weights and successor
    for user in range(20):
        last = int(histories[user, -1])
        expected = (
            (1 - data.follow_prob)
            * data.item_weight
            * (data.item_cluster == data.user_clusters[user, 0])
        )
        expected[data.successor[last]] += data.follow_prob
        assert np.allclose(scores[user].numpy(), expected)


def _small():
    return make_sessions(num_users=3, num_items=20, num_clusters=2, clusters_per_user=1)


BAD_INPUTS = [
    (simplex_grid, (0, 3), ValueError, "dimension"),
    (simplex_grid, (3, 0), ValueError, "resolution"),
    (BayesOracle, ("sessions",), TypeError, "Sessions"),
    (
        lambda: BayesOracle(_small()).score_next(torch.zeros(3, 4)),
        (),
        TypeError,
        "int64",
    ),
    (
        lambda: BayesOracle(_small()).score_next(torch.tensor([[1, -1]])),
        (),
        ValueError,
        "end with an item",
    ),
    (
        lambda: BayesOracle(_small()).score_next(torch.tensor([[1, 2]]), torch.tensor([5])),
        (),
        ValueError,
        "user ids",
    ),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)
