"""The Bayes-optimal next-item scores for `attnbook.data.sessions` histories (chapter 7c's ceiling).

The oracle knows everything the generator used except each user's personal cluster weights:
the item clusters, each item's weight within its cluster, the successor rule and its
probability, and which clusters each user likes. It does not know the weights the user gives
those clusters; it averages over them with their posterior given the history (the generator's
Dirichlet prior, times the likelihood of every step, on a grid over the simplex). Its score for
item j is then the exact predictive probability

    P(next = j | history) = f · [j = successor(last)] + (1 - f) · E[p_c(j) | history] · w(j),

which no recommender can beat in expectation: ranking by it maximises the expected hit rate.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from attnbook.checks import require_positive_int
from attnbook.data.sessions import Sessions

__all__ = ["BayesOracle", "simplex_grid"]


def simplex_grid(dimension: int, resolution: int) -> np.ndarray:
    """Interior points (P, dimension) of a regular grid on the probability simplex, rows sum to 1."""
    require_positive_int("dimension", dimension)
    require_positive_int("resolution", resolution)
    if dimension == 1:
        return np.ones((1, 1))
    # compositions of resolution + dimension into positive parts, shifted to cell centres
    total = resolution + dimension
    points = []
    for cuts in itertools.combinations(range(1, total), dimension - 1):
        parts = np.diff((0, *cuts, total))
        points.append(parts)
    grid = np.asarray(points, dtype=np.float64)
    if len(grid) > 500_000:
        raise ValueError(f"{len(grid)} grid points: lower resolution ({resolution})")
    return grid / total


class BayesOracle:
    """Posterior-predictive scores (N, num_items) for histories (N, L) of users 0..N-1 (or `users`)."""

    def __init__(self, sessions: Sessions, resolution: int = 40) -> None:
        if not isinstance(sessions, Sessions):
            raise TypeError(f"sessions must be a Sessions, got {type(sessions).__name__}")
        if sessions.item_weight is None or sessions.follow_prob is None:
            raise ValueError("sessions lacks item_weight/follow_prob: make it with make_sessions")
        self.sessions = sessions
        self.num_items = sessions.num_items
        self.grid = simplex_grid(sessions.user_clusters.shape[1], resolution)  # (P, K)
        concentration = sessions.preference_concentration or 1.0
        self.log_prior = (concentration - 1.0) * np.log(self.grid).sum(axis=1)  # (P,)

    def posterior_mean(self, histories: torch.Tensor, users: torch.Tensor) -> np.ndarray:
        """E[cluster weights | history] (N, K) for left-padded histories (N, L) of users (N,)."""
        data = self.sessions
        follow = data.follow_prob
        items = histories.numpy()
        log_post = np.tile(self.log_prior, (len(items), 1))  # (N, P)
        liked = data.user_clusters[users.numpy()]  # (N, K)
        for t in range(items.shape[1]):
            item = items[:, t]
            present = item >= 0
            if not present.any():
                continue
            safe = np.where(present, item, 0)
            # which of the user's clusters holds the item (K = not liked: only a successor)
            slot = np.argmax(liked == data.item_cluster[safe][:, None], axis=1)
            in_liked = (liked == data.item_cluster[safe][:, None]).any(axis=1)
            fresh = self.grid.T[slot] * data.item_weight[safe][:, None]  # (N, P)
            fresh = np.where(in_liked[:, None], fresh, 0.0)
            previous = items[:, t - 1] if t > 0 else np.full(len(items), -1)
            has_previous = previous >= 0
            is_successor = has_previous & (
                data.successor[np.where(has_previous, previous, 0)] == safe
            )
            fresh_prob = np.where(has_previous, 1.0 - follow, 1.0)[:, None]
            likelihood = fresh_prob * fresh + (follow * is_successor)[:, None]
            step = np.log(np.maximum(likelihood, 1e-300))
            log_post += np.where(present[:, None], step, 0.0)
        log_post -= log_post.max(axis=1, keepdims=True)
        posterior = np.exp(log_post)
        posterior /= posterior.sum(axis=1, keepdims=True)
        return posterior @ self.grid

    def score_next(
        self, histories: torch.Tensor, users: torch.Tensor | None = None
    ) -> torch.Tensor:
        """P(next item | history) (N, num_items) for left-padded histories (N, L) of users (N,)."""
        if not isinstance(histories, torch.Tensor) or histories.dtype != torch.int64:
            raise TypeError("histories must be an int64 tensor (N, L) of item ids")
        if histories.dim() != 2:
            raise ValueError(f"histories must be (N, L), got {tuple(histories.shape)}")
        num_users = len(self.sessions.sequences)
        if users is None:
            users = torch.arange(len(histories), device=histories.device)
        if users.shape != histories.shape[:1]:
            raise ValueError(f"users must be (N,) = ({len(histories)},), got {tuple(users.shape)}")
        if len(users) and (users.min() < 0 or users.max() >= num_users):
            raise ValueError(f"user ids must be in [0, {num_users})")
        if histories.numel() and (histories.min() < -1 or histories.max() >= self.num_items):
            raise ValueError(f"histories must hold item ids in [0, {self.num_items}) or -1")
        last = histories[:, -1]
        if bool((last < 0).any()):
            raise ValueError("every history must end with an item (left padding only)")
        data = self.sessions
        mean = self.posterior_mean(histories, users)  # (N, K)
        liked = data.user_clusters[users.numpy()]  # (N, K)
        # E[p_c] for every item's cluster c (0 for clusters the user does not like)
        cluster_weight = np.zeros((len(histories), data.item_cluster.max() + 1))
        np.put_along_axis(cluster_weight, liked, mean, axis=1)
        scores = (1.0 - data.follow_prob) * cluster_weight[:, data.item_cluster] * data.item_weight
        scores[np.arange(len(histories)), data.successor[last.numpy()]] += data.follow_prob
        return torch.from_numpy(scores)
