"""Tests for attnbook.rl.policy_gradient (REINFORCE) on the TargetPickEnv."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.models.set_policy import AttentionSetPolicy
from attnbook.rl import RLHistory, evaluate_policy, play, reinforce
from attnbook.rl.envs import TargetPickEnv


def test_play_shapes_and_random_return() -> None:
    env = TargetPickEnv(8, 2, seed=0)

    class Uniform(torch.nn.Module):
        def forward(self, items, cue, available):
            return torch.zeros(available.shape).masked_fill(~available, -1e9)

    log_probs, rewards = play(Uniform(), env, 4000)
    assert log_probs.shape == rewards.shape == (4000, 2)
    # a random agent finds n_targets**2 / n_items = 0.5 targets on average
    assert rewards.sum(1).mean().item() == pytest.approx(0.5, abs=0.05)


def test_reinforce_learns_with_attention_policy() -> None:
    torch.manual_seed(0)
    env = TargetPickEnv(6, 1, seed=0)
    policy = AttentionSetPolicy(env.item_dim, env.cue_dim, d_model=16)
    history = reinforce(policy, env, iterations=120, batch_size=64, lr=1e-2, progress=False)
    assert len(history.mean_return) == 120
    assert evaluate_policy(policy, TargetPickEnv(6, 1, seed=5), 500) > 0.9


def test_smoothed() -> None:
    history = RLHistory([0.0, 1.0, 2.0, 3.0])
    assert history.smoothed(2) == pytest.approx([0.0, 0.5, 1.5, 2.5])
    assert RLHistory().smoothed() == []


_ENV = TargetPickEnv(4, 1)
_POL = AttentionSetPolicy(10, 8)

BAD_INPUTS = [
    (reinforce, (object(), _ENV), {"iterations": 1}, TypeError, "policy must be a torch.nn.Module"),
    (reinforce, (_POL, object()), {"iterations": 1}, TypeError, "env must be a TargetPickEnv"),
    (reinforce, (_POL, _ENV), {"iterations": 0}, ValueError, "iterations must be >= 1"),
    (reinforce, (_POL, _ENV), {"iterations": 1, "lr": -1.0}, ValueError, "lr must be"),
    (evaluate_policy, (_POL, _ENV, 0), {}, ValueError, "episodes must be >= 1"),
    (play, (_POL, _ENV, 0), {}, ValueError, "batch_size must be >= 1"),
    (RLHistory().smoothed, (0,), {}, ValueError, "window must be >= 1"),
]


@pytest.mark.parametrize(("func", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args, **kwargs)
