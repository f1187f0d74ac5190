"""A small reinforcement-learning environment whose observation is a *set*: pick the targets.

Every episode shows ``n_items`` objects, each a feature vector (one-hot colour, one-hot shape and
a few noise features), and a cue naming one colour and one shape. Exactly ``n_targets`` objects
match the cue in both; the others are distractors, about half of which share one attribute with
the cue. The agent picks one object per step, ``n_targets`` steps in all; a picked object is
removed from the choice. Reward: +1 for a target, 0 for a distractor, so the return counts the
targets found (0..n_targets). A uniformly random agent finds n_targets²/n_items on average.

The environment is batched: ``reset(batch)`` starts ``batch`` independent episodes and
``step(actions)`` advances them all, so a whole batch of episodes costs a few tensor operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import torch_generator

__all__ = ["Observation", "TargetPickEnv"]


@dataclass
class Observation:
    """items (B, N, F) float, cue (B, C) float, available (B, N) bool (True = may be picked)."""

    items: torch.Tensor
    cue: torch.Tensor
    available: torch.Tensor


class TargetPickEnv:
    """Pick the objects that match a cue from a set of objects; batched, seeded, episodic."""

    def __init__(
        self,
        n_items: int = 8,
        n_targets: int = 2,
        *,
        n_colors: int = 4,
        n_shapes: int = 4,
        noise_dims: int = 2,
        seed: int = 0,
    ) -> None:
        for name, value in (
            ("n_items", n_items),
            ("n_targets", n_targets),
            ("n_colors", n_colors),
            ("n_shapes", n_shapes),
        ):
            require_positive_int(name, value)
        if isinstance(noise_dims, bool) or not isinstance(noise_dims, int) or noise_dims < 0:
            raise ValueError(f"noise_dims must be an int >= 0, got {noise_dims!r}")
        if n_targets >= n_items:
            raise ValueError(f"n_targets ({n_targets}) must be smaller than n_items ({n_items})")
        if n_colors < 2 or n_shapes < 2:
            raise ValueError(f"need >= 2 colours and shapes, got {n_colors} and {n_shapes}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.n_items, self.n_targets = n_items, n_targets
        self.n_colors, self.n_shapes, self.noise_dims = n_colors, n_shapes, noise_dims
        self.generator = torch_generator(seed)
        self._targets: torch.Tensor | None = None
        self._obs: Observation | None = None
        self._steps = 0

    @property
    def item_dim(self) -> int:
        """Length F of one object's feature vector."""
        return self.n_colors + self.n_shapes + self.noise_dims

    @property
    def cue_dim(self) -> int:
        """Length C of the cue vector."""
        return self.n_colors + self.n_shapes

    def _other(self, value: torch.Tensor, n: int) -> torch.Tensor:
        """A uniformly random value in 0..n-1 different from `value` (same shape)."""
        shift = torch.randint(1, n, value.shape, generator=self.generator)
        return (value + shift) % n

    def reset(self, batch_size: int) -> Observation:
        """Start batch_size episodes; return the first observation (items (B, N, F), cue, available)."""
        batch = require_positive_int("batch_size", batch_size)
        n, gen = self.n_items, self.generator
        cue_color = torch.randint(self.n_colors, (batch, 1), generator=gen)
        cue_shape = torch.randint(self.n_shapes, (batch, 1), generator=gen)
        color = cue_color.expand(batch, n).clone()
        shape = cue_shape.expand(batch, n).clone()
        kind = torch.randint(
            3, (batch, n), generator=gen
        )  # 0: other colour, 1: other shape, 2: both
        color = torch.where(kind != 1, self._other(color, self.n_colors), color)
        shape = torch.where(kind != 0, self._other(shape, self.n_shapes), shape)
        order = torch.rand(batch, n, generator=gen).argsort(dim=1)
        targets = order < self.n_targets
        color = torch.where(targets, cue_color, color)
        shape = torch.where(targets, cue_shape, shape)
        noise = torch.randn(batch, n, self.noise_dims, generator=gen)
        items = torch.cat(
            [
                _one_hot(color, self.n_colors),
                _one_hot(shape, self.n_shapes),
                noise,
            ],
            dim=-1,
        )
        cue = torch.cat(
            [_one_hot(cue_color[:, 0], self.n_colors), _one_hot(cue_shape[:, 0], self.n_shapes)],
            dim=-1,
        )
        self._targets = targets
        self._obs = Observation(items, cue, torch.ones(batch, n, dtype=torch.bool))
        self._steps = 0
        return self._obs

    @property
    def targets(self) -> torch.Tensor:
        """Which objects are targets in the current episodes: (B, N) bool."""
        if self._targets is None:
            raise RuntimeError("call reset() before reading targets")
        return self._targets

    def step(self, actions: torch.Tensor) -> tuple[Observation, torch.Tensor, bool]:
        """Pick object actions (B,) int64 in each episode: next observation, rewards (B,), done."""
        if self._obs is None or self._targets is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.n_targets:
            raise RuntimeError("the episodes are over: call reset()")
        batch = self._targets.shape[0]
        if not isinstance(actions, torch.Tensor) or actions.dtype != torch.int64:
            raise TypeError("actions must be an int64 tensor (B,)")
        if actions.shape != (batch,):
            raise ValueError(f"actions must have shape ({batch},), got {tuple(actions.shape)}")
        if bool((actions < 0).any()) or bool((actions >= self.n_items).any()):
            raise ValueError(f"actions must lie in 0..{self.n_items - 1}")
        rows = torch.arange(batch)
        if not bool(self._obs.available[rows, actions].all()):
            raise ValueError("an action picks an object that was already picked")
        rewards = self._targets[rows, actions].float()
        available = self._obs.available.clone()
        available[rows, actions] = False
        self._obs = Observation(self._obs.items, self._obs.cue, available)
        self._steps += 1
        return self._obs, rewards, self._steps >= self.n_targets


def _one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    """Float one-hot encoding (..., n) of integer indices (...)."""
    return torch.nn.functional.one_hot(index, n).float()
