"""Generated user histories with latent structure, for next-item recommendation (chapter 7c).

The generator has two hidden mechanisms, so that different recommenders can capture different
parts of it:

* **interests** — items fall into clusters (genres); each user likes a few clusters, and most
  picks are drawn from the user's clusters, within a cluster by a skewed popularity;
* **transitions** — each item has one fixed successor in its cluster (a sequel, an accessory):
  after item i, with probability `follow_prob` the next item is successor(i).

A popularity baseline sees neither mechanism, a first-order Markov model sees the transitions
and the current cluster, and only a model that reads the whole history can infer all the
user's interests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import numpy_rng

__all__ = ["PAD", "Sessions", "leave_last_out", "leave_two_out", "make_sessions", "pad_left"]

PAD = -1
"""The padding value of item-id tensors (item ids are 0 .. n_items-1)."""

PREFERENCE_CONCENTRATION = 2.0
"""Each user's weights over their clusters are drawn from Dirichlet(2, ..., 2)."""


@dataclass(frozen=True)
class Sessions:
    """Histories (one list of item ids per user, oldest first) and the hidden truth behind them."""

    sequences: list[list[int]]
    num_items: int
    item_cluster: np.ndarray  # (n_items,) cluster of each item
    successor: np.ndarray  # (n_items,) the item that follows each item by the transition rule
    user_clusters: np.ndarray  # (n_users, clusters_per_user) clusters each user likes
    item_weight: np.ndarray | None = None  # (n_items,) probability of each item within its cluster
    follow_prob: float | None = None  # probability that the next item is the successor
    preference_concentration: float | None = None  # Dirichlet parameter of users' cluster weights


def _check_session_args(
    num_users: int,
    num_items: int,
    num_clusters: int,
    clusters_per_user: int,
    min_length: int,
    max_length: int,
    follow_prob: float,
    popularity_exponent: float,
    seed: int,
) -> None:
    """Raise TypeError/ValueError naming the first bad argument of make_sessions."""
    for name, value in (
        ("num_users", num_users),
        ("num_items", num_items),
        ("num_clusters", num_clusters),
        ("clusters_per_user", clusters_per_user),
        ("min_length", min_length),
        ("max_length", max_length),
    ):
        require_positive_int(name, value)
    if num_items % num_clusters:
        raise ValueError(
            f"num_items ({num_items}) must be divisible by num_clusters ({num_clusters})"
        )
    if num_items // num_clusters < 2:
        raise ValueError(f"each cluster needs >= 2 items, got {num_items // num_clusters}")
    if clusters_per_user > num_clusters:
        raise ValueError(
            f"clusters_per_user ({clusters_per_user}) exceeds num_clusters ({num_clusters})"
        )
    if min_length < 3 or max_length < min_length:
        raise ValueError(
            f"need 3 <= min_length <= max_length, got min_length={min_length}, "
            f"max_length={max_length}"
        )
    if not 0.0 <= follow_prob <= 1.0:
        raise ValueError(f"follow_prob must be in [0, 1], got {follow_prob}")
    if popularity_exponent < 0:
        raise ValueError(f"popularity_exponent must be >= 0, got {popularity_exponent}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def make_sessions(
    num_users: int = 2000,
    num_items: int = 200,
    num_clusters: int = 10,
    clusters_per_user: int = 3,
    min_length: int = 12,
    max_length: int = 30,
    follow_prob: float = 0.4,
    popularity_exponent: float = 1.0,
    seed: int = 0,
) -> Sessions:
    """Generate num_users histories of item ids in [0, num_items), lengths in [min_length, max_length]."""
    _check_session_args(
        num_users,
        num_items,
        num_clusters,
        clusters_per_user,
        min_length,
        max_length,
        follow_prob,
        popularity_exponent,
        seed,
    )
    rng = numpy_rng(seed)
    size = num_items // num_clusters
    item_cluster = np.repeat(np.arange(num_clusters), size)
    members = [np.arange(c * size, (c + 1) * size) for c in range(num_clusters)]
    # popularity within a cluster: Zipf-like weights, shuffled so item ids carry no order
    zipf = 1.0 / np.arange(1, size + 1) ** popularity_exponent
    within = [rng.permutation(zipf / zipf.sum()) for _ in range(num_clusters)]
    # successor: a random cyclic order of each cluster (no item is its own successor)
    successor = np.empty(num_items, dtype=np.int64)
    for cluster in members:
        order = rng.permutation(cluster)
        successor[order] = np.roll(order, -1)

    user_clusters = np.stack(
        [rng.choice(num_clusters, clusters_per_user, replace=False) for _ in range(num_users)]
    )
    sequences = []
    for user in range(num_users):
        liked = user_clusters[user]
        preference = rng.dirichlet(np.full(clusters_per_user, PREFERENCE_CONCENTRATION))
        length = int(rng.integers(min_length, max_length + 1))

        history: list[int] = []
        while len(history) < length:
            if history and rng.random() < follow_prob:
                history.append(int(successor[history[-1]]))
            else:
                cluster = liked[rng.choice(clusters_per_user, p=preference)]
                history.append(int(rng.choice(members[cluster], p=within[cluster])))
        sequences.append(history)
    item_weight = np.empty(num_items)
    for cluster, items in enumerate(members):
        item_weight[items] = within[cluster]
    return Sessions(
        sequences,
        num_items,
        item_cluster,
        successor,
        user_clusters,
        item_weight=item_weight,
        follow_prob=float(follow_prob),
        preference_concentration=PREFERENCE_CONCENTRATION,
    )


def leave_last_out(sequences: list[list[int]]) -> tuple[list[list[int]], torch.Tensor]:
    """Split each history: all but the last item (for training and as the query) and the last (N,)."""
    if not isinstance(sequences, list) or not sequences:
        raise ValueError("sequences must be a non-empty list of item-id lists")
    for i, seq in enumerate(sequences):
        if len(seq) < 2:
            raise ValueError(f"sequence {i} has {len(seq)} items; leave-last-out needs >= 2")
    return [list(seq[:-1]) for seq in sequences], torch.tensor([seq[-1] for seq in sequences])


def leave_two_out(
    sequences: list[list[int]],
) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
    """Split each history: training items (all but the last two), validation item (N,), test item (N,).

    The validation query is the training part; the test query is the training part plus the
    validation item (as in SASRec's protocol).
    """
    if not isinstance(sequences, list) or not sequences:
        raise ValueError("sequences must be a non-empty list of item-id lists")
    for i, seq in enumerate(sequences):
        if len(seq) < 3:
            raise ValueError(f"sequence {i} has {len(seq)} items; leave-two-out needs >= 3")
    return (
        [list(seq[:-2]) for seq in sequences],
        torch.tensor([seq[-2] for seq in sequences]),
        torch.tensor([seq[-1] for seq in sequences]),
    )


def pad_left(sequences: list[list[int]], length: int) -> torch.Tensor:
    """Keep the last `length` items of each sequence and left-pad with PAD: -> (N, length) int64."""
    require_positive_int("length", length)
    if not isinstance(sequences, list) or not sequences:
        raise ValueError("sequences must be a non-empty list of item-id lists")
    out = torch.full((len(sequences), length), PAD, dtype=torch.int64)
    for i, seq in enumerate(sequences):
        tail = list(seq[-length:])
        if tail:
            out[i, length - len(tail) :] = torch.tensor(tail, dtype=torch.int64)
    return out
